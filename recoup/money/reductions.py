"""Reductions (减免): requested with evidence, approved within the client's authority matrix
(or by the client above it), effective only once the agreed remainder is paid.

- ``authority_set`` / ``authority_remove``: the client's matrix (HQ or system administrators);
- ``reduction_request``: the collector working the case, with the debtor's hardship evidence;
- ``reduction_approve`` / ``reduction_reject``: a supervisor, not the requester; above the
  matrix (or where no row applies) the reduction then waits for the client;
- ``reduction_client_approve``: the bank liaison records the client's approval and evidence;
- ``reductions_evaluate`` (after every posting): an approved reduction whose remainder has been
  paid since the request waives what is left by a ledger entry; the case closes as 已和解;
- ``reductions_lapse`` (daily): unpaid past the pay-by date, the reduction lapses.

The seed's prohibitions are guarded here: nothing is waived without approval, and the
balance moves only when the money has actually reached the client (no promise of a waiver
stands in for a payment; no private collection: payments come only from the client's files or
receipts through its official channels).
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.accounts.roles import PAYMENTS, TRANSITION, WORK
from recoup.audit.services import audit_record
from recoup.cases import ledger
from recoup.cases.models import Case, LedgerEntry
from recoup.cases.permissions import user_can
from recoup.clients.locks import lock_contract_money
from recoup.clients.models import Client
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.core.money import CENT, to_money
from recoup.money.models import Payment, Reduction, WaiverAuthority

if TYPE_CHECKING:
    from recoup.accounts.models import User

APPROVER_ROLES = frozenset({"supervisor", "branch_manager", "hq"})
MATRIX_KEEPERS = frozenset({"hq", "system_admin"})
MAX_PAY_BY_DAYS = 180
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024


def _audit(action: str, actor: User | None, red: Reduction, **data: Any) -> None:
    audit_record(
        action=f"money.reduction.{action}",
        actor=actor,
        organisation=red.organisation_id,
        case_id=red.case_id,
        object_type="reduction",
        object_id=red.pk,
        data=data,
    )


def _store(name: str, stream: IO[bytes], field: str) -> tuple[ContentFile[bytes], str]:
    base = name.rsplit("/", 1)[-1][:120]
    suffix = ("." + base.rsplit(".", 1)[-1].lower()) if "." in base else ""
    if suffix not in {".pdf", ".jpg", ".jpeg", ".png"}:
        raise ValidationError(_("凭证须为 PDF、JPG 或 PNG 文件。"), field=field)
    data = stream.read(MAX_EVIDENCE_BYTES + 1)
    if not data:
        raise ValidationError(_("凭证文件是空的。"), field=field)
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ValidationError(_("凭证文件不能超过 10 MB。"), field=field)
    return ContentFile(data, name=base), hashlib.sha256(data).hexdigest()


# --- the authority matrix ----------------------------------------------------------------


def authority_set(
    *,
    actor: User,
    client: Client,
    stage: str,
    min_balance: Decimal,
    max_balance: Decimal | None,
    max_pct: Decimal,
) -> WaiverAuthority:
    if not actor.role_codes & MATRIX_KEEPERS or actor.organisation_id != client.organisation_id:
        raise PermissionDenied(_("只有总公司或系统管理员可以维护减免授权。"))
    if stage and stage not in Case.Stage.values:
        raise ValidationError(_("未知的逾期阶段。"), field="stage")
    if not Decimal(0) < max_pct <= Decimal(100):
        raise ValidationError(_("减免比例须在 0 到 100 之间。"), field="max_pct")
    if min_balance < 0 or (max_balance is not None and max_balance <= min_balance):
        raise ValidationError(_("余额区间不正确：上限须大于下限。"), field="max_balance")
    row = WaiverAuthority.objects.create(
        organisation_id=client.organisation_id,
        client=client,
        stage=stage,
        min_balance=to_money(min_balance),
        max_balance=to_money(max_balance) if max_balance is not None else None,
        max_pct=max_pct.quantize(CENT),
        created_by=actor,
        created_at=now(),
    )
    audit_record(
        action="money.authority.set",
        actor=actor,
        organisation=client.organisation_id,
        object_type="waiver_authority",
        object_id=row.pk,
        data={
            "client": client.code,
            "stage": stage,
            "min": str(row.min_balance),
            "max": str(row.max_balance),
            "pct": str(row.max_pct),
        },
    )
    return row


def authority_remove(*, actor: User, row: WaiverAuthority) -> None:
    if not actor.role_codes & MATRIX_KEEPERS or actor.organisation_id != row.organisation_id:
        raise PermissionDenied(_("只有总公司或系统管理员可以维护减免授权。"))
    audit_record(
        action="money.authority.removed",
        actor=actor,
        organisation=row.organisation_id,
        object_type="waiver_authority",
        object_id=row.pk,
        data={"stage": row.stage, "pct": str(row.max_pct)},
    )
    row.delete()


def authority_for(case: Case) -> Decimal | None:
    """The most the agency may waive on its own for this case (%), or None: no row applies
    (then the client approves every reduction). A stage's own rows win over the any-stage
    rows; among several, the lowest limit."""
    rows = [
        r
        for r in WaiverAuthority.objects.filter(client_id=case.client_id)
        if case.total_owed >= r.min_balance
        and (r.max_balance is None or case.total_owed < r.max_balance)
        and r.stage in ("", case.stage)
    ]
    own = [r for r in rows if r.stage == case.stage] or rows
    return min((r.max_pct for r in own), default=None)


# --- the reduction's steps ---------------------------------------------------------------


def reduction_request(
    *,
    actor: User,
    case: Case,
    waived: Decimal,
    pay_by: date,
    reason: str,
    evidence_name: str,
    evidence: IO[bytes] | None,
) -> Reduction:
    if not user_can(actor, WORK, case):
        raise PermissionDenied(_("您无权为该案件申请减免。"))
    if case.is_terminal:
        raise ValidationError(_("案件已结束，不能申请减免。"), code="case_closed")
    waived = to_money(waived)
    balance = to_money(case.total_owed)
    if waived <= 0:
        raise ValidationError(_("减免金额须大于零。"), field="waived")
    if waived >= balance:
        raise ValidationError(
            _("减免金额须小于案件余额 %(balance)s：不能全额减免。") % {"balance": balance},
            field="waived",
        )
    today = timezone.localdate()
    if pay_by < today or pay_by > today + timedelta(days=MAX_PAY_BY_DAYS):
        raise ValidationError(
            _("还款截止日须在今天到 %(days)s 天之内。") % {"days": MAX_PAY_BY_DAYS},
            field="pay_by",
        )
    if not reason.strip():
        raise ValidationError(_("请说明减免理由（如失业、疾病）。"), field="reason")
    if evidence is None:
        raise ValidationError(_("请上传减免理由的证明材料。"), field="evidence")
    content, digest = _store(evidence_name, evidence, "evidence")
    pct = (waived / balance * 100).quantize(CENT)
    limit = authority_for(case)
    try:
        with transaction.atomic():
            red = Reduction.objects.create(
                organisation_id=case.organisation_id,
                case=case,
                status=Reduction.Status.REQUESTED,
                balance_at_request=balance,
                waived=waived,
                remainder=balance - waived,
                pct=pct,
                pay_by=pay_by,
                authority_pct=limit,
                needs_client=limit is None or pct > limit,
                reason=reason.strip()[:500],
                evidence=content,
                evidence_sha256=digest,
                requested_by=actor,
                requested_at=now(),
            )
            _audit(
                "requested",
                actor,
                red,
                waived=str(waived),
                pct=str(pct),
                authority=str(limit),
                needs_client=red.needs_client,
                pay_by=pay_by.isoformat(),
            )
    except IntegrityError:
        raise ValidationError(_("该案件已有进行中的减免申请。"), code="reduction_exists") from None
    return red


def _locked(red: Reduction, *expected: str) -> Reduction:
    fresh = Reduction.objects.select_for_update().select_related("case").get(pk=red.pk)
    if fresh.status not in expected:
        raise ValidationError(
            _("减免申请当前为“%(status)s”，不能执行此步骤。")
            % {"status": fresh.get_status_display()},
            code="out_of_order",
        )
    return fresh


def _require_approver(actor: User, red: Reduction) -> None:
    if not (actor.role_codes & APPROVER_ROLES and user_can(actor, TRANSITION, red.case)):
        raise PermissionDenied(_("只有主管可以审批减免。"))
    if red.requested_by_id == actor.pk:
        raise PermissionDenied(_("申请人不能审批自己的减免申请。"))


def reduction_approve(*, actor: User, reduction: Reduction) -> Reduction:
    """Within the matrix: approved (effective once the remainder is paid); above it: waits
    for the client's approval."""
    _require_approver(actor, reduction)
    with transaction.atomic():
        fresh = _locked(reduction, Reduction.Status.REQUESTED)
        fresh.status = Reduction.Status.CLIENT if fresh.needs_client else Reduction.Status.APPROVED
        fresh.approved_by, fresh.approved_at = actor, now()
        fresh.save(update_fields=["status", "approved_by", "approved_at"])
        _audit("approved", actor, fresh, status=fresh.status)
    return fresh


def reduction_client_approve(
    *,
    actor: User,
    reduction: Reduction,
    reference: str,
    evidence_name: str,
    evidence: IO[bytes] | None,
) -> Reduction:
    if not user_can(actor, PAYMENTS, reduction.case) or not actor.role_codes & {
        "admin_assistant",
        "supervisor",
        "branch_manager",
        "hq",
    }:
        raise PermissionDenied(_("只有委托方联络人（协助行政）或主管可以登记委托方审批。"))
    if not reference.strip():
        raise ValidationError(_("请填写委托方审批编号。"), field="reference")
    if evidence is None:
        raise ValidationError(_("请上传委托方审批凭证。"), field="evidence")
    content, digest = _store(evidence_name, evidence, "evidence")
    with transaction.atomic():
        fresh = _locked(reduction, Reduction.Status.CLIENT)
        fresh.status = Reduction.Status.APPROVED
        fresh.client_reference = reference.strip()[:80]
        fresh.client_evidence, fresh.client_sha256 = content, digest
        fresh.client_recorded_by, fresh.client_recorded_at = actor, now()
        fresh.save()
        _audit("client_approved", actor, fresh, reference=fresh.client_reference, sha256=digest)
        reductions_evaluate([fresh.case_id])  # the remainder may already have been paid
    return fresh


def _end(red: Reduction, status: str, actor: User | None, reason: str) -> None:
    red.status, red.ended_at, red.ended_by = status, now(), actor
    red.end_reason = reason.strip()[:300]
    red.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])


def reduction_reject(*, actor: User, reduction: Reduction, reason: str) -> Reduction:
    _require_approver(actor, reduction)
    if not reason.strip():
        raise ValidationError(_("请说明驳回原因。"), field="reason")
    with transaction.atomic():
        fresh = _locked(reduction, Reduction.Status.REQUESTED, Reduction.Status.CLIENT)
        _end(fresh, Reduction.Status.REJECTED, actor, reason)
        _audit("rejected", actor, fresh, reason=fresh.end_reason)
    return fresh


def reduction_withdraw(*, actor: User, reduction: Reduction, reason: str) -> Reduction:
    if reduction.requested_by_id != actor.pk and not (
        actor.role_codes & APPROVER_ROLES and user_can(actor, TRANSITION, reduction.case)
    ):
        raise PermissionDenied(_("只有申请人或主管可以撤回减免申请。"))
    with transaction.atomic():
        fresh = _locked(reduction, *Reduction.OPEN_STATES)
        if fresh.plans.filter(status__in=["proposed", "approved", "consented", "active"]).exists():
            raise ValidationError(
                _("有还款计划依据此减免，须先撤回或结束该计划。"), code="plan_depends"
            )
        _end(fresh, Reduction.Status.WITHDRAWN, actor, reason)
        _audit("withdrawn", actor, fresh, reason=fresh.end_reason)
    return fresh


def paid_since(red: Reduction) -> Decimal:
    """What the case has paid (posted) since the reduction was requested."""
    since = timezone.localdate(red.requested_at)
    total = Payment.objects.filter(
        case_id=red.case_id, status=Payment.Status.POSTED, paid_on__gte=since
    ).aggregate(s=Sum("amount"))["s"]
    return to_money(total or 0)


def reductions_evaluate(case_ids: list[int]) -> int:
    """Approved reductions whose remainder is paid take effect: what is left of the balance
    (at most the approved waiver) is waived by a ledger entry, the case is settled."""
    done = 0
    for red in Reduction.objects.filter(
        case_id__in=case_ids, status=Reduction.Status.APPROVED
    ).select_related("case"):
        if paid_since(red) < red.remainder:
            continue
        with transaction.atomic():
            lock_contract_money(red.case.contract_id)
            fresh = _locked(red, Reduction.Status.APPROVED)
            case = Case.objects.select_for_update().get(pk=fresh.case_id)
            left = to_money(case.total_owed)
            waive = min(left, fresh.waived)
            at = now()
            if waive > 0:
                ledger.append(
                    case=case,
                    kind=LedgerEntry.Kind.REDUCTION,
                    amount=-waive,
                    effective_on=timezone.localdate(at),
                    source_type="reduction",
                    source_id=fresh.pk,
                    idempotency_key=f"reduction:{fresh.pk}",
                    actor=None,
                    memo=_("减免生效"),
                )
            fresh.status, fresh.effective_at, fresh.waived_applied = "effective", at, waive
            fresh.save(update_fields=["status", "effective_at", "waived_applied"])
            remaining = to_money(Case.objects.values_list("total_owed", flat=True).get(pk=case.pk))
            if remaining == 0 and not case.is_terminal:
                Case.objects.filter(pk=case.pk).update(
                    status=Case.Status.SETTLED, status_changed_at=at, closed_at=at, updated_at=at
                )
            _audit("effective", None, fresh, waived=str(waive), balance_after=str(remaining))
            done += 1
    return done


def reductions_undo_if_unpaid(case: Case) -> None:
    """After a reversal: an effective reduction whose remainder is no longer paid is undone
    (an opposite adjustment), back to approved, and a settled case reopens."""
    for red in Reduction.objects.filter(case_id=case.pk, status=Reduction.Status.EFFECTIVE):
        if paid_since(red) >= red.remainder:
            continue
        at = now()
        if red.waived_applied:
            ledger.append(
                case=case,
                kind=LedgerEntry.Kind.ADJUSTMENT,
                amount=red.waived_applied,
                effective_on=timezone.localdate(at),
                source_type="reduction",
                source_id=red.pk,
                idempotency_key=f"reduction-undone:{red.pk}:{at.timestamp()}",
                actor=None,
                memo=_("还款冲正，减免条件不再满足"),
            )
        Reduction.objects.filter(pk=red.pk).update(
            status=Reduction.Status.APPROVED, effective_at=None, waived_applied=None
        )
        if Case.objects.filter(pk=case.pk, status=Case.Status.SETTLED).exists():
            back = Case.Status.IN_COLLECTION if case.assignee_id else Case.Status.PENDING_ALLOCATION
            Case.objects.filter(pk=case.pk).update(
                status=back, status_changed_at=at, closed_at=None, updated_at=at
            )
        _audit("undone", None, red, reason="reversal")


def reductions_lapse(*, today: date) -> int:
    """Approved (or waiting) reductions past their pay-by date without the remainder lapse."""
    lapsed = 0
    for red in Reduction.objects.filter(
        status__in=[Reduction.Status.APPROVED, Reduction.Status.CLIENT, Reduction.Status.REQUESTED],
        pay_by__lt=today,
    ):
        with transaction.atomic():
            fresh = Reduction.objects.select_for_update().get(pk=red.pk)
            if fresh.status not in Reduction.OPEN_STATES:
                continue
            _end(fresh, Reduction.Status.LAPSED, None, _("截止日前未还足须还金额"))
            _audit("lapsed", None, fresh, pay_by=fresh.pay_by.isoformat())
            lapsed += 1
    return lapsed


def reduction_file_opened(*, actor: User, reduction: Reduction, which: str) -> None:
    """Audit the download of a reduction's evidence (it may hold medical or job records)."""
    _audit("file_viewed", actor, reduction, which=which)
