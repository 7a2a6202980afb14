"""Clients and contracts: filed by the system administrator, read by managers and the client."""

import pytest

from recoup.audit.models import AuditEvent
from recoup.clients.models import Client, Contract

pytestmark = pytest.mark.django_db

CONTRACT = {
    "number": "A-2",
    "name": "第二期委托协议",
    "starts_on": "2026-12-01",
    "ends_on": "2027-11-30",
    "case_period_days": 30,
    "review_every_days": 7,
    "sla_profile": "cn-default",
    "compliance_profile": "cn-default",
    "retention_years": 5,
    "recording_retention_years": 2,
    "reconciliation_day": 5,
    "import_error_policy": "reject",
    "commission_table": '{"by_stage": {"M1": "0.08"}}',
}


def test_the_admin_files_a_client_and_a_contract(world, client, login):
    login(world.sam)
    response = client.post("/clients/new/", {"name": "丁银行", "code": "bank-d"})
    assert response.status_code == 302
    bank_d = Client.objects.get(code="bank-d")
    response = client.post("/clients/contracts/new/", {**CONTRACT, "client": bank_d.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    contract = Contract.objects.get(number="A-2")
    assert contract.commission_table == {"by_stage": {"M1": "0.08"}}
    assert contract.import_error_policy == "reject"
    assert AuditEvent.objects.filter(
        action="clients.contract.created", object_id=str(contract.pk)
    ).exists()


def test_contract_changes_are_audited_with_old_and_new_values(world, client, login):
    login(world.sam)
    data = {**CONTRACT, "client": world.bank_a.pk, "number": "A-1", "case_period_days": 45}
    response = client.post(f"/clients/contracts/{world.contract_a.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    world.contract_a.refresh_from_db()
    assert world.contract_a.case_period_days == 45
    assert world.contract_a.number == "A-1"
    event = AuditEvent.objects.filter(action="clients.contract.updated").latest("seq")
    assert event.data["changed"]["case_period_days"] == [30, 45]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"retention_years": 3}, "5"),
        ({"ends_on": "2026-01-01"}, "到期日期不能早于生效日期"),
        ({"number": "A-1"}, "已存在"),
        ({"reconciliation_day": 31}, "28"),
    ],
)
def test_bad_contracts_are_refused_and_nothing_is_stored(world, client, login, change, message):
    login(world.sam)
    before = Contract.objects.count()
    response = client.post(
        "/clients/contracts/new/", {**CONTRACT, "client": world.bank_a.pk, **change}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Contract.objects.count() == before


def test_a_client_user_reads_only_their_own_contracts(world, client, login):
    login(world.cli)
    body = client.get("/clients/").content.decode()
    assert "A-1" in body
    assert "B-1" not in body
    assert client.get(f"/clients/contracts/{world.contract_b.pk}/").status_code == 404
    assert (
        client.post(
            f"/clients/contracts/{world.contract_a.pk}/", {**CONTRACT, "client": world.bank_a.pk}
        ).status_code
        == 403
    )


def test_collectors_have_no_contract_screens(world, client, login):
    login(world.ada)
    assert client.get("/clients/").status_code == 403
    assert client.get("/clients/new/").status_code == 403


def test_another_agencys_contract_is_404(world, client, login):
    login(world.sam)
    from recoup.clients.models import Contract as C

    rival_contract = C.objects.get(organisation=world.rival)
    assert client.get(f"/clients/contracts/{rival_contract.pk}/").status_code == 404


def test_the_admin_links_a_portal_user_to_a_client(world, client, login):
    from recoup.accounts.models import Role, RoleAssignment, User
    from recoup.clients.models import ClientUser

    bank_user = User.objects.create_user(
        username="bank_b_portal", password="x-long-password-1", organisation=world.org
    )
    RoleAssignment.objects.create(user=bank_user, role=Role.objects.get(code="client_user"))
    login(world.sam)
    page = client.get("/clients/").content.decode()
    title = page.split("</title>")[0]
    body = page.split("</title>")[1]
    assert "bank_b_portal" not in title
    assert "bank_b_portal" in body
    assert "未关联" in body
    response = client.post(
        "/clients/portal-users/", {"person": bank_user.pk, "client": world.bank_b.pk}
    )
    assert response.status_code == 302
    assert ClientUser.objects.get(user=bank_user).client == world.bank_b
    assert AuditEvent.objects.filter(action="clients.portal_user.linked").exists()


def test_only_client_user_logins_can_be_linked(world, client, login):
    from recoup.clients.models import ClientUser

    login(world.sam)
    client.post("/clients/portal-users/", {"person": world.ada.pk, "client": world.bank_b.pk})
    assert not ClientUser.objects.filter(user=world.ada).exists()
