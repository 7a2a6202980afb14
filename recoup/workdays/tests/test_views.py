"""The calendar screen: who sees it, who may edit (HTMX) and import, and what it shows."""

from __future__ import annotations

import io
from datetime import date

import pytest

from recoup.audit.models import AuditEvent
from recoup.workdays.models import CalendarDay, CalendarYear

pytestmark = pytest.mark.django_db


def upload(text: str, name: str = "2027.csv") -> io.BytesIO:
    f = io.BytesIO(text.encode("utf-8"))
    f.name = name
    return f


def test_a_collector_sees_the_year_without_edit_controls(world, client, login):
    login(world.ada)
    response = client.get("/workdays/?year=2025")
    body = response.content.decode()
    assert response.status_code == 200
    assert "2025 年工作日历" in body
    assert body.count('data-testid="month"') == 12
    assert 'id="day-2025-10-01"' in body
    assert 'data-kind="holiday"' in body
    assert 'data-kind="makeup"' in body
    assert 'title="2025-09-28 调休上班"' in body
    assert "hx-get" not in body
    assert 'data-testid="day-editor"' not in body
    assert 'data-testid="import-form"' not in body
    assert 'data-testid="year-warning"' not in body
    assert "内置数据" in body  # the year's source
    assert '<option value="2027"' in body  # the next year can be chosen (to see or import)


def test_a_year_without_data_shows_the_fallback_warning(world, client, login):
    login(world.sue)
    body = client.get("/workdays/?year=2027").content.decode()
    assert 'data-testid="year-warning"' in body
    assert "按周一至周五上班估算" in body


def test_an_incomplete_year_says_how_many_days_are_missing(world, client, login):
    login(world.hal)
    client.post("/workdays/days/2028-10-02/", {"is_workday": "", "name": "国庆节"})
    body = client.get("/workdays/?year=2028").content.decode()
    assert 'data-testid="year-warning"' in body
    assert "365 天没有数据" in body


def test_client_users_do_not_see_the_calendar(world, client, login):
    login(world.cli)
    assert client.get("/workdays/").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/workdays/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_wrong_methods_are_refused(world, client, login):
    login(world.hal)
    assert client.post("/workdays/").status_code == 405
    assert client.get("/workdays/import/").status_code == 405


def test_an_unknown_year_or_day_is_404(world, client, login):
    login(world.hal)
    assert client.get("/workdays/?year=abc").status_code == 404
    assert client.get("/workdays/?year=1900").status_code == 404
    assert client.get("/workdays/days/2025-02-30/").status_code == 404


def test_a_collector_may_not_edit_or_import(world, client, login):
    login(world.ada)
    assert client.get("/workdays/days/2025-10-09/", HTTP_HX_REQUEST="true").status_code == 403
    response = client.post("/workdays/days/2025-10-09/", {"is_workday": "", "name": "x"})
    assert response.status_code == 403
    response = client.post(
        "/workdays/import/", {"year": 2027, "file": upload("date,is_workday\n2027-01-01,0\n")}
    )
    assert response.status_code == 403
    assert CalendarDay.objects.get(date=date(2025, 10, 9)).is_workday
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not AuditEvent.objects.filter(action__startswith="workdays.").exists()


@pytest.mark.parametrize("editor", ["sam", "hal"])
def test_an_editor_changes_a_day_in_place_with_htmx(world, client, login, editor):
    person = world.people[editor]
    login(person)
    page = client.get("/workdays/?year=2025").content.decode()
    assert 'hx-get="/workdays/days/2025-10-09/"' in page
    assert 'data-testid="import-form"' in page

    form = client.get("/workdays/days/2025-10-09/", HTTP_HX_REQUEST="true")
    assert form.status_code == 200
    assert 'data-testid="day-form"' in form.content.decode()
    assert "<html" not in form.content.decode()

    response = client.post(
        "/workdays/days/2025-10-09/", {"name": "台风停工"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'data-testid="day-saved"' in body
    assert 'id="day-2025-10-09"' in body
    assert 'hx-swap-oob="true"' in body
    assert 'data-kind="holiday"' in body
    day = CalendarDay.objects.get(date=date(2025, 10, 9))
    assert (day.is_workday, day.name, day.source, day.updated_by) == (
        False,
        "台风停工",
        "edited",
        person,
    )
    event = AuditEvent.objects.get(action="workdays.day.edited")
    assert event.actor == person


def test_a_day_edit_without_htmx_redirects_back_to_the_year(world, client, login):
    login(world.hal)
    page = client.get("/workdays/days/2025-10-09/")
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert "hx-post" not in page.content.decode()  # the no-script fallback posts normally
    response = client.post("/workdays/days/2025-10-11/", {"name": ""})
    assert response.status_code == 302
    assert response["Location"] == "/workdays/?year=2025"
    assert not CalendarDay.objects.get(date=date(2025, 10, 11)).is_workday


def test_an_invalid_day_edit_returns_the_form_with_errors(world, client, login):
    login(world.hal)
    response = client.post(
        "/workdays/days/2025-10-09/",
        {"is_workday": "on", "name": "长" * 51},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert 'data-testid="day-form"' in response.content.decode()
    assert CalendarDay.objects.get(date=date(2025, 10, 9)).name == ""


def test_an_editor_imports_a_year_through_the_screen(world, client, login):
    login(world.sam)
    response = client.post(
        "/workdays/import/",
        {"year": 2027, "file": upload("date,is_workday,name\n2027-01-01,0,元旦\n")},
    )
    assert response.status_code == 302
    assert response["Location"] == "/workdays/?year=2027"
    assert CalendarYear.objects.get(year=2027).complete
    assert AuditEvent.objects.filter(action="workdays.year.imported", actor=world.sam).exists()
    body = client.get("/workdays/?year=2027").content.decode()
    assert "已导入" in body
    assert 'data-testid="year-warning"' not in body
    assert "文件导入" in body


def test_a_bad_import_through_the_screen_shows_the_row_and_changes_nothing(world, client, login):
    login(world.hal)
    response = client.post(
        "/workdays/import/",
        {"year": 2027, "file": upload("date,is_workday\n2027-01-01,0\n2027-13-01,1\n")},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "第 3 行" in body
    assert 'data-testid="form-errors"' in body
    assert not CalendarYear.objects.filter(year=2027).exists()
