"""The dialer API: authorize before a dial, report the attempt, conflicts and bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from recoup.accounts.services import api_token_create
from recoup.cases.models import Case
from recoup.contact.models import ContactAttempt, ContactDecision, Promise
from recoup.contact.tests.helpers import bj, call, phone_of

pytestmark = pytest.mark.django_db

MONDAY = (2026, 11, 23)
TEN = bj(*MONDAY, 10, 0)


def _auth(world: Any, user: Any, role: str) -> dict[str, str]:
    _token, raw = api_token_create(
        organisation=world.org, user=user, role=role, name="dialer", expires_at=None, actor=None
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client: Any, path: str, body: dict[str, Any], auth: dict[str, str], at: datetime) -> Any:
    with time_machine.travel(at, tick=False):
        return client.post(f"/api/v1/contact/{path}", body, content_type="application/json", **auth)


def _authorize(
    client: Any, auth: dict[str, str], case: Case, moment: datetime = TEN, **body: Any
) -> Any:
    payload: dict[str, Any] = {
        "case_id": case.pk,
        "contact_point_id": str(phone_of(case).uid),
        "channel": "call",
        "mode": "dialer",
    }
    payload.update(body)
    return _post(client, "authorize", payload, auth, moment)


def _report(client: Any, auth: dict[str, str], decision_id: str, at: datetime, **body: Any) -> Any:
    payload: dict[str, Any] = {
        "decision_id": decision_id,
        "call_id": "CALL-0001",
        "started_at": at.isoformat(),
        "answered_at": (at + timedelta(seconds=8)).isoformat(),
        "ended_at": (at + timedelta(seconds=95)).isoformat(),
        "result": "debtor",
    }
    payload.update(body)
    return _post(client, "attempts", payload, auth, at + timedelta(seconds=100))


# --- authorize ---------------------------------------------------------------------------


def test_an_allowed_call_returns_the_logged_decision(world, client):
    ada, case = world.ada, world.cases["ada_case"]
    response = _authorize(client, _auth(world, ada, "collector"), case)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["allowed"] is True
    assert data["rules"] == []
    assert data["profile_versions"] == {"cn-default": 1}
    record = ContactDecision.objects.get(uid=data["decision_id"])
    assert record.allowed
    assert record.via == "api"
    assert record.mode == "dialer"
    assert record.actor == ada
    assert datetime.fromisoformat(data["expires_at"]) == record.expires_at > TEN


def test_a_call_outside_the_window_is_an_answer_not_an_error(world, client):
    response = _authorize(
        client, _auth(world, world.ada, "collector"), world.cases["ada_case"], bj(*MONDAY, 22, 30)
    )
    assert response.status_code == 200
    data = response.json()
    assert data["allowed"] is False
    assert data["expires_at"] is None
    [rule] = data["rules"]
    assert rule["code"] == "outside_window"
    assert "22:30" in rule["reason_zh"]
    assert "22:00" in rule["reason_zh"]
    assert "22:00" in rule["reason_en"]
    # The refusal is logged like any decision.
    assert not ContactDecision.objects.get(uid=data["decision_id"]).allowed


def test_the_last_slot_goes_to_one_dialer_only(world, client):
    ada, tom, case = world.ada, world.tom, world.cases["ada_case"]
    call(ada, case, bj(*MONDAY, 9, 0), "debtor")
    call(ada, case, bj(*MONDAY, 9, 30), "debtor")
    first = _authorize(client, _auth(world, ada, "collector"), case).json()
    second = _authorize(client, _auth(world, tom, "team_leader"), case).json()
    assert first["allowed"] is True
    assert second["allowed"] is False
    assert [r["code"] for r in second["rules"]] == ["debtor_daily_cap"]
    # Reporting the first grant's call does not free the slot: it was a conversation.
    assert (
        _report(client, _auth(world, ada, "collector"), first["decision_id"], TEN).status_code
        == 201
    )
    third = _authorize(client, _auth(world, tom, "team_leader"), case, TEN + timedelta(minutes=5))
    assert [r["code"] for r in third.json()["rules"]] == ["debtor_daily_cap"]


def test_a_case_of_another_collector_is_404_and_nothing_is_logged(world, client):
    auth = _auth(world, world.ben, "collector")
    case = world.cases["ada_case"]
    response = _authorize(client, auth, case)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    by_number = _authorize(client, auth, case, case_id=None, client_case_number="A0001")
    assert by_number.status_code == 404
    rival = _authorize(client, auth, world.cases["rival_case"])
    assert rival.status_code == 404
    assert not ContactDecision.objects.exists()


def test_a_visible_case_the_caller_may_not_work_is_refused_and_logged(world, client):
    # Quinn (quality inspector) reads the branch's cases but never works them.
    response = _authorize(
        client, _auth(world, world.quinn, "quality_inspector"), world.cases["ada_case"]
    )
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rules"]] == ["not_permitted"]


def test_the_case_can_be_named_by_the_client_s_number_and_contract(world, client):
    case = world.cases["ada_case"]
    response = _authorize(
        client,
        _auth(world, world.ada, "collector"),
        case,
        case_id=None,
        client_case_number="A0001",
        contract="A-1",
    )
    assert response.status_code == 200
    assert ContactDecision.objects.get(uid=response.json()["decision_id"]).case_id == case.pk
    wrong_contract = _authorize(
        client,
        _auth(world, world.ada, "collector"),
        case,
        case_id=None,
        client_case_number="A0001",
        contract="B-1",
    )
    assert wrong_contract.status_code == 404


def test_a_session_user_may_ask_too(world, client, login):
    with time_machine.travel(TEN, tick=False):  # sessions end after 30 idle minutes
        login(world.ada)
    response = _authorize(client, {}, world.cases["ada_case"])
    assert response.status_code == 200
    assert response.json()["allowed"] is True


def test_no_credentials_get_401(world, client):
    response = _authorize(client, {}, world.cases["ada_case"])
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"mode": "telepathy"}, "mode"),
        ({"contact_point_id": "not-a-uid"}, "contact_point_id"),
        ({"at": "2026-11-23T11:00:00+08:00"}, "at"),
        ({"case_id": None}, "case_id"),
    ],
)
def test_bad_input_names_the_field_and_logs_nothing(world, client, body, field):
    response = _authorize(
        client, _auth(world, world.ada, "collector"), world.cases["ada_case"], **body
    )
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["field"] == field
    assert data["error"]
    assert not ContactDecision.objects.exists()


def test_another_debtor_s_number_is_an_unknown_contact_point(world, client):
    response = _authorize(
        client,
        _auth(world, world.ada, "collector"),
        world.cases["ada_case"],
        contact_point_id=str(phone_of(world.cases["ben_case"]).uid),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_contact_point"
    assert not ContactDecision.objects.exists()


def test_a_naive_time_is_refused(world, client):
    response = _authorize(
        client,
        _auth(world, world.fay, "field_collector"),
        world.cases["fay_case"],
        channel="visit",
        contact_point_id="",
        at="2026-11-24T10:00:00",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


def test_a_visit_is_asked_for_its_slot_and_collectors(world, client):
    for person in (world.fay, world.ben):
        person.training_valid_until = person.nda_valid_until = date(2027, 12, 31)
        person.save()
    auth = _auth(world, world.fay, "field_collector")
    visit = {
        "channel": "visit",
        "contact_point_id": "",
        "mode": "",
        "at": bj(*MONDAY, 14, 0).isoformat(),
        "until": bj(*MONDAY, 15, 0).isoformat(),
    }
    alone = _authorize(client, auth, world.cases["fay_case"], participants=["fay"], **visit)
    assert [r["code"] for r in alone.json()["rules"]] == ["visit_collectors"]
    pair = _authorize(client, auth, world.cases["fay_case"], participants=["fay", "ben"], **visit)
    assert pair.json()["allowed"] is True
    unknown = _authorize(
        client, auth, world.cases["fay_case"], participants=["fay", "nobody"], **visit
    )
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "participants"
    assert "nobody" in unknown.json()["error"]


# --- attempts ----------------------------------------------------------------------------


def test_an_attempt_is_recorded_and_a_retry_returns_the_same(world, client):
    auth = _auth(world, world.ada, "collector")
    case = world.cases["ada_case"]
    decision_id = _authorize(client, auth, case).json()["decision_id"]
    promise = {"promise_amount": "500.00", "promise_due_on": "2026-11-30"}
    first = _report(client, auth, decision_id, TEN, notes="本人承诺月底还款", **promise)
    assert first.status_code == 201, first.content
    data = first.json()
    attempt = ContactAttempt.objects.get(uid=data["attempt_id"])
    assert attempt.call_id == "CALL-0001"
    assert attempt.notes() == "本人承诺月底还款"
    assert data["case_status"] == "promised"
    assert data["flagged_for_review"] is False
    assert data["lexicon_hits"] == []
    assert data["promise"] == {"amount": "500.00", "due_on": "2026-11-30"}

    retry = _report(client, auth, decision_id, TEN, notes="本人承诺月底还款", **promise)
    assert retry.status_code == 200
    assert retry.json()["attempt_id"] == data["attempt_id"]
    assert ContactAttempt.objects.count() == 1
    assert Promise.objects.count() == 1


def test_a_different_report_for_the_same_decision_is_a_conflict(world, client):
    auth = _auth(world, world.ada, "collector")
    decision_id = _authorize(client, auth, world.cases["ada_case"]).json()["decision_id"]
    assert (
        _report(client, auth, decision_id, TEN, result="no_answer", answered_at=None).status_code
        == 201
    )
    other_result = _report(client, auth, decision_id, TEN, result="debtor")
    assert other_result.status_code == 409
    assert other_result.json()["code"] == "already_reported"
    other_call = _report(
        client, auth, decision_id, TEN, call_id="CALL-0002", result="no_answer", answered_at=None
    )
    assert other_call.status_code == 409
    assert list(ContactAttempt.objects.values_list("result", "call_id")) == [
        ("no_answer", "CALL-0001")
    ]


def test_a_refused_decision_cannot_be_reported(world, client):
    auth = _auth(world, world.ada, "collector")
    late = bj(*MONDAY, 22, 30)
    decision_id = _authorize(client, auth, world.cases["ada_case"], late).json()["decision_id"]
    response = _report(client, auth, decision_id, late)
    assert response.status_code == 409
    assert response.json()["code"] == "refused_decision"
    assert not ContactAttempt.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": "visit_met"}, "result"),
        ({"started_at": bj(*MONDAY, 9, 0).isoformat()}, "started_at"),
        ({"ended_at": bj(*MONDAY, 9, 59).isoformat()}, "ended_at"),
        ({"overdue_reason": "bad_luck"}, "overdue_reason"),
        ({"promise_amount": "500.00"}, "promise_amount"),
        ({"promise_amount": "99999999.00", "promise_due_on": "2026-11-30"}, "promise_amount"),
    ],
)
def test_a_bad_report_names_the_field_and_changes_nothing(world, client, body, field):
    auth = _auth(world, world.ada, "collector")
    case = world.cases["ada_case"]
    decision_id = _authorize(client, auth, case).json()["decision_id"]
    response = _report(client, auth, decision_id, TEN, **body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not ContactAttempt.objects.exists()
    assert ContactDecision.objects.get(uid=decision_id).consumed_at is None
    assert Case.objects.get(pk=case.pk).status == case.status


def test_a_missing_field_is_422(world, client):
    auth = _auth(world, world.ada, "collector")
    decision_id = _authorize(client, auth, world.cases["ada_case"]).json()["decision_id"]
    response = _post(
        client, "attempts", {"decision_id": decision_id, "result": "debtor"}, auth, TEN
    )
    assert response.status_code == 422
    fields = {tuple(e["loc"])[-1] for e in response.json()["detail"]}
    assert {"call_id", "started_at"} <= fields


def test_forbidden_words_in_the_notes_flag_the_attempt(world, client):
    auth = _auth(world, world.ada, "collector")
    decision_id = _authorize(client, auth, world.cases["ada_case"]).json()["decision_id"]
    data = _report(client, auth, decision_id, TEN, notes="债务人说：你们这些人就是骗子").json()
    assert data["flagged_for_review"] is True
    assert data["lexicon_hits"] == ["insult"]


def test_another_collector_cannot_report_someone_else_s_decision(world, client):
    decision_id = _authorize(
        client, _auth(world, world.ada, "collector"), world.cases["ada_case"]
    ).json()["decision_id"]
    response = _report(client, _auth(world, world.ben, "collector"), decision_id, TEN)
    assert response.status_code == 404
    assert not ContactAttempt.objects.exists()


def test_an_unknown_decision_is_404(world, client):
    response = _report(
        client, _auth(world, world.ada, "collector"), "00000000-0000-4000-8000-000000000000", TEN
    )
    assert response.status_code == 404
