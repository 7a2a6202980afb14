"""The permission matrix: every role × list / detail / unmask / API, over every case.

Expected visibility follows accounts/roles.py; see tests/fixtures.py for the world.
"""

import pytest

from recoup.accounts.roles import UNMASK, VIEW
from recoup.cases.permissions import cases_user_can, user_can

pytestmark = pytest.mark.django_db

ALL = ("ada_case", "ben_case", "fay_case", "south_case", "rival_case")
NORTH = {"ada_case", "ben_case", "fay_case"}

# persona -> (cases visible, cases where unmask is allowed)
MATRIX: dict[str, tuple[set[str], set[str]]] = {
    "ada": ({"ada_case"}, {"ada_case"}),  # collector: own cases only
    "ben": ({"ben_case"}, {"ben_case"}),
    "fay": ({"fay_case"}, {"fay_case"}),  # field collector: own cases
    "tom": ({"ada_case"}, {"ada_case"}),  # team leader of n1
    "sue": (NORTH, NORTH),  # supervisor, north branch
    "amy": (NORTH, set()),  # admin assistant: reads the branch, no unmask
    "quinn": (NORTH, set()),  # quality inspector: reads the branch, no unmask
    "rick": (NORTH | {"south_case"}, NORTH | {"south_case"}),  # risk officer: whole agency
    "max": ({"south_case"}, {"south_case"}),  # branch manager, south
    "hal": (NORTH | {"south_case"}, NORTH | {"south_case"}),  # HQ: whole agency
    "cli": ({"ada_case", "fay_case"}, set()),  # client user of bank_a, read-only
    "sam": (set(), set()),  # system admin: no case content
    "ola": ({"rival_case"}, {"rival_case"}),  # the rival agency's supervisor
}


@pytest.mark.parametrize("persona", sorted(MATRIX))
def test_policy_matrix(world, persona):
    user = world.people[persona]
    visible, unmaskable = MATRIX[persona]
    scoped = set(cases_user_can(user, VIEW).values_list("client_case_number", flat=True))
    assert scoped == {world.cases[c].client_case_number for c in visible}
    for name in ALL:
        case = world.cases[name]
        assert user_can(user, VIEW, case) == (name in visible), name
        assert user_can(user, UNMASK, case) == (name in unmaskable), name


@pytest.mark.parametrize("persona", sorted(MATRIX))
def test_ui_and_api_matrix(world, client, login, persona):
    user = world.people[persona]
    visible, unmaskable = MATRIX[persona]
    login(user)
    listing = client.get("/cases/").content.decode()
    api_list = client.get("/api/v1/cases").json()
    api_numbers = {row["client_case_number"] for row in api_list["results"]}
    for name in ALL:
        case = world.cases[name]
        number = case.client_case_number
        sees = name in visible
        assert (number in listing) == sees, f"{persona} list {name}"
        assert (number in api_numbers) == sees, f"{persona} api list {name}"
        detail = client.get(f"/cases/{case.pk}/")
        assert detail.status_code == (200 if sees else 404), f"{persona} detail {name}"
        api_detail = client.get(f"/api/v1/cases/{case.pk}")
        assert api_detail.status_code == (200 if sees else 404), f"{persona} api detail {name}"
        contact_id = case.debtor.contact_points.first().pk
        unmask = client.post(f"/cases/{case.pk}/contacts/{contact_id}/unmask/")
        expected = 404 if not sees else (200 if name in unmaskable else 403)
        assert unmask.status_code == expected, f"{persona} unmask {name}"
        api_unmask = client.post(f"/api/v1/cases/{case.pk}/unmask")
        assert api_unmask.status_code == expected, f"{persona} api unmask {name}"


def test_a_departed_collector_sees_nothing(world):
    ada = world.ada
    ada.status = "departed"
    ada.save(update_fields=["status"])
    assert not cases_user_can(ada, VIEW).exists()
    assert not user_can(ada, VIEW, world.cases["ada_case"])


def test_roles_combine_per_action(world):
    """A collector who is also a quality inspector unmasks only where a role allows it."""
    from recoup.accounts.models import Role, RoleAssignment

    ada = world.ada
    RoleAssignment.objects.create(user=ada, role=Role.objects.get(code="quality_inspector"))
    ada = type(ada).objects.get(pk=ada.pk)  # fresh instance: role_codes is cached per request
    assert user_can(ada, VIEW, world.cases["ben_case"])
    assert not user_can(ada, UNMASK, world.cases["ben_case"])
    assert user_can(ada, UNMASK, world.cases["ada_case"])
