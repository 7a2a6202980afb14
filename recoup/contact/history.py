"""Contact attempts and refused contacts as lines of the case history (the case timeline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recoup.cases.history import HistoryItem
from recoup.contact.models import ContactAttempt, ContactDecision
from recoup.contact.rules import reason

if TYPE_CHECKING:
    from recoup.cases.models import Case

LIMIT = 200

ACTION_LABELS = {
    "contact.attempt.recorded": gettext_lazy("记录联系结果"),
    "contact.promise.paid": gettext_lazy("承诺还款收到还款"),
    "contact.promise.broken": gettext_lazy("承诺还款违约"),
    "contact.repair.recorded": gettext_lazy("信息修复"),
    "contact.lost_contact.marked": gettext_lazy("标记失联"),
    "contact.lost_contact.cleared": gettext_lazy("已取消失联标记"),
    "contact.recording.uploaded": gettext_lazy("上传录音"),
    "contact.recording.played": gettext_lazy("播放录音"),
    "contact.recording.purged": gettext_lazy("录音到期清除"),
}


def contact_history(case: Case) -> list[HistoryItem]:
    items: list[HistoryItem] = []
    attempts = (
        ContactAttempt.objects.filter(case_id=case.pk)
        .select_related("actor")
        .order_by("-started_at")[:LIMIT]
    )
    for attempt in attempts:
        label = _("%(channel)s：%(result)s") % {
            "channel": attempt.get_channel_display(),
            "result": attempt.get_result_display(),
        }
        items.append(
            HistoryItem(
                occurred_at=attempt.started_at,
                actor_label=str(attempt.actor),
                label=label,
                action="contact.attempt.recorded",
            )
        )
    refused = (
        ContactDecision.objects.filter(case_id=case.pk, allowed=False)
        .select_related("actor")
        .order_by("-at")[:LIMIT]
    )
    for decision in refused:
        reasons = _("；").join(reason(r["code"], r.get("params")) for r in decision.rules)
        items.append(
            HistoryItem(
                occurred_at=decision.at,
                actor_label=str(decision.actor),
                label=_("联系被合规拦截（%(channel)s）：%(reasons)s")
                % {"channel": decision.get_channel_display(), "reasons": reasons},
                action="contact.decision.refused",
            )
        )
    return items
