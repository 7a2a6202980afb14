"""The case period (委案周期): return at period end (退案), or extend with approval (留案/延期).

A case's period ends on ``Case.period_ends_on`` (placement day + the contract's
``case_period_days``; one month by default, reviewed weekly). At the end the supervisor
returns it to the client — it leaves every collector's view but stays for the retention
period — with an export of the returned cases, or keeps it: an extension with a reason and
a next-step plan, requested by the collector or the supervisor, effective once a supervisor
(not the requester) approves it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook

from recoup.accounts.models import User
from recoup.accounts.roles import ALLOCATE, WORK
from recoup.allocation.models import AllocationRun, PeriodExtension
from recoup.allocation.services import (
    OPEN_STATUSES,
    can_allocate,
    chosen_cases,
    commit_unassigning_run,
    require_allocator,
)
from recoup.audit.services import audit_record
from recoup.cases.models import Case
from recoup.cases.permissions import cases_user_can, user_can
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.intake.models import ColumnMapping, FileKind
from recoup.intake.normalise import export_cell
from recoup.workdays.calendar import local_date

MAX_EXTENSION_DAYS = 90
REVIEW_WINDOW_DAYS = 7  # the weekly checkpoint: cases whose period ends within a week


def period_ending(user: User, *, within_days: int = REVIEW_WINDOW_DAYS) -> Any:
    """Open cases in the user's allocation scope whose period ends within ``within_days``."""
    until = local_date(now()) + timedelta(days=within_days)
    return (
        cases_user_can(user, ALLOCATE)
        .filter(status__in=OPEN_STATUSES, period_ends_on__lte=until)
        .select_related("contract", "contract__client", "assignee")
        .order_by("period_ends_on", "id")
    )


def extensions_pending(user: User) -> Any:
    if not can_allocate(user):
        return PeriodExtension.objects.none()
    scope = cases_user_can(user, ALLOCATE).values("pk")
    return (
        PeriodExtension.objects.filter(status=PeriodExtension.Status.PENDING, case__in=scope)
        .select_related("case", "requested_by")
        .order_by("created_at")
    )


@transaction.atomic
def extension_request(
    *, case: Case, actor: User, days: int, reason: str, plan: str
) -> PeriodExtension:
    """Ask to keep a case past its period: the collector holding it, or an allocator."""
    if not (user_can(actor, WORK, case) or user_can(actor, ALLOCATE, case)):
        raise PermissionDenied(_("无权为该案件申请延期。"))
    if case.status not in OPEN_STATUSES:
        raise RecoupError(_("案件已结束，不能延期。"))
    reason, plan = reason.strip(), plan.strip()
    if not reason:
        raise RecoupError(_("请填写延期原因。"))
    if not plan:
        raise RecoupError(_("请填写下一步计划。"))
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise RecoupError(_("延期天数必须在 1 到 %(max)s 天之间。") % {"max": MAX_EXTENSION_DAYS})
    if PeriodExtension.objects.filter(case=case, status=PeriodExtension.Status.PENDING).exists():
        raise RecoupError(_("该案件已有待审批的延期申请。"))
    assert actor.organisation_id is not None
    extension = PeriodExtension.objects.create(
        organisation_id=actor.organisation_id,
        case=case,
        days=days,
        reason=reason[:500],
        plan=plan,
        requested_by=actor,
        period_before=case.period_ends_on,
    )
    audit_record(
        action="allocation.extension.requested",
        actor=actor,
        organisation=actor.organisation_id,
        object_type="case",
        object_id=case.pk,
        data={"extension": extension.pk, "days": days, "reason": reason},
    )
    return extension


@transaction.atomic
def extension_decide(
    *, extension: PeriodExtension, actor: User, approve: bool, note: str = ""
) -> PeriodExtension:
    """A supervisor approves (the period moves) or rejects; never the requester."""
    require_allocator(actor)
    case = Case.objects.select_for_update().get(pk=extension.case_id)
    if not user_can(actor, ALLOCATE, case):
        raise PermissionDenied(_("无权审批该案件的延期。"))
    if extension.requested_by_id == actor.pk:
        raise PermissionDenied(_("不能审批自己提出的延期申请。"))
    if not approve and not note.strip():
        raise RecoupError(_("驳回时请填写审批意见。"))
    at = now()
    fields: dict[str, Any] = {
        "status": PeriodExtension.Status.APPROVED if approve else PeriodExtension.Status.REJECTED,
        "decided_by": actor,
        "decided_at": at,
        "decision_note": note.strip()[:500],
        "updated_at": at,
    }
    if approve:
        start = max(case.period_ends_on or local_date(at), local_date(at))
        fields["period_after"] = start + timedelta(days=extension.days)
    updated = PeriodExtension.objects.filter(
        pk=extension.pk, status=PeriodExtension.Status.PENDING
    ).update(**fields)
    if not updated:
        raise RecoupError(_("该申请已处理。"))
    if approve:
        Case.objects.filter(pk=case.pk).update(period_ends_on=fields["period_after"], updated_at=at)
    audit_record(
        action="allocation.extension.approved" if approve else "allocation.extension.rejected",
        actor=actor,
        organisation=case.organisation_id,
        object_type="case",
        object_id=case.pk,
        data={
            "extension": extension.pk,
            "days": extension.days,
            "period_after": fields.get("period_after"),
            "note": note.strip(),
        },
    )
    extension.refresh_from_db()
    return extension


def cases_return(*, actor: User, case_ids: Sequence[int], note: str = "") -> AllocationRun:
    """Return cases to the client (退案) in one committed run: they leave the collectors'
    views (no assignee), keep their history, and stay until the retention period ends."""
    require_allocator(actor)
    if not case_ids:
        raise RecoupError(_("请选择要退案的案件。"))
    ids, candidates = chosen_cases(actor, case_ids)
    pending = set(
        PeriodExtension.objects.filter(
            case_id__in=ids, status=PeriodExtension.Status.PENDING
        ).values_list("case_id", flat=True)
    )
    rows = []
    for cid, status in candidates.select("id", "status").iter_rows():
        if status not in OPEN_STATUSES:
            rows.append((cid, None, "case_closed", {"status": status}))
        elif cid in pending:
            rows.append((cid, None, "extension_pending", {}))
        else:
            rows.append((cid, None, "returned", {}))
    if not any(r[2] == "returned" for r in rows):
        raise RecoupError(_("所选案件都不能退案（已结束或有待审批的延期）。"))
    return commit_unassigning_run(
        actor=actor,
        kind=AllocationRun.Kind.RETURN,
        candidates=candidates,
        rows=rows,
        parameters={"case_ids": ids, "note": note},
        note=note,
    )


def return_workbook(run: AllocationRun) -> bytes:
    """The returned cases for the client: case numbers, amounts, stage and dates, headed with
    the client's own column names where its saved new-case mapping has them."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("退案清单"))
    theirs = _client_headers(run)
    # The headers are the bank's own and the case numbers came from its files: text cells
    # are neutralised, so neither can become a live formula in the client's Excel.
    ws.append(
        [
            export_cell(str(header))
            for header in (
                theirs.get("client_case_number", _("委托方案件号")),
                theirs.get("product", _("产品")),
                _("委案金额"),
                theirs.get("total_owed", _("欠款总额")),
                theirs.get("overdue_days", _("逾期天数")),
                theirs.get("stage", _("逾期阶段")),
                _("委案时间"),
                _("退案时间"),
            )
        ]
    )
    returned = Case.objects.filter(
        pk__in=run.lines.filter(reason="returned").values("case_id")
    ).order_by("client_case_number", "id")  # the whole list in case-number order
    for case in returned.only(
        "client_case_number",
        "product",
        "entrusted_amount",
        "total_owed",
        "overdue_days",
        "stage",
        "placed_at",
        "closed_at",
    ).iterator(chunk_size=2000):
        ws.append(
            [
                export_cell(case.client_case_number),
                export_cell(str(case.get_product_display())),
                case.entrusted_amount,
                case.total_owed,
                case.overdue_days,
                case.stage,
                local_date(case.placed_at).isoformat(),
                local_date(case.closed_at).isoformat() if case.closed_at else "",
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _client_headers(run: AllocationRun) -> dict[str, str]:
    """Recoup field → the client's own column name, from the client's saved new-case mapping
    (when the returned cases all belong to one client that has one)."""
    clients = set(
        Case.objects.filter(pk__in=run.lines.values("case_id")).values_list("client_id", flat=True)
    )
    if len(clients) != 1:
        return {}
    mapping = (
        ColumnMapping.objects.filter(client_id=clients.pop(), kind=FileKind.CASES)
        .order_by("-updated_at")
        .first()
    )
    if mapping is None:
        return {}
    return {field: header for header, field in mapping.columns.items()}
