"""The JSON API: token and session auth, scoping, errors."""

from datetime import timedelta

import pytest

from recoup.accounts.services import api_token_create, api_token_revoke
from recoup.audit.models import AuditEvent
from recoup.cases.models import Hold
from recoup.core.clock import now

pytestmark = pytest.mark.django_db


def _token(world, user, role, expires_at=None):
    token, raw = api_token_create(
        organisation=world.org,
        user=user,
        role=role,
        name="dialer",
        expires_at=expires_at,
        actor=None,
    )
    return token, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_a_token_lists_the_cases_of_its_user(world, client):
    _, auth = _token(world, world.ada, "collector")
    response = client.get("/api/v1/cases", **auth)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    row = data["results"][0]
    assert row["client_case_number"] == "A0001"
    assert row["debtor_name_masked"] == "张**"
    assert row["total_owed"] == "10573.45"


def test_tokens_are_stored_hashed(world):
    token, auth = _token(world, world.ada, "collector")
    raw = auth["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    assert raw not in token.token_hash
    assert len(token.token_hash) == 64


def test_a_token_is_narrowed_to_its_role(world, client):
    from recoup.accounts.models import Role, RoleAssignment

    RoleAssignment.objects.create(user=world.cli, role=Role.objects.get(code="hq"))
    _, auth = _token(world, world.cli, "client_user")
    numbers = {
        r["client_case_number"] for r in client.get("/api/v1/cases", **auth).json()["results"]
    }
    assert numbers == {"A0001", "A0002"}


def test_a_token_for_a_role_the_user_lacks_is_refused(world):
    from recoup.core.exceptions import RecoupError

    with pytest.raises(RecoupError):
        api_token_create(
            organisation=world.org, user=world.ada, role="hq", name="x", expires_at=None, actor=None
        )


def test_an_expired_token_gets_401(world, client):
    _, auth = _token(world, world.ada, "collector", expires_at=now() - timedelta(seconds=1))
    response = client.get("/api/v1/cases", **auth)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_revoked_token_gets_401(world, client):
    token, auth = _token(world, world.ada, "collector")
    api_token_revoke(token=token, actor=world.sam)
    assert client.get("/api/v1/cases", **auth).status_code == 401


def test_no_credentials_get_401(world, client):
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


def test_another_organisations_case_is_404(world, client):
    _, auth = _token(world, world.sue, "supervisor")
    response = client.get(f"/api/v1/cases/{world.cases['rival_case'].pk}", **auth)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_detail_shows_masked_contacts_and_audits_the_view(world, client):
    _, auth = _token(world, world.ada, "collector")
    case = world.cases["ada_case"]
    data = client.get(f"/api/v1/cases/{case.pk}", **auth).json()
    phones = [c["value_masked"] for c in data["contacts"] if c["kind"] == "phone"]
    assert phones == ["138****1234"]
    assert data["debtor_id_number_masked"].startswith("1101")
    event = AuditEvent.objects.filter(action="cases.case.viewed", case_id=case.pk).latest("seq")
    assert event.actor_kind == "api"


def test_malformed_input_gets_422_with_field_errors(world, client):
    _, auth = _token(world, world.sue, "supervisor")
    response = client.get("/api/v1/cases?page_size=100000&status=nonsense", **auth)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("query", "page_size") in fields
    assert ("query", "status") in fields
    case = world.cases["ada_case"]
    response = client.post(
        f"/api/v1/cases/{case.pk}/holds", data="{}", content_type="application/json", **auth
    )
    assert response.status_code == 422
    assert ("body", "body", "reason") in {tuple(e["loc"]) for e in response.json()["detail"]}


def test_a_supervisor_puts_a_case_on_hold(world, client):
    _, auth = _token(world, world.sue, "supervisor")
    case = world.cases["ada_case"]
    response = client.post(
        f"/api/v1/cases/{case.pk}/holds",
        data={"reason": "complaint", "note": "客户投诉"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201, response.content
    assert Hold.objects.filter(case=case, reason="complaint").exists()
    assert AuditEvent.objects.filter(action="cases.hold.placed", case_id=case.pk).exists()
    assert client.get(f"/api/v1/cases/{case.pk}", **auth).json()["on_hold"] is True


def test_a_bad_hold_reason_is_400_and_changes_nothing(world, client):
    _, auth = _token(world, world.sue, "supervisor")
    case = world.cases["ada_case"]
    response = client.post(
        f"/api/v1/cases/{case.pk}/holds",
        data={"reason": "bored"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert not Hold.objects.filter(case=case).exists()


def test_a_client_user_may_read_but_not_hold(world, client):
    _, auth = _token(world, world.cli, "client_user")
    case = world.cases["ada_case"]
    assert client.get(f"/api/v1/cases/{case.pk}", **auth).status_code == 200
    response = client.post(
        f"/api/v1/cases/{case.pk}/holds",
        data={"reason": "client"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 403
    assert not Hold.objects.filter(case=case).exists()


def test_session_writes_need_csrf(world):
    from django.test import Client

    from tests.fixtures import PASSWORD

    strict = Client(enforce_csrf_checks=True)
    strict.get("/accounts/login/")
    token = strict.cookies["csrftoken"].value
    strict.post(
        "/accounts/login/", {"username": "sue", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    case = world.cases["ada_case"]
    response = strict.post(
        f"/api/v1/cases/{case.pk}/holds",
        data={"reason": "complaint"},
        content_type="application/json",
    )
    assert response.status_code in (401, 403)
    assert not Hold.objects.filter(case=case).exists()


def test_openapi_docs_are_served_without_a_cdn(world, client):
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/cases" in schema.json()["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    body = docs.content.decode()
    assert "cdn" not in body.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in body


def test_wrong_method_is_405(world, client):
    _, auth = _token(world, world.sue, "supervisor")
    assert client.delete("/api/v1/cases", **auth).status_code == 405
