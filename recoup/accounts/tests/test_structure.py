"""Setting up an agency: the first admin from the command line, then branches and teams."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recoup.accounts.models import Organisation, OrgUnit, Team, User
from recoup.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_create_agency_makes_the_org_its_hq_and_first_admin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-strong-admin-passphrase\n"))
    call_command("create_agency", "--name", "新机构", "--code", "newco", "--admin", "newco_admin")
    org = Organisation.objects.get(code="newco")
    admin = User.objects.get(username="newco_admin")
    assert admin.role_codes == {"system_admin"}
    assert admin.unit.kind == OrgUnit.Kind.HQ
    assert admin.check_password("a-strong-admin-passphrase")
    assert AuditEvent.objects.filter(
        action="accounts.organisation.created", organisation=org
    ).exists()


def test_create_agency_refuses_a_weak_password_and_creates_nothing(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError):
        call_command(
            "create_agency", "--name", "新机构", "--code", "newco", "--admin", "newco_admin"
        )
    assert not Organisation.objects.filter(code="newco").exists()


def test_the_admin_adds_a_branch_and_a_team(world, client, login):
    login(world.sam)
    assert (
        client.post(
            "/people/structure/", {"kind": "branch", "name": "西分", "code": "west"}
        ).status_code
        == 302
    )
    west = OrgUnit.objects.get(code="west", organisation=world.org)
    assert west.parent == world.hq
    response = client.post(
        "/people/structure/", {"kind": "team", "branch": west.pk, "name": "西一组", "code": "w1"}
    )
    assert response.status_code == 302
    assert Team.objects.get(code="w1").branch == west
    assert AuditEvent.objects.filter(action="accounts.team.created").exists()


def test_a_duplicate_code_is_refused(world, client, login):
    login(world.sam)
    response = client.post(
        "/people/structure/", {"kind": "branch", "name": "北分2", "code": "north"}
    )
    assert response.status_code == 400
    assert "已存在" in response.content.decode()


def test_only_the_admin_shapes_the_organisation(world, client, login):
    login(world.hal)
    assert client.get("/people/structure/").status_code == 403
