"""Repayment plans (还款计划书): the rules, the approvals in order, and instalments kept or broken.

The steps, each by its own role and only in this order (SPEC §3 step 9, COMPLIANCE CN-7):

1. ``plan_propose`` — the collector working the case (or a supervisor) proposes a schedule;
2. ``plan_approve`` / ``plan_reject`` — a supervisor (not the proposer) decides;
3. ``plan_consent`` — the bank liaison records the client's consent: its reference and the
   evidence (no plan without the client's consent);
4. ``plan_sign`` — the signed plan is uploaded (the debtor's, and the paying relative's when
   a relative pays); the plan runs and the case is 分期中 (on plan).

The rules come from the contract's compliance profiles (``plan_max_months``: at most 6 months
from signing in the seed; ``plan_first_instalment_min_pct``: the first instalment more than
20 % of the total owed; ``plan_grace_days``) and a hard ceiling of 60 months (CN-7: a card
restructuring may not last longer, whatever a profile says). Instalments add up to the agreed
total to the cent (Decimal). Payments fill instalments in date order (``plans_replay``, run
after every posting and reversal); ``plans_mark_missed`` (daily) breaks a plan whose
instalment is still short after the grace days, and the case returns to active collection.
"""

from __future__ import annotations

import calendar
import hashlib
import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from recoup.accounts.roles import PAYMENTS, TRANSITION, WORK
from recoup.audit.services import audit_record
from recoup.cases.models import Case
from recoup.cases.permissions import user_can
from recoup.compliance.selectors import effective_rules
from recoup.core import crypto
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.core.money import CENT, to_money
from recoup.money.models import Payment, PlanInstalment, Reduction, RepaymentPlan

if TYPE_CHECKING:
    from recoup.accounts.models import User

CEILING_MONTHS = 60  # CN-7: no card plan longer than 5 years, whatever a profile says
DEFAULTS = {"plan_max_months": 6, "plan_first_instalment_min_pct": 20, "plan_grace_days": 5}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_TYPES = {".pdf", ".jpg", ".jpeg", ".png"}
APPROVER_ROLES = frozenset({"supervisor", "branch_manager", "hq"})


@dataclass(frozen=True)
class Instalment:
    due_on: date
    amount: Decimal


@dataclass(frozen=True)
class Document:
    name: str
    stream: IO[bytes]


@dataclass(frozen=True)
class PlanRules:
    max_months: int
    first_min_pct: int
    grace_days: int
    versions: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "plan_max_months": self.max_months,
            "plan_first_instalment_min_pct": self.first_min_pct,
            "plan_grace_days": self.grace_days,
            "versions": self.versions,
        }


def rules_for(case: Case) -> PlanRules:
    """The contract's plan rules (its profiles; Recoup's defaults where they say nothing)."""
    effective = effective_rules(case.contract)
    params = {**DEFAULTS, **{k: v for k, v in effective.params.items() if k in DEFAULTS}}
    return PlanRules(
        max_months=min(int(params["plan_max_months"]), CEILING_MONTHS),
        first_min_pct=int(params["plan_first_instalment_min_pct"]),
        grace_days=int(params["plan_grace_days"]),
        versions=effective.versions,
    )


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def schedule_build(
    *, total: Decimal, count: int, first_amount: Decimal, first_due_on: date
) -> list[Instalment]:
    """A monthly schedule: the first amount, then the rest in equal parts with the cents left
    over on the last instalment, so the parts add up to ``total`` exactly."""
    total, first_amount = to_money(total), to_money(first_amount)
    if count < 1:
        raise ValidationError(_("期数至少为 1。"), field="count")
    if count > CEILING_MONTHS:
        raise ValidationError(_("期数不能超过 %(n)s 期。") % {"n": CEILING_MONTHS}, field="count")
    if count == 1:
        return [Instalment(first_due_on, total)]
    rest = total - first_amount
    if rest <= 0:
        raise ValidationError(_("首期金额须小于方案总额（还有后续分期）。"), field="first_amount")
    each = (rest / (count - 1)).quantize(CENT, rounding="ROUND_DOWN")
    if each <= 0:
        raise ValidationError(_("分期过多：每期金额不足 0.01。"), field="count")
    parts = [first_amount] + [each] * (count - 2) + [rest - each * (count - 2)]
    return [Instalment(add_months(first_due_on, n), amount) for n, amount in enumerate(parts)]


def approved_reduction(case: Case) -> Reduction | None:
    """The case's approved reduction waiting for its remainder, if any."""
    return Reduction.objects.filter(case_id=case.pk, status=Reduction.Status.APPROVED).first()


def check_schedule(
    *,
    case: Case,
    total: Decimal,
    schedule: list[Instalment],
    rules: PlanRules,
    start: date,
    reduction: Reduction | None = None,
) -> list[str]:
    """Every rule the schedule breaks, as sentences (empty: it may be proposed). With an
    approved reduction the plan pays its remainder, by its pay-by date."""
    problems: list[str] = []
    balance = to_money(case.total_owed)
    if total <= 0:
        problems.append(_("方案总额须大于零。"))
    if total > balance:
        problems.append(
            _("方案总额 %(total)s 超过案件余额 %(balance)s。")
            % {"total": total, "balance": balance}
        )
    elif total < balance and reduction is None:
        problems.append(
            _("方案总额 %(total)s 低于案件余额 %(balance)s：差额须先经减免审批。")
            % {"total": total, "balance": balance}
        )
    elif total < balance and reduction is not None and total != reduction.remainder:
        problems.append(
            _("有已批准的减免：方案总额须等于减免后须还的 %(remainder)s。")
            % {"remainder": reduction.remainder}
        )
    if (
        reduction is not None
        and total == reduction.remainder
        and schedule
        and schedule[-1].due_on + timedelta(days=rules.grace_days) > reduction.pay_by
    ):
        problems.append(
            _("最后一期加宽限期须在减免的还款截止日 %(day)s 之前。")
            % {"day": reduction.pay_by.isoformat()}
        )
    if not schedule:
        return [*problems, _("至少需要一期。")]
    if len(schedule) > CEILING_MONTHS:
        problems.append(_("期数不能超过 %(n)s 期。") % {"n": CEILING_MONTHS})
    if any(i.amount <= 0 for i in schedule):
        problems.append(_("每期金额须大于零。"))
    if any(i.amount != to_money(i.amount) for i in schedule):
        problems.append(_("每期金额最多两位小数。"))
    added = sum((i.amount for i in schedule), Decimal(0))
    if added != total:
        problems.append(
            _("各期合计 %(sum)s，与方案总额 %(total)s 不符。") % {"sum": added, "total": total}
        )
    dates = [i.due_on for i in schedule]
    if any(b <= a for a, b in itertools.pairwise(dates)):
        problems.append(_("各期日期须逐期推后。"))
    if dates[0] < start:
        problems.append(_("首期日期不能早于 %(day)s。") % {"day": start.isoformat()})
    limit = add_months(start, rules.max_months)
    if dates[-1] > limit:
        problems.append(
            _("最后一期 %(last)s 超出期限：自签署起最长 %(months)s 个月（至 %(limit)s）。")
            % {
                "last": dates[-1].isoformat(),
                "months": rules.max_months,
                "limit": limit.isoformat(),
            }
        )
    minimum = (balance * rules.first_min_pct / 100).quantize(CENT)
    if schedule[0].amount <= minimum:
        problems.append(
            _("首期 %(first)s 须超过欠款总额的 %(pct)s%%（%(min)s）。")
            % {"first": schedule[0].amount, "pct": rules.first_min_pct, "min": minimum}
        )
    return problems


def _store(document: Document, what: str) -> tuple[ContentFile[bytes], str]:
    name = document.name.rsplit("/", 1)[-1][:120]
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in DOCUMENT_TYPES:
        raise ValidationError(_("%(what)s须为 PDF、JPG 或 PNG 文件。") % {"what": what}, field=what)
    data = document.stream.read(MAX_DOCUMENT_BYTES + 1)
    if not data:
        raise ValidationError(_("%(what)s文件是空的。") % {"what": what}, field=what)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationError(_("%(what)s不能超过 10 MB。") % {"what": what}, field=what)
    return ContentFile(data, name=name), hashlib.sha256(data).hexdigest()


def _locked(plan: RepaymentPlan, *expected: str) -> RepaymentPlan:
    fresh = RepaymentPlan.objects.select_for_update().select_related("case").get(pk=plan.pk)
    if fresh.status not in expected:
        raise ValidationError(
            _("还款计划当前为“%(status)s”，不能执行此步骤。")
            % {"status": fresh.get_status_display()},
            code="out_of_order",
        )
    return fresh


def _audit(action: str, actor: User | None, plan: RepaymentPlan, **data: Any) -> None:
    audit_record(
        action=f"money.plan.{action}",
        actor=actor,
        organisation=plan.organisation_id,
        case_id=plan.case_id,
        object_type="repayment_plan",
        object_id=plan.pk,
        data=data,
    )


def plan_propose(
    *,
    actor: User,
    case: Case,
    total: Decimal,
    schedule: list[Instalment],
    payer: str = RepaymentPlan.Payer.DEBTOR,
    payer_name: str = "",
    note: str = "",
) -> RepaymentPlan:
    """Propose a plan for the case; refused with every broken rule listed."""
    if not user_can(actor, WORK, case):
        raise PermissionDenied(_("您无权为该案件提出还款计划。"))
    if case.is_terminal:
        raise ValidationError(_("案件已结束，不能提出还款计划。"), code="case_closed")
    if payer not in RepaymentPlan.Payer.values:
        raise ValidationError(_("请选择还款人。"), field="payer")
    if payer != RepaymentPlan.Payer.DEBTOR and not payer_name.strip():
        raise ValidationError(_("由亲属代为还款时须填写其姓名。"), field="payer_name")
    total = to_money(total)
    rules = rules_for(case)
    reduction = approved_reduction(case)
    problems = check_schedule(
        case=case,
        total=total,
        schedule=schedule,
        rules=rules,
        start=timezone.localdate(),
        reduction=reduction,
    )
    if problems:
        raise ValidationError(" ".join(problems), code="plan_rules")
    at = now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                plan = RepaymentPlan.objects.create(
                    organisation_id=case.organisation_id,
                    case=case,
                    status=RepaymentPlan.Status.PROPOSED,
                    total=total,
                    balance_at_proposal=case.total_owed,
                    currency=case.currency,
                    payer=payer,
                    reduction=reduction if reduction and total == reduction.remainder else None,
                    rules=rules.as_json(),
                    note=note.strip()[:500],
                    proposed_by=actor,
                    proposed_at=at,
                )
        except IntegrityError:
            raise ValidationError(_("该案件已有进行中的还款计划。"), code="plan_exists") from None
        if payer != RepaymentPlan.Payer.DEBTOR:
            plan.payer_name_sealed = crypto.seal(payer_name.strip().encode(), aad=plan.payer_aad())
            plan.save(update_fields=["payer_name_sealed"])
        PlanInstalment.objects.bulk_create(
            PlanInstalment(plan=plan, number=n, due_on=i.due_on, amount=i.amount)
            for n, i in enumerate(schedule, start=1)
        )
        _audit(
            "proposed",
            actor,
            plan,
            total=str(total),
            instalments=[[i.due_on.isoformat(), str(i.amount)] for i in schedule],
            payer=payer,
            rules=rules.as_json(),
        )
    return plan


def _require_approver(actor: User, plan: RepaymentPlan) -> None:
    if not (actor.role_codes & APPROVER_ROLES and user_can(actor, TRANSITION, plan.case)):
        raise PermissionDenied(_("只有主管可以审批还款计划。"))
    if plan.proposed_by_id == actor.pk:
        raise PermissionDenied(_("提出人不能审批自己提出的还款计划。"))


def plan_approve(*, actor: User, plan: RepaymentPlan, note: str = "") -> RepaymentPlan:
    _require_approver(actor, plan)
    with transaction.atomic():
        fresh = _locked(plan, RepaymentPlan.Status.PROPOSED)
        # The balance may have moved since the proposal (a payment): the plan must still fit.
        problems = check_schedule(
            case=fresh.case,
            total=fresh.total,
            schedule=[Instalment(i.due_on, i.amount) for i in fresh.instalments.all()],
            rules=rules_for(fresh.case),
            start=timezone.localdate(fresh.proposed_at),
            reduction=fresh.reduction,
        )
        if problems:
            raise ValidationError(" ".join(problems), code="plan_rules")
        fresh.status, fresh.approved_by, fresh.approved_at = "approved", actor, now()
        fresh.save(update_fields=["status", "approved_by", "approved_at"])
        _audit("approved", actor, fresh, note=note[:300])
    return fresh


def plan_reject(*, actor: User, plan: RepaymentPlan, reason: str) -> RepaymentPlan:
    _require_approver(actor, plan)
    if not reason.strip():
        raise ValidationError(_("请说明驳回原因。"), field="reason")
    with transaction.atomic():
        fresh = _locked(plan, RepaymentPlan.Status.PROPOSED, RepaymentPlan.Status.APPROVED)
        fresh.status, fresh.ended_at, fresh.ended_by = "rejected", now(), actor
        fresh.end_reason = reason.strip()[:300]
        fresh.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
        _audit("rejected", actor, fresh, reason=fresh.end_reason)
    return fresh


def plan_withdraw(*, actor: User, plan: RepaymentPlan, reason: str) -> RepaymentPlan:
    """The proposer (or a supervisor) withdraws a plan that is not running yet."""
    if plan.proposed_by_id != actor.pk and not (
        actor.role_codes & APPROVER_ROLES and user_can(actor, TRANSITION, plan.case)
    ):
        raise PermissionDenied(_("只有提出人或主管可以撤回还款计划。"))
    with transaction.atomic():
        fresh = _locked(
            plan,
            RepaymentPlan.Status.PROPOSED,
            RepaymentPlan.Status.APPROVED,
            RepaymentPlan.Status.CONSENTED,
        )
        fresh.status, fresh.ended_at, fresh.ended_by = "withdrawn", now(), actor
        fresh.end_reason = reason.strip()[:300]
        fresh.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
        _audit("withdrawn", actor, fresh, reason=fresh.end_reason)
    return fresh


def plan_consent(
    *, actor: User, plan: RepaymentPlan, reference: str, evidence: Document | None
) -> RepaymentPlan:
    """The client's consent, by the bank liaison, with its reference and the evidence."""
    if not user_can(actor, PAYMENTS, plan.case) or not actor.role_codes & {
        "admin_assistant",
        "supervisor",
        "branch_manager",
        "hq",
    }:
        raise PermissionDenied(_("只有委托方联络人（协助行政）或主管可以登记委托方同意。"))
    if not reference.strip():
        raise ValidationError(_("请填写委托方同意的编号或邮件标题。"), field="reference")
    if evidence is None:
        raise ValidationError(_("请上传委托方同意的凭证。"), field="evidence")
    content, digest = _store(evidence, _("委托方同意凭证"))
    with transaction.atomic():
        fresh = _locked(plan, RepaymentPlan.Status.APPROVED)
        fresh.status = "consented"
        fresh.consent_reference = reference.strip()[:80]
        fresh.consent_evidence, fresh.consent_sha256 = content, digest
        fresh.consent_by, fresh.consent_at = actor, now()
        fresh.save(
            update_fields=[
                "status",
                "consent_reference",
                "consent_evidence",
                "consent_sha256",
                "consent_by",
                "consent_at",
            ]
        )
        _audit("consented", actor, fresh, reference=fresh.consent_reference, sha256=digest)
    return fresh


def plan_sign(
    *,
    actor: User,
    plan: RepaymentPlan,
    signed_on: date,
    debtor_document: Document | None,
    payer_document: Document | None = None,
) -> RepaymentPlan:
    """Upload the signed plan: it runs from now on and the case is 分期中."""
    if not (user_can(actor, WORK, plan.case) or user_can(actor, PAYMENTS, plan.case)):
        raise PermissionDenied(_("您无权登记该还款计划的签署。"))
    today = timezone.localdate()
    if signed_on > today:
        raise ValidationError(_("签署日期不能晚于今天。"), field="signed_on")
    if debtor_document is None:
        raise ValidationError(_("请上传债务人签署的还款计划书。"), field="debtor_document")
    if plan.payer != RepaymentPlan.Payer.DEBTOR and payer_document is None:
        raise ValidationError(
            _("由亲属代为还款：请同时上传代还人签署的文件。"), field="payer_document"
        )
    debtor_file, debtor_sha = _store(debtor_document, _("债务人签署文件"))
    payer_file, payer_sha = (
        _store(payer_document, _("代还人签署文件")) if payer_document else (None, "")
    )
    with transaction.atomic():
        fresh = _locked(plan, RepaymentPlan.Status.CONSENTED)
        if signed_on < timezone.localdate(fresh.consent_at or now()):
            raise ValidationError(_("签署日期不能早于委托方同意的日期。"), field="signed_on")
        case = Case.objects.select_for_update().get(pk=fresh.case_id)
        rules = rules_for(case)
        last = fresh.instalments.order_by("-number").values_list("due_on", flat=True).first()
        limit = add_months(signed_on, rules.max_months)
        if last is not None and last > limit:
            raise ValidationError(
                _("最后一期 %(last)s 超出签署后 %(months)s 个月的期限（%(limit)s），请重提。")
                % {
                    "last": last.isoformat(),
                    "months": rules.max_months,
                    "limit": limit.isoformat(),
                },
                code="plan_rules",
            )
        if case.is_terminal:
            raise ValidationError(_("案件已结束，还款计划不能生效。"), code="case_closed")
        at = now()
        fresh.status, fresh.signed_on, fresh.signed_by, fresh.activated_at = (
            "active",
            signed_on,
            actor,
            at,
        )
        fresh.debtor_document, fresh.debtor_document_sha256 = debtor_file, debtor_sha
        if payer_file is not None:
            fresh.payer_document, fresh.payer_document_sha256 = payer_file, payer_sha
        fresh.save()
        if case.status != Case.Status.ON_PLAN:
            Case.objects.filter(pk=case.pk).update(
                status=Case.Status.ON_PLAN, status_changed_at=at, updated_at=at
            )
        _audit("signed", actor, fresh, signed_on=signed_on.isoformat(), sha256=debtor_sha)
        plans_replay([case.pk])  # payments since signing already count
    return fresh


def plans_replay(case_ids: list[int]) -> int:
    """Fill the running (or completed) plans of these cases from their posted payments since
    signing, in date order; an instalment covered after its date is 'late', one covered in
    time 'paid'. A plan whose instalments are all covered is completed (and reopens when a
    reversal uncovers one). Returns the plans changed."""
    plans = list(
        RepaymentPlan.objects.select_for_update()
        .filter(
            case_id__in=case_ids,
            status__in=[RepaymentPlan.Status.ACTIVE, RepaymentPlan.Status.COMPLETED],
        )
        .prefetch_related("instalments")
    )
    changed = 0
    at = now()
    for plan in plans:
        payments = list(
            Payment.objects.filter(
                case_id=plan.case_id, status=Payment.Status.POSTED, paid_on__gte=plan.signed_on
            )
            .order_by("paid_on", "id")
            .values_list("amount", "paid_on")
        )
        instalments = sorted(plan.instalments.all(), key=lambda i: i.number)
        before = [(i.paid_amount, i.status, i.paid_on) for i in instalments]
        for inst in instalments:
            inst.paid_amount, inst.paid_on = Decimal("0.00"), None
            if inst.status != PlanInstalment.Status.MISSED:
                inst.status = PlanInstalment.Status.DUE
        queue: list[tuple[Decimal, date]] = [(to_money(a), d) for a, d in payments]
        for inst in instalments:
            while queue and inst.paid_amount < inst.amount:
                left, paid_on = queue[0]
                take = min(left, inst.amount - inst.paid_amount)
                inst.paid_amount += take
                if inst.paid_amount >= inst.amount:
                    inst.paid_on = paid_on
                if left - take <= 0:
                    queue.pop(0)
                else:
                    queue[0] = (left - take, paid_on)
            if inst.paid_amount >= inst.amount and inst.paid_on is not None:
                inst.status = (
                    PlanInstalment.Status.PAID
                    if inst.paid_on <= inst.due_on
                    else PlanInstalment.Status.LATE
                )
        after = [(i.paid_amount, i.status, i.paid_on) for i in instalments]
        touched = after != before
        if touched:
            PlanInstalment.objects.bulk_update(instalments, ["paid_amount", "status", "paid_on"])
        all_paid = all(i.status in ("paid", "late") for i in instalments)
        if all_paid and plan.status == RepaymentPlan.Status.ACTIVE:
            plan.status, plan.ended_at = RepaymentPlan.Status.COMPLETED, at
            plan.end_reason = _("全部分期已还清")
            plan.save(update_fields=["status", "ended_at", "end_reason"])
            _audit("completed", None, plan)
            touched = True
        elif not all_paid and plan.status == RepaymentPlan.Status.COMPLETED:
            # A reversal took a payment back: the plan runs again.
            plan.status, plan.ended_at, plan.end_reason = RepaymentPlan.Status.ACTIVE, None, ""
            plan.save(update_fields=["status", "ended_at", "end_reason"])
            _audit("reopened", None, plan)
            touched = True
        changed += touched
    return changed


def plans_mark_missed(*, today: date) -> int:
    """Daily: an instalment still short ``plan_grace_days`` after its date is missed and
    breaks its plan; the case goes back to active collection (催收中) with the reason."""
    broken = 0
    for plan in (
        RepaymentPlan.objects.filter(status=RepaymentPlan.Status.ACTIVE)
        .select_related("case", "case__contract")
        .order_by("id")
    ):
        grace = int(plan.rules.get("plan_grace_days", DEFAULTS["plan_grace_days"]))
        late = [
            i
            for i in plan.instalments.order_by("number")
            if i.paid_amount < i.amount and i.due_on + timedelta(days=grace) < today
        ]
        if not late:
            continue
        with transaction.atomic():
            fresh = RepaymentPlan.objects.select_for_update().get(pk=plan.pk)
            if fresh.status != RepaymentPlan.Status.ACTIVE:
                continue
            first = late[0]
            PlanInstalment.objects.filter(pk__in=[i.pk for i in late]).update(status="missed")
            at = now()
            fresh.status, fresh.ended_at = RepaymentPlan.Status.BROKEN, at
            fresh.end_reason = _(
                "第 %(n)s 期（%(due)s，%(amount)s）到期 %(grace)s 天后仍未还足"
            ) % {
                "n": first.number,
                "due": first.due_on.isoformat(),
                "amount": first.amount,
                "grace": grace,
            }
            fresh.save(update_fields=["status", "ended_at", "end_reason"])
            Case.objects.filter(pk=fresh.case_id, status=Case.Status.ON_PLAN).update(
                status=Case.Status.IN_COLLECTION,
                status_changed_at=at,
                next_follow_up_at=at,
                updated_at=at,
            )
            _audit("broken", None, fresh, reason=fresh.end_reason, instalment=first.number)
            broken += 1
    return broken


def plan_file_opened(*, actor: User, plan: RepaymentPlan, which: str, sha256: str) -> None:
    """Audit the download of a plan's document (signed plans hold personal data)."""
    _audit("file_viewed", actor, plan, which=which, sha256=sha256)
