"""Personas and a small case world shared by the tests (see docs/testing.md).

Personas (password for all: ``PASSWORD``):
- ``ada``: phone collector, team n1 (north) — sees only cases assigned to her.
- ``ben``: phone collector, team n2 (north) — a peer; must not see ada's cases.
- ``fay``: field collector, team n2 — own (assigned) cases only.
- ``tom``: team leader of n1 — sees n1's cases.
- ``sue``: supervisor, north branch — sees the north branch, may hold and unmask.
- ``amy``: admin assistant, north — reads the branch, may not unmask.
- ``quinn``: quality inspector, north — reads the branch, may not unmask.
- ``rick``: risk officer at HQ — every case of acme, may hold.
- ``max``: branch manager, south — sees only south.
- ``hal``: HQ — all of acme.
- ``cli``: client user of bank_a — bank_a's cases only, read-only.
- ``sam``: system administrator — no case content.
- ``ola``: supervisor at the rival agency — must never see acme's data.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from recoup.accounts.models import Organisation, OrgUnit, Role, RoleAssignment, Team, User
from recoup.accounts.services import roles_ensure
from recoup.cases.models import Case
from recoup.cases.services import (
    CaseInput,
    DebtorInput,
    case_open,
    contact_point_add,
    debtor_get_or_create,
)
from recoup.clients.models import Client, ClientUser, Contract
from recoup.core.clock import now
from recoup.core.identity import id_check_char

PASSWORD = "correct-horse-battery"


def make_id_number(serial: int, born: str = "19880512") -> str:
    first17 = f"110105{born}{serial % 1000:03d}"
    return first17 + id_check_char(first17)


@dataclass
class World:
    org: Organisation
    rival: Organisation
    hq: OrgUnit
    north: OrgUnit
    south: OrgUnit
    n1: Team
    n2: Team
    s1: Team
    bank_a: Client
    bank_b: Client
    contract_a: Contract
    contract_b: Contract
    people: dict[str, User]
    cases: dict[str, Case]

    def __getattr__(self, name: str) -> User:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)


def _user(
    org: Organisation,
    username: str,
    roles: list[str],
    unit: OrgUnit | None = None,
    team: Team | None = None,
) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        organisation=org,
        unit=unit,
        team=team,
        display_name=username.title(),
        training_valid_until=now().date() + timedelta(days=100),
        nda_valid_until=now().date() + timedelta(days=100),
    )
    for code in roles:
        RoleAssignment.objects.create(user=user, role=Role.objects.get(code=code))
    return user


def _case(
    world_org: Organisation,
    contract: Contract,
    branch: OrgUnit,
    number: str,
    serial: int,
    phone: str,
    team: Team | None = None,
    assignee: User | None = None,
    name: str = "张三丰",
) -> Case:
    debtor, _ = debtor_get_or_create(
        organisation=world_org,
        data=DebtorInput(
            name=name,
            id_number=make_id_number(serial),
            employer="示例科技有限公司",
            province="北京市",
            city="北京市",
        ),
        actor=None,
    )
    contact_point_add(debtor=debtor, kind="phone", value=phone, label="手机", actor=None)
    contact_point_add(
        debtor=debtor,
        kind="address",
        value="北京市朝阳区建国路88号1栋101室",
        label="家庭地址",
        actor=None,
    )
    case = case_open(
        contract=contract,
        debtor=debtor,
        branch=branch,
        actor=None,
        data=CaseInput(
            client_case_number=number,
            product="card",
            account_number=f"622588{serial:010d}",
            principal=Decimal("10000.00"),
            interest=Decimal("523.45"),
            fees=Decimal("50.00"),
            overdue_days=45,
        ),
    )
    if assignee is not None or team is not None:
        Case.objects.filter(pk=case.pk).update(
            team=team, assignee=assignee, status=Case.Status.IN_COLLECTION
        )
        case.refresh_from_db()
    return case


CALENDAR_SEED_MIGRATION = "recoup.workdays.migrations.0002_seed_2020_2026"


def ensure_calendar_seeded() -> None:
    """The working-day calendar 2020–2026, as the data migration seeds it.

    Tests on ``transactional_db`` (browser tests, concurrency tests) flush every table when
    they end, migration data included; later tests then find the calendar empty. This re-runs
    the migration's own function when the seed is missing (same data, no audit event).
    """
    from django.apps import apps

    from recoup.workdays.models import CalendarYear

    migration = importlib.import_module(CALENDAR_SEED_MIGRATION)
    if CalendarYear.objects.filter(year__in=migration.YEARS).count() < len(migration.YEARS):
        migration.seed(apps, None)


@pytest.fixture
def calendar_seeded(db: None) -> None:
    ensure_calendar_seeded()


@pytest.fixture
def world(db: None) -> World:
    roles_ensure()
    ensure_calendar_seeded()
    org = Organisation.objects.create(name="Acme 催收", code="acme")
    rival = Organisation.objects.create(name="Rival 催收", code="rival")
    hq = OrgUnit.objects.create(organisation=org, kind="hq", name="总公司", code="hq")
    north = OrgUnit.objects.create(
        organisation=org, kind="branch", name="北分", code="north", parent=hq
    )
    south = OrgUnit.objects.create(
        organisation=org, kind="branch", name="南分", code="south", parent=hq
    )
    n1 = Team.objects.create(organisation=org, branch=north, name="北一组", code="n1")
    n2 = Team.objects.create(organisation=org, branch=north, name="北二组", code="n2")
    s1 = Team.objects.create(organisation=org, branch=south, name="南一组", code="s1")
    bank_a = Client.objects.create(organisation=org, name="甲银行", code="bank-a")
    bank_b = Client.objects.create(organisation=org, name="乙银行", code="bank-b")
    start = date(2026, 1, 1)
    contract_a = Contract.objects.create(
        organisation=org, client=bank_a, number="A-1", name="A", starts_on=start
    )
    contract_b = Contract.objects.create(
        organisation=org, client=bank_b, number="B-1", name="B", starts_on=start
    )
    r_hq = OrgUnit.objects.create(organisation=rival, kind="hq", name="Rival HQ", code="hq")
    r_branch = OrgUnit.objects.create(
        organisation=rival, kind="branch", name="Rival 分", code="rb", parent=r_hq
    )
    r_client = Client.objects.create(organisation=rival, name="丙银行", code="bank-c")
    r_contract = Contract.objects.create(
        organisation=rival, client=r_client, number="C-1", name="C", starts_on=start
    )

    people = {
        "ada": _user(org, "ada", ["collector"], north, n1),
        "ben": _user(org, "ben", ["collector"], north, n2),
        "fay": _user(org, "fay", ["field_collector"], north, n2),
        "tom": _user(org, "tom", ["team_leader"], north, n1),
        "sue": _user(org, "sue", ["supervisor"], north),
        "amy": _user(org, "amy", ["admin_assistant"], north),
        "quinn": _user(org, "quinn", ["quality_inspector"], north),
        "rick": _user(org, "rick", ["risk_officer"], hq),
        "max": _user(org, "max", ["branch_manager"], south),
        "hal": _user(org, "hal", ["hq"], hq),
        "cli": _user(org, "cli", ["client_user"]),
        "sam": _user(org, "sam", ["system_admin"], hq),
        "ola": _user(rival, "ola", ["supervisor"], r_branch),
    }
    ClientUser.objects.create(organisation=org, user=people["cli"], client=bank_a)

    cases = {
        # ada's case in n1, north, bank_a
        "ada_case": _case(org, contract_a, north, "A0001", 1, "13812341234", n1, people["ada"]),
        # ben's case in n2, north, bank_b
        "ben_case": _case(
            org, contract_b, north, "B0001", 2, "13912345678", n2, people["ben"], name="李四"
        ),
        # fay's field case, n2, bank_a
        "fay_case": _case(
            org, contract_a, north, "A0002", 3, "13700001111", n2, people["fay"], name="王五"
        ),
        # an unassigned south case of bank_b
        "south_case": _case(org, contract_b, south, "B0002", 4, "15000002222", name="赵六"),
        # the rival's case: nobody at acme may see it
        "rival_case": _case(rival, r_contract, r_branch, "C0001", 5, "18600003333", name="钱七"),
    }
    return World(
        org,
        rival,
        hq,
        north,
        south,
        n1,
        n2,
        s1,
        bank_a,
        bank_b,
        contract_a,
        contract_b,
        people,
        cases,
    )


@pytest.fixture
def login(client):  # type: ignore[no-untyped-def]
    """Log a persona in through the real login form (lockout and single-session apply)."""

    def _login(user: User) -> None:
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 302, response.content[:500]

    return _login


__all__ = ["PASSWORD", "World", "make_id_number", "now"]


def table_indexes(table: str) -> dict[str, str]:
    """Every index of ``table`` by name, with its definition (SQLite's implicit indexes of
    UNIQUE and PRIMARY KEY constraints have none: ""; PostgreSQL's primary key is listed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, COALESCE(sql, '') FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = %s",
                [table],
            )
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
            )
        return dict(cursor.fetchall())


@contextlib.contextmanager
def data_key_rotated(*, batch_size: int = 1000) -> Iterator[str]:
    """A new active data key, ``manage.py reseal_personal_data`` run under it, then every
    other key removed: inside the block only what the command re-sealed can be read.
    Yields the new key's id."""
    from django.core.management import call_command
    from django.test import override_settings

    from recoup.core import crypto

    new = crypto.parse_data_keys(f"k2027:{crypto.generate_key()}")["k2027"]
    with override_settings(
        RECOUP_DATA_KEYS={**crypto.keyring().keys, "k2027": new}, RECOUP_DATA_KEY_ID="k2027"
    ):
        call_command("reseal_personal_data", batch_size=batch_size)
    with override_settings(RECOUP_DATA_KEYS={"k2027": new}, RECOUP_DATA_KEY_ID="k2027"):
        yield "k2027"
