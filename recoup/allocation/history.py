"""Allocation lines in a case's history: who got the case, when, by which run and why."""

from __future__ import annotations

from django.utils.translation import gettext as _

from recoup.allocation.messages import reason_label
from recoup.allocation.models import AllocationLine, AllocationRun
from recoup.cases.history import HistoryItem
from recoup.cases.models import Case


def _name(user: object) -> str:
    return str(getattr(user, "display_name", "") or getattr(user, "username", "")) or "—"


def allocation_history(case: Case) -> list[HistoryItem]:
    lines = (
        AllocationLine.objects.filter(case_id=case.pk, run__status=AllocationRun.Status.COMMITTED)
        .select_related("run", "run__committed_by", "collector", "previous_assignee")
        .order_by("-run__committed_at")[:50]
    )
    items = []
    for line in lines:
        run = line.run
        if line.collector_id is None and line.reason not in ("recalled", "returned"):
            continue  # the run left this case where it was
        target = _name(line.collector) if line.collector_id else _("待分配")
        label = _("%(kind)s #%(run)s：%(before)s → %(after)s（%(reason)s%(rule)s）") % {
            "kind": run.get_kind_display(),
            "run": run.pk,
            "before": _name(line.previous_assignee) if line.previous_assignee_id else "—",
            "after": target if line.reason != "returned" else _("委托方"),
            "reason": reason_label(line.reason, line.params),
            "rule": f" · {line.rule_name}" if line.rule_name else "",
        }
        assert run.committed_at is not None
        items.append(
            HistoryItem(
                occurred_at=run.committed_at,
                actor_label=_name(run.committed_by),
                label=label,
                action=f"allocation.run.{run.kind}",
            )
        )
    return items
