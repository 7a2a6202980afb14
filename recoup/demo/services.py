"""Create a synthetic agency for demos and manual testing (never real data).

2 branches with 2 teams each, at least one login for every role, 2 clients with contracts
and batches, and N synthetic cases (default 5,000) with sealed personal data.
"""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recoup.accounts.models import Organisation, OrgUnit, Role, RoleAssignment, Team, User
from recoup.accounts.services import roles_ensure
from recoup.allocation.services import RuleInput, TargetInput, rule_set_save
from recoup.audit.services import audit_record
from recoup.cases.models import Case, ContactPoint, Debtor, Hold, LedgerEntry
from recoup.cases.services import (
    CaseInput,
    DebtorInput,
    case_build,
    contact_point_build,
    debtor_build,
)
from recoup.clients.models import Batch, Client, ClientUser, Contract
from recoup.contact.models import ContactAttempt, ContactDecision, Promise
from recoup.core.clock import now
from recoup.core.clock import today as local_today
from recoup.core.db import refresh_planner_statistics
from recoup.demo.synthetic import PersonFactory
from recoup.money.models import Payment, PlanInstalment, Reduction, RepaymentPlan
from recoup.workdays.calendar import Deadline, deadline

DEMO_ORG_CODE = "demo"
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (synthetic demo agency only; printed at start)

R = Role.Code


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    roles: tuple[str, ...]
    where: str


@dataclass
class DemoResult:
    created: bool
    logins: list[DemoLogin]
    cases: int


# username, display name, roles, unit code, team code, client code
PEOPLE: list[tuple[str, str, tuple[str, ...], str | None, str | None, str | None]] = [
    ("hq", "总部·周总", (R.HQ,), "hq", None, None),
    ("sysadmin", "系统管理员", (R.SYSTEM_ADMIN,), "hq", None, None),
    ("risk", "风控·李敏", (R.RISK_OFFICER,), "hq", None, None),
    ("compliance", "合规·陈静", (R.COMPLIANCE_OFFICER,), "hq", None, None),
    ("bj_manager", "北京·分公司经理", (R.BRANCH_MANAGER,), "bj", None, None),
    ("bj_supervisor", "北京·催收主管", (R.SUPERVISOR,), "bj", None, None),
    ("bj_assistant", "北京·协助行政", (R.ADMIN_ASSISTANT,), "bj", None, None),
    ("bj_qa", "北京·质检员", (R.QUALITY_INSPECTOR,), "bj", None, None),
    ("bj_t1_leader", "北京一组·组长", (R.TEAM_LEADER, R.COLLECTOR), "bj", "bj-t1", None),
    ("bj_t1_c1", "北京一组·催收员1", (R.COLLECTOR,), "bj", "bj-t1", None),
    ("bj_t1_c2", "北京一组·催收员2", (R.COLLECTOR,), "bj", "bj-t1", None),
    ("bj_t2_leader", "北京二组·组长", (R.TEAM_LEADER,), "bj", "bj-t2", None),
    ("bj_t2_c1", "北京二组·催收员1", (R.COLLECTOR,), "bj", "bj-t2", None),
    ("bj_t2_c2", "北京二组·催收员2", (R.COLLECTOR,), "bj", "bj-t2", None),
    ("bj_field", "北京·外访员", (R.FIELD_COLLECTOR,), "bj", "bj-t2", None),
    ("sh_manager", "上海·分公司经理", (R.BRANCH_MANAGER,), "sh", None, None),
    ("sh_supervisor", "上海·催收主管", (R.SUPERVISOR,), "sh", None, None),
    ("sh_assistant", "上海·协助行政", (R.ADMIN_ASSISTANT,), "sh", None, None),
    ("sh_qa", "上海·质检员", (R.QUALITY_INSPECTOR,), "sh", None, None),
    ("sh_t1_leader", "上海一组·组长", (R.TEAM_LEADER,), "sh", "sh-t1", None),
    ("sh_t1_c1", "上海一组·催收员1", (R.COLLECTOR,), "sh", "sh-t1", None),
    ("sh_t1_c2", "上海一组·催收员2", (R.COLLECTOR,), "sh", "sh-t1", None),
    ("sh_t2_leader", "上海二组·组长", (R.TEAM_LEADER,), "sh", "sh-t2", None),
    ("sh_t2_c1", "上海二组·催收员1", (R.COLLECTOR,), "sh", "sh-t2", None),
    ("sh_field", "上海·外访员", (R.FIELD_COLLECTOR,), "sh", "sh-t2", None),
    ("bank_a", "甲银行信用卡中心", (R.CLIENT_USER,), None, None, "bank-a"),
    ("bank_b", "乙消费金融公司", (R.CLIENT_USER,), None, None, "bank-b"),
]

THIRD_PARTY_ROLES = [
    ContactPoint.Role.SPOUSE,
    ContactPoint.Role.RELATIVE,
    ContactPoint.Role.COLLEAGUE,
    ContactPoint.Role.OTHER,
    ContactPoint.Role.GUARANTOR,
]


def _seed_contact_work(org: Organisation, cases: list[Case], rng: random.Random) -> None:
    """Some contact history so the work queues show real reasons: yesterday's calls, promises
    due today, broken promises and intensive follow-up (synthetic; the gate's decisions are
    written as the gate would have written them)."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    today = now().astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    workable = [c for c in cases if c.assignee_id and c.status in {"collecting", "promised"}]
    phones = dict(
        ContactPoint.objects.filter(
            organisation=org, role=ContactPoint.Role.DEBTOR, kind=ContactPoint.Kind.PHONE
        )
        .order_by("debtor_id", "id")
        .values_list("debtor_id", "id")
        .distinct()
    )
    results = ["debtor", "no_answer", "busy", "off", "debtor", "no_answer"]
    for i, case in enumerate(workable[::3]):
        assert case.assignee_id is not None
        started = datetime.combine(yesterday, time(9 + i % 10, (i * 7) % 60), tzinfo=zone)
        result = results[i % len(results)]
        decision = ContactDecision.objects.create(
            organisation=org,
            case=case,
            debtor_id=case.debtor_id,
            contact_point_id=phones.get(case.debtor_id),
            actor_id=case.assignee_id,
            channel="call",
            mode="click",
            party_role="debtor",
            at=started,
            zone=str(zone),
            allowed=True,
            profile_versions={"cn-default": 1},
            expires_at=started + timedelta(minutes=3),
            consumed_at=started + timedelta(minutes=2),
        )
        ContactAttempt.objects.create(
            organisation=org,
            case=case,
            debtor_id=case.debtor_id,
            contact_point_id=phones.get(case.debtor_id),
            decision=decision,
            actor_id=case.assignee_id,
            channel="call",
            mode="click",
            party_role="debtor",
            started_at=started,
            ended_at=started + timedelta(minutes=2),
            local_day=yesterday,
            result=result,
            conversation=result == "debtor",
            debtor_conversation=result == "debtor",
        )
        case.first_action_at = case.first_action_at or started
        case.last_attempt_at = started
        if result == "debtor":
            case.last_conversation_at = started
            case.overdue_reason = rng.choice(["cash_flow", "limited_means", "other"])
        if i % 5 == 0:
            case.next_follow_up_at = datetime.combine(today, time(11, 0), tzinfo=zone)
    promised = [c for c in workable if c.status == "promised"]
    for i, case in enumerate(promised):
        assert case.assignee_id is not None
        due = today if i % 3 == 0 else today + timedelta(days=1 + i % 6)
        Promise.objects.create(
            organisation=org,
            case=case,
            amount=(case.total_owed / 5).quantize(Decimal("0.01")),
            due_on=due,
            created_by_id=case.assignee_id,
        )
        if i % 7 == 0:  # two broken promises before: intensive follow-up
            for days in (20, 10):
                Promise.objects.create(
                    organisation=org,
                    case=case,
                    amount=(case.total_owed / 10).quantize(Decimal("0.01")),
                    due_on=today - timedelta(days=days),
                    status=Promise.Status.BROKEN,
                    evaluated_at=now(),
                    created_by_id=case.assignee_id,
                )
            case.broken_promises = 2
            case.intensive_follow_up = True
    Case.objects.bulk_update(
        workable,
        [
            "first_action_at",
            "last_attempt_at",
            "last_conversation_at",
            "overdue_reason",
            "next_follow_up_at",
            "broken_promises",
            "intensive_follow_up",
        ],
        batch_size=1000,
    )


def _seed_payments(org: Organisation, cases: list[Case], clerk: User, rng: random.Random) -> None:
    """Payments as a client's repayment files would have brought them (synthetic): paid-off
    cases paid in full, a quarter of the working cases in part, each through the case ledger;
    plus a few the files could not match, waiting in the queue at /money/."""
    at = now()
    today = timezone.localdate(at)
    payments: list[Payment] = []
    for case in cases:
        if case.status == Case.Status.PAID_OFF:
            amount = case.total_owed
        elif (
            case.status in (Case.Status.IN_COLLECTION, Case.Status.PROMISED) and rng.random() < 0.25
        ):
            amount = (case.total_owed * Decimal(rng.randrange(5, 40)) / 100).quantize(
                Decimal("0.01")
            )
        else:
            continue
        placed = timezone.localdate(case.placed_at)
        paid_on = min(today, placed + timedelta(days=rng.randrange(1, 25)))
        payments.append(
            Payment(
                organisation=org,
                contract_id=case.contract_id,
                case=case,
                source=Payment.Source.FILE,
                status=Payment.Status.POSTED,
                transaction_id=f"DEMO{rng.getrandbits(40):012X}",
                amount=amount,
                currency=case.currency,
                paid_on=paid_on,
                channel=rng.choice(["手机银行", "柜台", "自动扣款", "网银转账"]),
                match_method="case_number",
                client_case_number=case.client_case_number,
                collector_id=case.assignee_id,
                team_id=case.team_id,
                created_at=at,
                created_by=clerk,
                posted_at=at,
            )
        )
    for n in range(6 if cases else 0):
        contract_id = cases[n % len(cases)].contract_id
        payments.append(
            Payment(
                organisation=org,
                contract_id=contract_id,
                source=Payment.Source.FILE,
                status=Payment.Status.UNMATCHED,
                transaction_id=f"DEMOU{n:04d}",
                amount=Decimal(rng.randrange(100_00, 5_000_00)) / 100,
                paid_on=today - timedelta(days=n + 1),
                channel="柜台",
                client_case_number=f"X{rng.randrange(10**8):08d}",
                created_at=at,
                created_by=clerk,
            )
        )
    Payment.objects.bulk_create(payments, batch_size=1000)
    entries = []
    by_case = {c.pk: c for c in cases}
    for p in payments:
        if p.status != Payment.Status.POSTED or p.case_id is None:
            continue
        entries.append(
            LedgerEntry(
                organisation=org,
                case_id=p.case_id,
                kind=LedgerEntry.Kind.PAYMENT,
                amount=-p.amount,
                currency=p.currency,
                effective_on=p.paid_on,
                source_type="payment",
                source_id=p.pk,
                idempotency_key=None,
                created_by=clerk,
                created_at=at,
            )
        )
        by_case[p.case_id].total_owed -= p.amount
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)
    Case.objects.bulk_update([by_case[e.case_id] for e in entries], ["total_owed"], batch_size=1000)


def _seed_plans_and_reductions(
    org: Organisation, cases: list[Case], clerk: User, supervisor: User, rng: random.Random
) -> None:
    """Cases the demo shows 分期中 get the running plan behind that status (approved, the
    client's consent, signed three days ago); cases shown 已和解 get the payment and the
    effective reduction that settled them, through the ledger (synthetic)."""
    at = now()
    today = timezone.localdate(at)
    for case in cases:
        if case.status == Case.Status.ON_PLAN and case.total_owed > 0:
            total = case.total_owed
            first = (total * Decimal("0.3")).quantize(Decimal("0.01"))
            second = ((total - first) / 2).quantize(Decimal("0.01"))
            plan = RepaymentPlan.objects.create(
                organisation=org,
                case=case,
                status=RepaymentPlan.Status.ACTIVE,
                total=total,
                balance_at_proposal=total,
                currency=case.currency,
                rules={
                    "plan_max_months": 6,
                    "plan_first_instalment_min_pct": 20,
                    "plan_grace_days": 5,
                    "versions": {},
                },
                proposed_by=case.assignee or clerk,
                proposed_at=at - timedelta(days=6),
                approved_by=supervisor,
                approved_at=at - timedelta(days=5),
                consent_reference=f"DEMO-同意-{case.pk}",
                consent_sha256="demo",
                consent_by=clerk,
                consent_at=at - timedelta(days=4),
                signed_on=today - timedelta(days=3),
                debtor_document_sha256="demo",
                signed_by=case.assignee or clerk,
                activated_at=at - timedelta(days=3),
            )
            PlanInstalment.objects.bulk_create(
                PlanInstalment(
                    plan=plan, number=n, due_on=today + timedelta(days=5 + 30 * (n - 1)), amount=a
                )
                for n, a in ((1, first), (2, second), (3, total - first - second))
            )
        elif case.status == Case.Status.SETTLED and case.total_owed > 0:
            balance = case.total_owed
            waived = (balance * Decimal(rng.randrange(10, 30)) / 100).quantize(Decimal("0.01"))
            paid = balance - waived
            paid_on = min(today, timezone.localdate(case.placed_at) + timedelta(days=10))
            payment = Payment.objects.create(
                organisation=org,
                contract_id=case.contract_id,
                case=case,
                source=Payment.Source.FILE,
                status=Payment.Status.POSTED,
                transaction_id=f"DEMOS{case.pk:08d}",
                amount=paid,
                currency=case.currency,
                paid_on=paid_on,
                channel="柜台",
                match_method="case_number",
                client_case_number=case.client_case_number,
                collector_id=case.assignee_id,
                team_id=case.team_id,
                created_at=at,
                created_by=clerk,
                posted_at=at,
            )
            reduction = Reduction.objects.create(
                organisation=org,
                case=case,
                status=Reduction.Status.EFFECTIVE,
                balance_at_request=balance,
                waived=waived,
                remainder=paid,
                pct=(waived / balance * 100).quantize(Decimal("0.01")),
                pay_by=paid_on,
                authority_pct=Decimal("30.00"),
                needs_client=False,
                reason="演示：失业，家属代为筹款",
                evidence_sha256="demo",
                requested_by=case.assignee or clerk,
                requested_at=at - timedelta(days=20),
                approved_by=supervisor,
                approved_at=at - timedelta(days=19),
                effective_at=at,
                waived_applied=waived,
            )
            LedgerEntry.objects.bulk_create(
                [
                    LedgerEntry(
                        organisation=org,
                        case=case,
                        kind=LedgerEntry.Kind.PAYMENT,
                        amount=-paid,
                        currency=case.currency,
                        effective_on=paid_on,
                        source_type="payment",
                        source_id=payment.pk,
                        created_by=clerk,
                        created_at=at,
                    ),
                    LedgerEntry(
                        organisation=org,
                        case=case,
                        kind=LedgerEntry.Kind.REDUCTION,
                        amount=-waived,
                        currency=case.currency,
                        effective_on=paid_on,
                        source_type="reduction",
                        source_id=reduction.pk,
                        idempotency_key=f"reduction:{reduction.pk}",
                        created_at=at,
                    ),
                ]
            )
            Case.objects.filter(pk=case.pk).update(total_owed=Decimal("0.00"))


def demo_logins(org: Organisation) -> list[DemoLogin]:
    users = (
        User.objects.filter(organisation=org)
        .select_related("unit", "team")
        .prefetch_related("roles")
    )
    return [
        DemoLogin(
            username=u.username,
            name=u.display_name,
            roles=tuple(r.name for r in u.roles.all()),
            where=" / ".join(
                x for x in (u.unit.name if u.unit else "", u.team.name if u.team else "") if x
            ),
        )
        for u in users.order_by("id")
    ]


@transaction.atomic
def demo_seed(*, cases: int = 5000, seed: int = 2026, password: str = DEMO_PASSWORD) -> DemoResult:
    """Create the demo agency once; a second call only reports what is there."""
    existing = Organisation.objects.filter(code=DEMO_ORG_CODE).first()
    if existing is not None:
        return DemoResult(False, demo_logins(existing), Case.objects.for_org(existing).count())
    rng = random.Random(seed)
    roles_ensure()
    org = Organisation.objects.create(name="示例催收服务有限公司", code=DEMO_ORG_CODE)
    hq = OrgUnit.objects.create(organisation=org, kind=OrgUnit.Kind.HQ, name="总公司", code="hq")
    units = {
        "hq": hq,
        "bj": OrgUnit.objects.create(
            organisation=org,
            kind=OrgUnit.Kind.BRANCH,
            name="北京分公司",
            code="bj",
            parent=hq,
            region="北京",
        ),
        "sh": OrgUnit.objects.create(
            organisation=org,
            kind=OrgUnit.Kind.BRANCH,
            name="上海分公司",
            code="sh",
            parent=hq,
            region="上海",
        ),
    }
    teams = {
        code: Team.objects.create(organisation=org, branch=units[code[:2]], name=name, code=code)
        for code, name in [
            ("bj-t1", "北京一组"),
            ("bj-t2", "北京二组"),
            ("sh-t1", "上海一组"),
            ("sh-t2", "上海二组"),
        ]
    }
    clients = {
        "bank-a": Client.objects.create(
            organisation=org, name="甲银行信用卡中心", code="bank-a", liaison_phone="010-00000000"
        ),
        "bank-b": Client.objects.create(
            organisation=org, name="乙消费金融公司", code="bank-b", liaison_phone="021-00000000"
        ),
    }
    today = local_today()
    contracts = {
        "bank-a": Contract.objects.create(
            organisation=org,
            client=clients["bank-a"],
            number="HT-A-2026-01",
            name="甲银行信用卡逾期账户委托催收协议",
            starts_on=date(today.year, 1, 1),
            ends_on=date(today.year + 1, 12, 31),
            commission_table={
                "by_stage": {
                    "M1": "0.06",
                    "M2": "0.10",
                    "M3": "0.15",
                    "M4": "0.18",
                    "M5": "0.22",
                    "M6+": "0.28",
                }
            },
        ),
        "bank-b": Contract.objects.create(
            organisation=org,
            client=clients["bank-b"],
            number="HT-B-2026-01",
            name="乙消费金融贷款逾期委托协议",
            starts_on=date(today.year, 3, 1),
            ends_on=date(today.year + 1, 2, 28),
            import_error_policy="reject",
            commission_table={
                "by_stage": {"M1": "0.08", "M2": "0.12", "M3": "0.16", "M4+": "0.25"}
            },
        ),
    }
    roles = {r.code: r for r in Role.objects.all()}
    users: dict[str, User] = {}
    hashed = User(username="x")
    hashed.set_password(password)  # one Argon2 hash shared by all demo logins: seconds, not minutes
    for username, name, role_codes, unit_code, team_code, client_code in PEOPLE:
        user = User.objects.create(
            username=username,
            display_name=name,
            organisation=org,
            unit=units[unit_code] if unit_code else None,
            team=teams[team_code] if team_code else None,
            password=hashed.password,
            training_completed_on=today - timedelta(days=60),
            training_valid_until=today + timedelta(days=300),
            nda_signed_on=today - timedelta(days=60),
            nda_valid_until=today + timedelta(days=700),
        )
        RoleAssignment.objects.bulk_create(
            [RoleAssignment(user=user, role=roles[c]) for c in role_codes]
        )
        if client_code:
            ClientUser.objects.create(organisation=org, user=user, client=clients[client_code])
        users[username] = user
    # A lapsed-training collector (allocation will refuse them new cases).
    User.objects.filter(username="sh_t2_c1").update(training_valid_until=today - timedelta(days=3))

    collectors = {
        code: [users[n] for n, _, cs, _, t, _ in PEOPLE if t == code and R.COLLECTOR in cs]
        for code in teams
    }
    batches = {}
    for key, contract in contracts.items():
        for month_back in (1, 0):
            received = now() - timedelta(days=30 * month_back + 2)
            ref = f"{key.upper()}-{received:%Y%m}"
            batches[(key, month_back)] = Batch.objects.create(
                organisation=org,
                contract=contract,
                reference=ref,
                status=Batch.Status.IMPORTED,
                received_at=received,
                imported_at=received + timedelta(minutes=40),
                file_name=f"{ref}.xlsx",
                file_sha256=f"{rng.getrandbits(256):064x}",
            )

    people = PersonFactory(seed)
    debtors: list[Debtor] = []
    persons = []
    n_people = max(1, int(cases * 0.85))
    for _ in range(n_people):
        p = people.person()
        persons.append(p)
        debtors.append(
            debtor_build(
                organisation_id=org.pk,
                data=DebtorInput(
                    name=p.name,
                    id_number=p.id_number,
                    employer=p.employer,
                    employer_address=p.employer_address,
                    province=p.province,
                    city=p.city,
                ),
            )
        )
    Debtor.objects.bulk_create(debtors, batch_size=1000)

    contacts: list[ContactPoint] = []
    for d, p in zip(debtors, persons, strict=True):
        contacts.append(contact_point_build(debtor=d, kind="phone", value=p.mobile, label="手机"))
        contacts.append(
            contact_point_build(debtor=d, kind="address", value=p.home_address, label="家庭地址")
        )
        contacts.append(
            contact_point_build(
                debtor=d, kind="address", value=p.employer_address, label="单位地址"
            )
        )
        if rng.random() < 0.3:
            contacts.append(
                contact_point_build(debtor=d, kind="phone", value=people.mobile(), label="备用手机")
            )
        for _ in range(rng.randrange(1, 4)):
            role = rng.choice(THIRD_PARTY_ROLES)
            cp = contact_point_build(
                debtor=d,
                kind="phone",
                value=people.mobile(),
                role=role,
                name=people.contact_name(),
                label="联系人",
            )
            if rng.random() < 0.05:
                cp.refused_contact, cp.refused_at = True, now()
            contacts.append(cp)
    ContactPoint.objects.bulk_create(contacts, batch_size=2000)

    statuses = [
        (Case.Status.PENDING_ALLOCATION, 15),
        (Case.Status.ASSIGNED, 20),
        (Case.Status.IN_COLLECTION, 40),
        (Case.Status.PROMISED, 12),
        (Case.Status.ON_PLAN, 6),
        (Case.Status.PAID_OFF, 4),
        (Case.Status.SETTLED, 2),
        (Case.Status.RETURNED, 1),
    ]
    status_pop = [s for s, w in statuses for _ in range(w)]
    built: list[Case] = []
    allocation_due: dict[int, Deadline] = {}
    for i in range(cases):
        # The first debtors get a second case, some at the other client: the cross-client link.
        debtor_idx = i if i < n_people else rng.randrange(0, n_people)
        debtor, person = debtors[debtor_idx], persons[debtor_idx]
        client_key = "bank-a" if (i % 5) < 3 else "bank-b"
        if i >= n_people:
            client_key = "bank-b" if client_key == "bank-a" else "bank-a"
        product = Case.Product.CARD if client_key == "bank-a" else Case.Product.LOAN
        branch_code = (
            "bj" if person.province in ("北京市", "山东省", "陕西省", "湖北省", "四川省") else "sh"
        )
        overdue = rng.choice(
            [
                rng.randrange(1, 31),
                rng.randrange(31, 91),
                rng.randrange(91, 181),
                rng.randrange(181, 720),
            ]
        )
        principal = Decimal(rng.randrange(2_000_00, 200_000_00)) / 100
        interest = (principal * Decimal(rng.randrange(2, 25)) / 100).quantize(Decimal("0.01"))
        fees = Decimal(rng.randrange(0, 2_000_00)) / 100
        account = (
            ("6225" + f"{rng.randrange(0, 10**12):012d}")
            if product == Case.Product.CARD
            else f"LN{rng.randrange(0, 10**14):014d}"
        )
        batch = batches[(client_key, rng.choice((0, 1)))]
        case = case_build(
            contract=contracts[client_key],
            debtor=debtor,
            branch=units[branch_code],
            batch=batch,
            placed_at=batch.imported_at,
            data=CaseInput(
                client_case_number=f"{client_key[-1].upper()}{batch.received_at:%y%m}{i:07d}",
                product=product,
                account_number=account,
                principal=principal,
                interest=interest,
                fees=fees,
                overdue_days=overdue,
                region=f"{person.province}{person.city}",
            ),
        )
        status = rng.choice(status_pop)
        case.status = status
        if batch.pk not in allocation_due:
            allocation_due[batch.pk] = deadline(start=batch.imported_at or now(), working_days=1)
        case.allocation_due_at = allocation_due[batch.pk].due
        case.sla_estimated = allocation_due[batch.pk].estimated
        if status != Case.Status.PENDING_ALLOCATION:
            team_code = rng.choice([c for c in teams if c.startswith(branch_code)])
            case.team = teams[team_code]
            case.assignee = rng.choice(collectors[team_code])
        if status in Case.TERMINAL:
            case.closed_at = now()
        built.append(case)
    Case.objects.bulk_create(built, batch_size=1000)
    # A few stop-collection holds so the flag shows in lists and pages.
    held = [c for c in built if c.status not in Case.TERMINAL][:: max(1, cases // 40)]
    risk = users["risk"]
    Hold.objects.bulk_create(
        [
            Hold(
                organisation=org,
                case=c,
                reason=rng.choice(
                    [Hold.Reason.COMPLAINT, Hold.Reason.DISPUTE, Hold.Reason.LITIGATION]
                ),
                note="演示数据",
                set_by=risk,
            )
            for c in held
        ]
    )
    _seed_contact_work(org, [c for c in built if c.pk not in {h.pk for h in held}], rng)
    _seed_payments(org, built, users["bj_assistant"], rng)
    _seed_plans_and_reductions(org, built, users["bj_assistant"], users["bj_supervisor"], rng)
    for batch in batches.values():
        agg = [c for c in built if c.batch_id == batch.pk]
        batch.case_count = len(agg)
        batch.total_entrusted = sum((c.entrusted_amount for c in agg), Decimal(0))
        batch.save(update_fields=["case_count", "total_entrusted"])
    # Allocation: a default rule set per contract (every team, balanced), so the waiting
    # cases can be previewed and allocated at /allocation/ right away.
    for contract in contracts.values():
        rule_set_save(
            contract=contract,
            name="默认规则",
            rules=[
                RuleInput(
                    name="全部案件 → 各组均衡",
                    targets=[TargetInput(team_id=t.pk) for t in teams.values()],
                )
            ],
            actor=users["hq"],
        )
    transaction.on_commit(refresh_planner_statistics)
    audit_record(
        action="demo.data.seeded",
        actor=None,
        organisation=org,
        data={"cases": cases, "debtors": len(debtors), "contacts": len(contacts), "seed": seed},
    )
    return DemoResult(True, demo_logins(org), cases)
