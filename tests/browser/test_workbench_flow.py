"""A collector works her queue in chromium: logs a call with a promise, the case moves down
the queue, and a call the gate refuses shows why."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from recoup.cases.models import Case
from recoup.cases.services import contact_point_add
from recoup.contact.models import ContactAttempt, Promise
from tests.browser.conftest import PageIssues
from tests.browser.test_login_flows import submit_login
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser

# Monday 23 November 2026, 10:00 in Beijing: inside the contact window.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def queue_order(page: Any) -> list[str]:
    return page.get_by_test_id("queue-row").evaluate_all("rows => rows.map(r => r.dataset.case)")


def test_a_collector_logs_a_call_with_a_promise_and_a_refused_call_shows_its_reason(
    page: Any, page_issues: PageIssues, browser_world: World, screenshots: Path
) -> None:
    world = browser_world
    ada = world.people["ada"]
    other = world.cases["fay_case"]  # A0002: give it to ada, less overdue than A0001
    Case.objects.filter(pk=other.pk).update(assignee=ada, team=world.n1, overdue_days=10)
    contact_point_add(
        debtor=other.debtor, kind="phone", value="13600007777", role="relative", actor=None
    )
    with time_machine.travel(MONDAY_10, tick=True):
        submit_login(page, "ada", PASSWORD)
        page.goto("/work/")
        expect(page.get_by_test_id("queue-row")).to_have_count(2)
        assert queue_order(page) == ["A0001", "A0002"]
        page.screenshot(path=screenshots / "workbench-queue.png", full_page=True)

        with page.expect_navigation():
            page.get_by_role("link", name="A0001").click()
        expect(page).to_have_url(re.compile(r"/work/case/\d+/$"))
        page.get_by_test_id("dial").first.click()
        expect(page.get_by_test_id("gate-allowed")).to_be_visible()
        page.get_by_test_id("gate-allowed").click()  # focus outside the text fields
        page.keyboard.press("1")  # the first result: the debtor reached
        expect(page.locator("#result-debtor")).to_be_checked()
        page.get_by_test_id("promise-amount").fill("2000")
        page.get_by_test_id("promise-date").fill("2026-11-30")
        page.get_by_test_id("notes").fill("本人同意月底先还两千")
        page.screenshot(path=screenshots / "workbench-log-call.png", full_page=True)
        with page.expect_navigation():
            page.get_by_test_id("log-submit").click()
        expect(page).to_have_url(re.compile(r"/work/$"))
        # Contacted, promised: A0001 falls below the never-contacted A0002.
        assert queue_order(page) == ["A0002", "A0001"]
        row = page.locator("[data-testid=queue-row][data-case=A0001]")
        expect(row).to_contain_text("已承诺")

        # A relative of A0002's debtor may not be called before the debtor is unreachable.
        with page.expect_navigation():
            page.get_by_role("link", name="A0002").click()
        page.locator("[data-testid=contact-row]:has-text('亲属') [data-testid=dial]").click()
        expect(page.get_by_test_id("gate-refused")).to_be_visible()
        expect(page.get_by_test_id("gate-reason")).to_contain_text("本人尚未失联")
        page.screenshot(path=screenshots / "workbench-refused.png", full_page=True)

    case = Case.objects.get(client_case_number="A0001", contract=world.contract_a)
    assert case.status == Case.Status.PROMISED
    promise = Promise.objects.get(case=case)
    assert str(promise.amount) == "2000.00"
    assert ContactAttempt.objects.get(case=case).notes() == "本人同意月底先还两千"
    page_issues.assert_none()
