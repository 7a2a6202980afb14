"""Commission (佣金) from a locked statement, and the collectors' scorecard for finance.

``commission_compute`` runs inside ``statement_lock``: the month's posted payments of the
contract, per case and collector, times the contract's rate (by the case's overdue stage, or
by the month's recovery tier), plus a fixed fee for each case paid off or settled in the
month; set-based, then totals per collector and team. It is frozen with the statement: a
later reversal changes the next version, never this one.

``scorecard_save`` refuses a scorecard weighted on recovery alone (COMPLIANCE.md CN-7);
``performance`` scores each collector of a locked month: recovery (share of the best),
compliance (contacts without a forbidden-word flag), quality (the same measure until the
quality-inspection module records scores).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from recoup.audit.services import audit_record
from recoup.clients.commission import parse_table
from recoup.core.clock import now
from recoup.core.db import execute
from recoup.core.exceptions import PermissionDenied, ValidationError
from recoup.core.money import to_money
from recoup.money.models import CommissionLine, CommissionRun, Scorecard, Statement

if TYPE_CHECKING:
    from recoup.accounts.models import User

SCORECARD_KEEPERS = frozenset({"hq", "branch_manager"})


def _month_range(statement: Statement) -> tuple[Any, Any]:
    from recoup.money.reconcile import month_end, month_start

    return month_start(statement.month), month_end(statement.month)


def commission_compute(statement: Statement) -> CommissionRun:
    """Compute and store the statement's commission (inside the lock's transaction)."""
    table = parse_table(statement.contract.commission_table)
    start, end = _month_range(statement)
    contract_id = statement.contract_id
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(p.amount), 0) FROM money_payment p WHERE p.contract_id = %s "
            "AND p.status = 'posted' AND p.paid_on >= %s AND p.paid_on < %s",
            [contract_id, start, end],
        )
        recovered = to_money(str(cursor.fetchone()[0]))
        cursor.execute(
            "SELECT COALESCE(SUM(entrusted_amount), 0) FROM cases_case WHERE contract_id = %s",
            [contract_id],
        )
        entrusted = to_money(str(cursor.fetchone()[0]))
    recovery = (recovered / entrusted).quantize(Decimal("0.000001")) if entrusted else Decimal(0)
    run = CommissionRun.objects.create(
        organisation_id=statement.organisation_id,
        statement=statement,
        table=statement.contract.commission_table or {},
        recovery_rate=recovery,
        created_at=now(),
    )
    tier = table.tier_rate(recovery)
    stages = ("M1", "M2", "M3", "M4", "M5", "M6+")
    rate_params: list[object] = []
    if tier is not None:
        rate_sql = "%s"
        rate_params.append(tier)
    else:
        rate_sql = "CASE c.stage " + " ".join("WHEN %s THEN %s" for _s in stages) + " ELSE %s END"
        for stage in stages:
            rate_params += [stage, table.stage_rate(stage)]
        rate_params.append(table.stage_rate("*"))
    execute(
        "INSERT INTO money_commissionline (run_id, case_id, collector_id, team_id, stage, "
        "recovered, rate, commission, fixed) "
        f"SELECT %s, x.case_id, x.collector_id, x.team_id, x.stage, x.recovered, x.rate, "
        "ROUND(x.recovered * x.rate, 2), 0 FROM ("
        f"  SELECT p.case_id, p.collector_id, p.team_id, c.stage, SUM(p.amount) AS recovered, "
        f"  {rate_sql} AS rate FROM money_payment p JOIN cases_case c ON c.id = p.case_id "
        "  WHERE p.contract_id = %s AND p.status = 'posted' AND p.paid_on >= %s "
        "  AND p.paid_on < %s GROUP BY p.case_id, p.collector_id, p.team_id, c.stage) x "
        "ORDER BY x.case_id",
        [run.pk, *rate_params, contract_id, start, end],
    )
    if table.fixed_per_case:
        # A case paid off or settled in the month earns the fixed fee once, on one of its
        # lines (the lowest id: the first collector credited).
        execute(
            "UPDATE money_commissionline SET fixed = %s WHERE id IN ("
            "  SELECT MIN(l.id) FROM money_commissionline l JOIN cases_case c ON c.id = l.case_id "
            "  WHERE l.run_id = %s AND c.status IN ('paid_off', 'settled') "
            "  AND c.closed_at >= %s AND c.closed_at < %s GROUP BY l.case_id)",
            [table.fixed_per_case, run.pk, start, end],
        )
    totals = CommissionLine.objects.filter(run=run).aggregate(
        recovered=Sum("recovered"), commission=Sum("commission"), fixed=Sum("fixed")
    )
    run.recovered = to_money(str(totals["recovered"] or 0))
    run.commission = to_money(str(totals["commission"] or 0))
    run.fixed = to_money(str(totals["fixed"] or 0))
    run.summary = _summary(run)
    run.save(update_fields=["recovered", "commission", "fixed", "summary"])
    return run


def _summary(run: CommissionRun) -> dict[str, Any]:
    def rows(key: str, name: str) -> list[dict[str, Any]]:
        out = []
        for r in (
            CommissionLine.objects.filter(run=run)
            .values(key, name)
            .annotate(
                cases=Count("case_id", distinct=True),
                recovered=Sum("recovered"),
                commission=Sum("commission"),
                fixed=Sum("fixed"),
            )
            .order_by(key)
        ):
            out.append(
                {
                    "id": r[key],
                    "name": r[name] or "",
                    "cases": r["cases"],
                    "recovered": str(to_money(str(r["recovered"] or 0))),
                    "commission": str(to_money(str((r["commission"] or 0) + (r["fixed"] or 0)))),
                }
            )
        return out

    return {
        "collectors": rows("collector_id", "collector__display_name"),
        "teams": rows("team_id", "team__name"),
    }


# --- the scorecard -----------------------------------------------------------------------


def scorecard_save(
    *, actor: User, name: str, recovery: int, compliance: int, quality: int
) -> Scorecard:
    """A new active scorecard (the previous one stays, inactive). CN-7: refused when recovery
    carries all the weight or compliance and quality none."""
    if not actor.role_codes & SCORECARD_KEEPERS or actor.organisation_id is None:
        raise PermissionDenied(_("只有总公司或分公司经理可以设置考核权重。"))
    weights = (recovery, compliance, quality)
    if any(w < 0 or w > 100 for w in weights) or sum(weights) != 100:
        raise ValidationError(_("三项权重须为 0–100 的整数，合计 100。"), field="recovery")
    if recovery >= 100 or compliance + quality == 0:
        raise ValidationError(
            _("不能只按回款金额考核催收员（2011 办法第 66 条）：合规或质检须有权重。"),
            field="recovery",
            code="recovery_only",
        )
    if not name.strip():
        raise ValidationError(_("请填写名称。"), field="name")
    Scorecard.objects.filter(organisation_id=actor.organisation_id, active=True).update(
        active=False
    )
    card = Scorecard.objects.create(
        organisation_id=actor.organisation_id,
        name=name.strip()[:80],
        recovery_weight=recovery,
        compliance_weight=compliance,
        quality_weight=quality,
        created_by=actor,
        created_at=now(),
    )
    audit_record(
        action="money.scorecard.saved",
        actor=actor,
        organisation=actor.organisation_id,
        object_type="scorecard",
        object_id=card.pk,
        data={"recovery": recovery, "compliance": compliance, "quality": quality},
    )
    return card


DEFAULT_WEIGHTS = (60, 25, 15)


def performance(statement: Statement) -> list[dict[str, Any]]:
    """Each collector of a locked month: recovered, commission, contacts, flagged contacts,
    and the weighted score of the organisation's active scorecard."""
    from recoup.contact.models import ContactAttempt

    run = getattr(statement, "commission", None)
    if run is None:
        return []
    card = Scorecard.objects.filter(organisation_id=statement.organisation_id, active=True).first()
    w_rec, w_comp, w_qual = (
        (card.recovery_weight, card.compliance_weight, card.quality_weight)
        if card
        else DEFAULT_WEIGHTS
    )
    start, end = _month_range(statement)
    people = [c for c in run.summary.get("collectors", []) if c["id"]]
    contacts = {
        r["actor_id"]: r
        for r in ContactAttempt.objects.filter(
            actor_id__in=[c["id"] for c in people],
            local_day__gte=start,
            local_day__lt=end,
        )
        .values("actor_id")
        .annotate(n=Count("id"), flagged=Count("id", filter=Q(flagged_for_review=True)))
    }
    best = max((Decimal(c["recovered"]) for c in people), default=Decimal(0))
    out = []
    for c in people:
        stats = contacts.get(c["id"], {"n": 0, "flagged": 0})
        recovery_score = Decimal(c["recovered"]) / best * 100 if best else Decimal(0)
        compliance_score = (
            Decimal(100) - Decimal(stats["flagged"]) * 100 / stats["n"]
            if stats["n"]
            else Decimal(100)
        )
        quality_score = compliance_score  # until quality inspection records scores
        score = (recovery_score * w_rec + compliance_score * w_comp + quality_score * w_qual) / 100
        out.append(
            c
            | {
                "contacts": stats["n"],
                "flagged": stats["flagged"],
                "recovery_score": f"{recovery_score:.1f}",
                "compliance_score": f"{compliance_score:.1f}",
                "quality_score": f"{quality_score:.1f}",
                "score": f"{score:.1f}",
            }
        )
    return sorted(out, key=lambda r: -Decimal(r["score"]))
