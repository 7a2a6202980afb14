"""People and roles administration by the system administrator."""

import pytest
from django.test import Client

from recoup.accounts.models import ApiToken, User
from recoup.accounts.services import api_token_create
from recoup.audit.models import AuditEvent
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db

NEW = {
    "username": "newbie",
    "display_name": "新同事",
    "roles": ["collector"],
    "password": "a-long-enough-passphrase",
    "training_valid_until": "2027-06-30",
    "nda_valid_until": "2028-06-30",
}


def test_the_admin_creates_a_person_with_roles(world, client, login):
    login(world.sam)
    data = {**NEW, "unit": world.north.pk, "team": world.n1.pk}
    response = client.post("/people/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    person = User.objects.get(username="newbie")
    assert person.role_codes == {"collector"}
    assert person.team == world.n1
    assert str(person.training_valid_until) == "2027-06-30"
    event = AuditEvent.objects.get(action="accounts.user.created", object_id=str(person.pk))
    assert event.data["roles"] == ["collector"]
    assert "a-long-enough-passphrase" not in str(event.data)
    assert (
        Client()
        .post("/accounts/login/", {"username": "newbie", "password": NEW["password"]})
        .status_code
        == 302
    )


def test_a_person_may_hold_several_roles(world, client, login):
    login(world.sam)
    data = {
        **NEW,
        "unit": world.north.pk,
        "team": world.n1.pk,
        "roles": ["collector", "team_leader"],
    }
    assert client.post("/people/new/", data).status_code == 302
    assert User.objects.get(username="newbie").role_codes == {"collector", "team_leader"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roles": []}, "roles"),
        ({"username": "ada"}, "已存在"),
        ({"password": "short"}, "密码"),
        ({"team": "s1"}, "小组不属于"),
        ({"roles": ["client_user", "collector"]}, "委托方账号"),
    ],
)
def test_bad_person_input_is_refused_with_a_reason(world, client, login, change, message):
    login(world.sam)
    data = {**NEW, "unit": world.north.pk, "team": world.n1.pk, **change}
    if data.get("team") == "s1":
        data["team"] = world.s1.pk
    response = client.post("/people/new/", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert (
        message in body
        or "This field is required" in body
        or "必填" in body
        or "这个字段是必填项" in body
    )
    assert not User.objects.filter(username="newbie").exists()


def test_editing_roles_is_audited_with_before_and_after(world, client, login):
    login(world.sam)
    data = {
        "display_name": "Ada",
        "unit": world.north.pk,
        "team": world.n1.pk,
        "roles": ["collector", "team_leader"],
        "training_valid_until": "2027-01-31",
        "nda_valid_until": "",
    }
    assert client.post(f"/people/{world.ada.pk}/", data).status_code == 302
    ada = User.objects.get(pk=world.ada.pk)
    assert ada.role_codes == {"collector", "team_leader"}
    event = AuditEvent.objects.filter(action="accounts.user.updated").latest("seq")
    assert event.data["roles_added"] == ["team_leader"]
    assert "training_valid_until" in event.data["changed"]


def test_departing_ends_login_sessions_and_tokens(world, client, login):
    token, raw = api_token_create(
        organisation=world.org,
        user=world.ada,
        role="collector",
        name="t",
        expires_at=None,
        actor=None,
    )
    ada_browser = Client()
    assert (
        ada_browser.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code
        == 302
    )
    login(world.sam)
    assert client.post(f"/people/{world.ada.pk}/depart/").status_code == 302
    assert ada_browser.get("/cases/").status_code == 302
    assert Client().get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert (
        "用户名或密码错误"
        in Client()
        .post("/accounts/login/", {"username": "ada", "password": PASSWORD})
        .content.decode()
    )
    assert AuditEvent.objects.filter(action="accounts.user.departed").exists()


def test_the_admin_unlocks_a_locked_person(world, client, login):
    other = Client()
    for _ in range(5):
        other.post("/accounts/login/", {"username": "ben", "password": "wrong"})
    assert User.objects.get(pk=world.ben.pk).is_locked()
    login(world.sam)
    assert client.post(f"/people/{world.ben.pk}/unlock/").status_code == 302
    assert not User.objects.get(pk=world.ben.pk).is_locked()
    assert (
        other.post("/accounts/login/", {"username": "ben", "password": PASSWORD}).status_code == 302
    )


def test_only_the_admin_manages_people(world, client, login):
    login(world.sue)
    assert client.get("/people/").status_code == 200  # supervisors may look
    assert client.get("/people/new/").status_code == 403
    assert client.post(f"/people/{world.ada.pk}/depart/").status_code == 403
    assert User.objects.get(pk=world.ada.pk).status == "active"


def test_another_organisations_person_is_404(world, client, login):
    login(world.sam)
    assert client.get(f"/people/{world.ola.pk}/").status_code == 404


def test_a_supervisor_sees_only_their_branchs_people(world, client, login):
    login(world.sue)
    body = client.get("/people/").content.decode()
    assert "ada" in body
    assert "max" not in body  # south branch manager
    assert "ola" not in body  # another agency


def test_the_admin_sees_everyone_of_the_agency_only(world, client, login):
    login(world.sam)
    body = client.get("/people/").content.decode()
    assert "max" in body
    assert "ola" not in body


def test_a_list_of_people_with_their_roles_prefetched_asks_no_query_per_person(
    world, django_assert_num_queries
):
    expected = {u.username: User.objects.get(pk=u.pk).role_codes for u in User.objects.all()}
    with django_assert_num_queries(2):  # the people, then their roles
        people = list(User.objects.prefetch_related("roles").order_by("pk"))
        assert {p.username: p.role_codes for p in people} == expected
