"""The collector's workbench: queue order and reasons, dialling through the gate, logging."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from recoup.cases.models import Case, ContactPoint, Hold
from recoup.cases.services import case_put_on_hold
from recoup.contact.models import ContactAttempt, ContactDecision, InfoRepair, Promise
from recoup.contact.services import promises_mark_broken, promises_on_payment
from recoup.contact.tests.helpers import bj, call, phone_of

pytestmark = pytest.mark.django_db

MONDAY_10 = bj(2026, 11, 23, 10, 0)


@pytest.fixture
def at_ten():
    with time_machine.travel(MONDAY_10, tick=False):
        yield


def _dial(client, case):
    point = phone_of(case)
    return client.post(f"/work/case/{case.pk}/dial/{point.pk}/")


def test_the_queue_lists_my_workable_cases_with_reasons(world, client, login, at_ten):
    login(world.people["ada"])
    response = client.get("/work/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "A0001" in body
    assert "B0001" not in body  # ben's case
    assert 'data-testid="queue-reasons"' in body
    assert "逾期 45 天" in body


def test_a_promise_due_today_tops_the_queue(world, client, login, at_ten):
    ada = world.people["ada"]
    second = world.cases["fay_case"]
    Case.objects.filter(pk=second.pk).update(assignee=ada, team=world.n1)
    Promise.objects.create(
        organisation=world.org,
        case=second,
        amount=Decimal("500.00"),
        due_on=date(2026, 11, 23),
        created_by=ada,
    )
    login(ada)
    body = client.get("/work/").content.decode()
    assert body.index("A0002") < body.index("A0001")
    assert "承诺今日到期" in body


def test_a_held_case_is_listed_apart_with_its_reason(world, client, login, at_ten):
    case_put_on_hold(
        case=world.cases["ada_case"], reason=Hold.Reason.COMPLAINT, actor=world.people["sue"]
    )
    login(world.people["ada"])
    response = client.get("/work/")
    assert response.context["queue"].rows == []
    assert [r.case.client_case_number for r in response.context["queue"].blocked] == ["A0001"]
    assert "停催中" in response.content.decode()


def test_at_night_nothing_is_contactable(world, client, login):
    with time_machine.travel(bj(2026, 11, 23, 22, 30), tick=False):
        login(world.people["ada"])
        response = client.get("/work/")
    assert response.context["queue"].rows == []
    assert "22:00" in response.content.decode()


def test_dial_then_log_a_call_with_a_promise(world, client, login, at_ten):
    ada, case = world.people["ada"], world.cases["ada_case"]
    login(ada)
    response = _dial(client, case)
    assert response.status_code == 200
    assert 'data-testid="gate-allowed"' in response.content.decode()
    decision = ContactDecision.objects.get(case=case)
    response = client.post(
        f"/work/decision/{decision.uid}/log/",
        {
            "result": "debtor",
            "promise_amount": "1,000.00",
            "promise_due_on": "2026-11-30",
            "overdue_reason": "cash_flow",
            "notes": "本人承诺月底还款",
            "next": "queue",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/work/"
    case.refresh_from_db()
    assert case.status == Case.Status.PROMISED
    assert case.overdue_reason == "cash_flow"
    assert case.first_action_at == MONDAY_10
    promise = Promise.objects.get(case=case)
    assert promise.amount == Decimal("1000.00")
    assert promise.due_on == date(2026, 11, 30)
    attempt = ContactAttempt.objects.get(case=case)
    assert attempt.notes() == "本人承诺月底还款"
    assert attempt.debtor_conversation
    assert phone_of(case).validity == ContactPoint.Validity.VALID


def test_a_refused_dial_shows_the_reasons(world, client, login):
    with time_machine.travel(bj(2026, 11, 23, 22, 30), tick=False):
        login(world.people["ada"])
        response = _dial(client, world.cases["ada_case"])
    body = response.content.decode()
    assert 'data-testid="gate-refused"' in body
    assert 'data-code="outside_window"' in body
    assert ContactDecision.objects.get().allowed is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"promise_amount": "99999", "promise_due_on": "2026-11-30"}, "不能超过欠款总额"),
        ({"promise_amount": "100"}, "同时填写金额和日期"),
        ({"promise_amount": "abc", "promise_due_on": "2026-11-30"}, "承诺金额无效"),
        ({"promise_amount": "100", "promise_due_on": "2026-11-01"}, "不能早于今天"),
    ],
)
def test_a_bad_promise_stores_nothing(world, client, login, at_ten, extra, message):
    case = world.cases["ada_case"]
    login(world.people["ada"])
    _dial(client, case)
    decision = ContactDecision.objects.get(case=case)
    response = client.post(f"/work/decision/{decision.uid}/log/", {"result": "debtor", **extra})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContactAttempt.objects.exists()
    assert not Promise.objects.exists()
    decision.refresh_from_db()
    assert decision.consumed_at is None


def test_a_promise_needs_the_debtor_reached(world, client, login, at_ten):
    case = world.cases["ada_case"]
    login(world.people["ada"])
    _dial(client, case)
    decision = ContactDecision.objects.get(case=case)
    response = client.post(
        f"/work/decision/{decision.uid}/log/",
        {"result": "no_answer", "promise_amount": "100", "promise_due_on": "2026-11-30"},
    )
    assert response.status_code == 400
    assert "只有与本人沟通后" in response.content.decode()


def test_forbidden_words_in_notes_flag_the_call_for_review(world, client, login, at_ten):
    case = world.cases["ada_case"]
    login(world.people["ada"])
    _dial(client, case)
    decision = ContactDecision.objects.get(case=case)
    client.post(
        f"/work/decision/{decision.uid}/log/",
        {"result": "debtor", "notes": "告诉他不还就坐牢"},
    )
    attempt = ContactAttempt.objects.get()
    assert attempt.flagged_for_review
    assert attempt.lexicon_hits[0]["category"] == "misleading_legal"
    body = client.get(f"/work/case/{case.pk}/").content.decode()
    assert 'data-testid="qc-flag"' in body


def test_a_decision_cannot_be_logged_twice(world, client, login, at_ten):
    case = world.cases["ada_case"]
    login(world.people["ada"])
    _dial(client, case)
    decision = ContactDecision.objects.get(case=case)
    client.post(f"/work/decision/{decision.uid}/log/", {"result": "busy"})
    response = client.post(f"/work/decision/{decision.uid}/log/", {"result": "debtor"})
    assert response.status_code == 400
    assert "已经记录" in response.content.decode()
    assert ContactAttempt.objects.count() == 1


def test_another_collector_s_case_is_not_found(world, client, login, at_ten):
    login(world.people["ben"])
    case = world.cases["ada_case"]
    assert client.get(f"/work/case/{case.pk}/").status_code == 404
    assert _dial(client, case).status_code == 404
    assert not ContactDecision.objects.exists()


def test_information_repair_needs_a_lawful_source(world, client, login, at_ten):
    case = world.cases["ada_case"]
    login(world.people["ada"])
    response = client.post(
        f"/work/case/{case.pk}/repair/",
        {"outcome": "found", "channel": "通讯录", "kind": "phone", "value": "", "source": "client"},
    )
    assert response.status_code == 400
    assert not InfoRepair.objects.exists()
    response = client.post(
        f"/work/case/{case.pk}/repair/",
        {
            "outcome": "found",
            "channel": "委托方补充资料",
            "kind": "phone",
            "value": "13912349876",
            "role": "debtor",
            "source": "client",
        },
    )
    assert response.status_code == 302
    repair = InfoRepair.objects.get()
    assert repair.contact_point is not None
    assert repair.contact_point.source == "client"
    case.refresh_from_db()
    assert case.last_repair_at is not None


def test_three_failures_mark_the_case_lost_contact(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for minute in (0, 10, 20):
        call(ada, case, bj(2026, 11, 23, 9, minute), "no_answer")
    case.refresh_from_db()
    assert case.lost_contact_since == bj(2026, 11, 23, 9, 20)
    call(ada, case, bj(2026, 11, 23, 11, 0), "debtor")
    case.refresh_from_db()
    assert case.lost_contact_since is None


def test_saved_views(world, client, login, at_ten):
    login(world.people["ada"])
    response = client.post("/work/views/", {"name": "M2 only", "stage": "M2"})
    assert response.status_code == 302
    body = client.get("/work/").content.decode()
    assert "M2 only" in body
    view_id = world.people["ada"].saved_queue_views.get().pk
    response = client.get(f"/work/?view={view_id}")
    assert response.context["form"].cleaned_data["stage"] == "M2"


def test_team_leader_sees_daily_figures(world, client, login, at_ten):
    call(world.people["ada"], world.cases["ada_case"], MONDAY_10, "debtor")
    login(world.people["tom"])
    response = client.get("/work/team/")
    assert response.status_code == 200
    rows = {p.username: f for p, f in response.context["rows"]}
    assert rows["ada"].attempts == 1
    assert rows["ada"].effective == 1
    assert rows["ada"].attempts_target == 200
    # Targets set in the collector settings (allocation) are the ones shown.
    from recoup.allocation.models import CollectorProfile

    CollectorProfile.objects.create(
        organisation=world.org,
        user=world.people["ada"],
        daily_attempts_target=150,
        daily_effective_target=40,
    )
    response = client.get("/work/team/")
    rows = {p.username: f for p, f in response.context["rows"]}
    assert (rows["ada"].attempts_target, rows["ada"].effective_target) == (150, 40)


def test_broken_promises_lead_to_intensive_follow_up(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    for due in (date(2026, 11, 20), date(2026, 11, 21)):
        Promise.objects.create(
            organisation=world.org, case=case, amount=Decimal("100"), due_on=due, created_by=ada
        )
    assert promises_mark_broken(today=date(2026, 11, 23)) == 2
    case.refresh_from_db()
    assert case.broken_promises == 2
    assert case.intensive_follow_up
    assert promises_mark_broken(today=date(2026, 11, 23)) == 0


def test_a_payment_keeps_the_promise(world):
    ada, case = world.people["ada"], world.cases["ada_case"]
    promise = Promise.objects.create(
        organisation=world.org,
        case=case,
        amount=Decimal("300.00"),
        due_on=date(2026, 11, 30),
        created_by=ada,
    )
    promises_on_payment(case=case, amount=Decimal("100.00"), paid_on=date(2026, 11, 24))
    promise.refresh_from_db()
    assert promise.status == Promise.Status.OPEN
    assert promise.paid_amount == Decimal("100.00")
    promises_on_payment(case=case, amount=Decimal("250.00"), paid_on=date(2026, 11, 25))
    promise.refresh_from_db()
    assert promise.status == Promise.Status.KEPT
    assert promise.paid_amount == Decimal("300.00")


def test_the_queue_at_the_first_action_deadline(world, client, login, at_ten):
    case = world.cases["ada_case"]
    Case.objects.filter(pk=case.pk).update(
        first_action_due_at=MONDAY_10 - timedelta(minutes=5), status="assigned"
    )
    login(world.people["ada"])
    body = client.get("/work/").content.decode()
    assert "首催已超时" in body


def test_a_grant_left_unrecorded_is_flagged_the_next_day(world, client, login):
    ada = world.people["ada"]
    from recoup.contact.tests.helpers import ask

    ask(ada, world.cases["ada_case"], bj(2026, 11, 23, 10, 0))
    with time_machine.travel(bj(2026, 11, 24, 9, 0), tick=False):
        login(ada)
        assert 'data-testid="unrecorded-warning"' in client.get("/work/").content.decode()
        login(world.people["tom"])
        response = client.get("/work/team/")
    assert [d.case.client_case_number for d in response.context["unrecorded"]] == ["A0001"]


def test_the_daily_command_marks_broken_promises(world):
    from io import StringIO

    from django.core.management import call_command

    Promise.objects.create(
        organisation=world.org,
        case=world.cases["ada_case"],
        amount=Decimal("100"),
        due_on=date(2026, 11, 20),
        created_by=world.people["ada"],
    )
    out = StringIO()
    call_command("contact_daily", "--today", "2026-11-23", stdout=out)
    assert "1 promise(s) marked broken" in out.getvalue()
    assert Promise.objects.get().status == Promise.Status.BROKEN


def test_a_supervisor_maps_results_to_the_client_s_codes(world, client, login, at_ten):
    from recoup.contact.models import ClientResultCode

    login(world.people["sue"])
    response = client.post(
        "/work/result-codes/",
        {
            "client": world.bank_a.pk,
            "code-debtor": "C01",
            "label-debtor": "本人接听",
            "code-busy": "",
        },
    )
    assert response.status_code == 302
    code = ClientResultCode.objects.get(client=world.bank_a)
    assert (code.result, code.code) == ("debtor", "C01")
    # A collector may not change the client's list.
    login(world.people["ada"])
    assert client.get("/work/result-codes/").status_code == 403
    # The dialer API reports the client's code with the attempt.
    from recoup.contact.selectors import client_code_for

    attempt = call(world.people["ada"], world.cases["ada_case"], MONDAY_10, "debtor")
    assert client_code_for(attempt) == "C01"


def test_a_conversation_reported_late_does_not_move_the_last_conversation_back(world):
    """A dialer reports the 10:30 call before the 10:00 one: the case's last conversation
    (and last attempt) stay at 10:30."""
    from recoup.contact.services import AttemptInput, attempt_record
    from recoup.contact.tests.helpers import ask, bj

    ada, case = world.people["ada"], world.cases["ada_case"]
    first = ask(ada, case, bj(2026, 11, 23, 10, 0))
    second = ask(ada, case, bj(2026, 11, 23, 10, 30))
    assert first.allowed
    assert second.allowed
    with time_machine.travel(bj(2026, 11, 23, 10, 40), tick=False):
        for decision, at in ((second, bj(2026, 11, 23, 10, 30)), (first, bj(2026, 11, 23, 10, 0))):
            assert decision.record is not None
            attempt_record(
                actor=ada,
                decision=decision.record,
                data=AttemptInput(result="debtor", started_at=at),
            )
    case.refresh_from_db()
    assert case.last_conversation_at == bj(2026, 11, 23, 10, 30)
    assert case.last_attempt_at == bj(2026, 11, 23, 10, 30)


def test_contact_daily_reports_contact_points_naming_no_debtor(world):
    """The contact point's debtor key has no database check (import speed, ADR 0008): the
    daily run is the check, and deleting a debtor through the application still removes
    its contact points."""
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.db import connection

    from recoup.cases.models import ContactPoint, Debtor

    call_command("contact_daily", "--today", "2026-11-23", stdout=StringIO(), stderr=StringIO())
    point = ContactPoint.objects.filter(debtor=world.cases["ada_case"].debtor).first()
    assert point is not None
    missing = (Debtor.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_contactpoint SET debtor_id = %s WHERE id = %s", [missing, point.pk]
        )
    err = StringIO()
    with pytest.raises(CommandError, match="1 contact point"):
        call_command("contact_daily", "--today", "2026-11-23", stdout=StringIO(), stderr=err)
    assert f"contact point {point.pk} names a debtor that does not exist" in err.getvalue()


def test_deleting_a_debtor_deletes_its_contact_points(world):
    from recoup.cases.models import ContactPoint, Debtor

    debtor = Debtor.objects.create(
        organisation=world.org, id_number_bidx="x" * 32, name_bidx="y" * 32, pii=b"", pii_key_id="k"
    )
    ContactPoint.objects.create(
        organisation=world.org, debtor=debtor, kind="phone", sealed=b"", pii_key_id="k"
    )
    debtor.delete()
    assert not ContactPoint.objects.filter(debtor_id=debtor.pk).exists()


@pytest.mark.parametrize(
    ("column", "what"),
    [
        ("assignee_id", "collector"),
        ("previous_assignee_id", "previous collector"),
        ("team_id", "team"),
    ],
)
def test_contact_daily_reports_cases_naming_no_collector_or_team(world, column, what):
    """A case's assignee, team and previous assignee have no database check (allocation
    speed, ADR 0008): the daily run is the check."""
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.db import connection

    case = world.cases["ada_case"]
    missing = 10_000_000
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE cases_case SET {column} = %s WHERE id = %s", [missing, case.pk])  # noqa: S608
    err = StringIO()
    with pytest.raises(CommandError, match=f"1 case\\(s\\) name no existing {what}$"):
        call_command("contact_daily", "--today", "2026-11-23", stdout=StringIO(), stderr=err)
    assert f"case {case.pk} names a {what} that does not exist" in err.getvalue()


def test_a_collector_with_cases_cannot_be_deleted(world):
    from django.db.models import ProtectedError

    # Django applies PROTECT itself: the key has no database check to do it.
    with pytest.raises(ProtectedError) as caught:
        world.ada.delete()
    assert world.cases["ada_case"] in set(caught.value.protected_objects)
    assert Case.objects.filter(assignee=world.ada).exists()
