import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_it_issues_a_token_that_works_then_revokes_it(world, client, capsys):
    call_command(
        "api_token", "create", "--user", "cli", "--role", "client_user", "--name", "bank-a-sftp"
    )
    raw = capsys.readouterr().out.splitlines()[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/cases", **auth).status_code == 200
    call_command("api_token", "list", "--org", "acme")
    assert "bank-a-sftp" in capsys.readouterr().out
    call_command("api_token", "revoke", raw[:12], "--by", "sam")
    assert client.get("/api/v1/cases", **auth).status_code == 401


def test_a_role_the_user_lacks_is_a_clear_error(world):
    with pytest.raises(CommandError, match="角色"):
        call_command("api_token", "create", "--user", "cli", "--role", "hq", "--name", "x")


def test_only_an_admin_of_the_same_agency_may_revoke(world, capsys):
    call_command("api_token", "create", "--user", "cli", "--role", "client_user", "--name", "x")
    raw = capsys.readouterr().out.splitlines()[1]
    with pytest.raises(CommandError):
        call_command("api_token", "revoke", raw[:12], "--by", "ola")  # another agency
    with pytest.raises(CommandError):
        call_command("api_token", "revoke", raw[:12], "--by", "ada")  # not an admin
