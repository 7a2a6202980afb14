"""The calendar screen in chromium: an HQ user changes a day in place (HTMX, CSP intact)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from recoup.workdays.models import CalendarDay
from tests.browser import conftest as browser_fixtures
from tests.browser.test_login_flows import submit_login
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser

# The browser fixtures live in tests/browser/conftest.py, which only applies under tests/.
browser = browser_fixtures.browser
browser_world = browser_fixtures.browser_world
page = browser_fixtures.page
page_issues = browser_fixtures.page_issues


def test_hq_marks_a_day_off_and_the_cell_changes_in_place(
    page: Any, page_issues: browser_fixtures.PageIssues, browser_world: World
) -> None:
    submit_login(page, "hal", PASSWORD)
    page.goto("/workdays/?year=2025")
    cell = page.locator("#day-2025-10-09")
    expect(cell).to_have_attribute("data-kind", "workday")
    expect(page.locator("#day-2025-10-01")).to_have_attribute("data-kind", "holiday")

    cell.click()
    form = page.get_by_test_id("day-form")
    expect(form).to_contain_text("2025-10-09")
    form.locator("#id_is_workday").uncheck()
    form.locator("#id_name").fill("台风停工")
    form.get_by_role("button").click()

    expect(page.get_by_test_id("day-saved")).to_be_visible()
    expect(page.locator("#day-2025-10-09")).to_have_attribute("data-kind", "holiday")
    day = CalendarDay.objects.get(date="2025-10-09")
    assert (day.is_workday, day.name, day.source) == (False, "台风停工", "edited")
    # The swapped cell still opens the editor.
    page.locator("#day-2025-10-10").click()
    expect(page.get_by_test_id("day-form")).to_contain_text("2025-10-10")
    page_issues.assert_none()
