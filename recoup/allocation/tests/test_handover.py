"""Hand-over (交接): a departing collector's cases, spread over the team, signed off, applied."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from recoup.accounts.models import Role, RoleAssignment, User
from recoup.allocation import services
from recoup.allocation.models import AllocationRun
from recoup.allocation.tests.test_services import pending_cases
from recoup.audit.models import AuditEvent
from recoup.cases.models import Case
from recoup.core.exceptions import PermissionDenied, RecoupError
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def ben_holds(world, n):
    """n open cases with ben (team n2, whose other collector is fay)."""
    ids = pending_cases(world, n)
    run = services.cases_allocate(actor=world.sue, case_ids=ids, collector=world.ben)
    assert run.placed_count == n
    return ids


def n2_leader(world):
    lead = User.objects.create_user(
        username="nina",
        password=PASSWORD,
        organisation=world.org,
        unit=world.north,
        team=world.n2,
        display_name="Nina",
    )
    RoleAssignment.objects.create(user=lead, role=Role.objects.get(code="team_leader"))
    return lead


def test_a_hand_over_moves_every_open_case_after_the_team_leaders_sign_off(world):
    ids = ben_holds(world, 5)
    before = Case.objects.filter(assignee=world.ben).count()  # with ben's own world case
    nina = n2_leader(world)
    run = services.run_preview_handover(actor=world.sue, departing=world.ben, end_access=True)
    assert run.kind == "handover"
    assert run.case_count == before
    assert run.parameters["before"]["cases"] == before
    with pytest.raises(RecoupError, match="签认"):
        services.run_commit(run=run, actor=world.sue)
    with pytest.raises(PermissionDenied):
        services.run_sign_off(run=run, actor=world.tom)  # n1's leader, not ben's
    with pytest.raises(PermissionDenied):
        services.run_sign_off(run=run, actor=world.sue)  # n2 has a leader: it is theirs
    services.run_sign_off(run=run, actor=nina)
    run = services.run_commit(run=AllocationRun.objects.get(pk=run.pk), actor=world.sue)
    assert run.status == "committed"
    assert not Case.objects.filter(assignee=world.ben, status__in=services.OPEN_STATUSES).exists()
    moved = Case.objects.filter(pk__in=ids)
    assert {c.assignee_id for c in moved} == {world.fay.pk}
    assert all(c.previous_assignee_id == world.ben.pk for c in moved)
    world.ben.refresh_from_db()
    assert world.ben.status == "departed"
    assert not world.ben.is_active
    departed = AuditEvent.objects.get(action="accounts.user.departed", object_id=str(world.ben.pk))
    assert departed.data["handover_run"] == run.pk
    assert AuditEvent.objects.filter(action="allocation.handover.signed_off").exists()


def test_without_a_team_leader_a_branch_manager_or_hq_signs_off(world):
    ben_holds(world, 2)
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    assert not services.can_sign_off(world.sue, run)  # the author never signs alone
    services.run_sign_off(run=run, actor=world.hal)
    run = services.run_commit(run=AllocationRun.objects.get(pk=run.pk), actor=world.sue)
    assert run.status == "committed"
    world.ben.refresh_from_db()
    assert world.ben.status == "active"  # end_access was not asked for


def test_a_hand_over_with_nobody_to_take_the_cases_is_refused(world):
    ben_holds(world, 1)
    world.fay.training_valid_until = None
    world.fay.save()
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    assert run.placed_count == 0
    services.run_sign_off(run=run, actor=world.hal)
    with pytest.raises(RecoupError, match="没有接手人"):
        services.run_commit(run=AllocationRun.objects.get(pk=run.pk), actor=world.sue)
    assert Case.objects.filter(assignee=world.ben).exists()


def test_a_case_given_to_the_departing_collector_after_the_preview_stops_the_commit(world):
    ben_holds(world, 2)
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    services.run_sign_off(run=run, actor=world.hal)
    ben_holds_more = pending_cases(world, 1, start=300)
    services.cases_allocate(actor=world.sue, case_ids=ben_holds_more, collector=world.ben)
    with pytest.raises(services.StaleRun):
        services.run_commit(run=AllocationRun.objects.get(pk=run.pk), actor=world.sue)
    assert Case.objects.filter(assignee=world.ben).count() == 4  # nothing moved


def test_the_hand_over_report_accounts_for_every_case(world, client, login):
    ids = ben_holds(world, 3)
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    login(world.sue)
    response = client.get(f"/allocation/runs/{run.pk}/report.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))[1:]
    assert len(rows) == run.case_count == len(ids) + 1
    assert {r[2] for r in rows} == {"Ben"}
    assert {r[3] for r in rows} == {"Fay"}


def test_the_hand_over_report_shows_a_formula_like_case_number_as_text(world, client, login):
    ids = ben_holds(world, 1)
    Case.objects.filter(pk=ids[0]).update(client_case_number="=1+1")
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    login(world.sue)

    response = client.get(f"/allocation/runs/{run.pk}/report.xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    cells = {row[0].value: row[0].data_type for row in list(sheet.iter_rows())[1:]}
    assert cells["'=1+1"] == "s"


def test_the_team_leader_finds_and_signs_the_hand_over_in_the_ui(world, client, login):
    ben_holds(world, 2)
    nina = n2_leader(world)
    run = services.run_preview_handover(actor=world.sue, departing=world.ben)
    login(nina)
    page = client.get("/allocation/").content.decode()
    assert f'data-testid="handover-{run.pk}"' in page
    detail = client.get(f"/allocation/runs/{run.pk}/").content.decode()
    assert 'data-testid="sign-off"' in detail
    assert 'data-testid="commit-run"' not in detail  # a team leader signs; a supervisor commits
    client.post(f"/allocation/runs/{run.pk}/sign-off/")
    assert AllocationRun.objects.get(pk=run.pk).signed_off_by == nina
    assert client.post(f"/allocation/runs/{run.pk}/commit/").status_code == 403
