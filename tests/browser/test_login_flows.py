"""Log in, see only what one may see, unmask with HTMX, lockout and language, in chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from recoup.accounts.models import User
from tests.browser.conftest import PageIssues
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser

OTHER_CASES = ("B0001", "A0002", "B0002", "C0001")


def submit_login(page: Any, username: str, password: str) -> None:
    """Fill and submit the login form (the language buttons are submit buttons too)."""
    if not page.url.endswith("/accounts/login/"):
        page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("form:has(#id_password) button[type=submit]").click()


def test_it_shows_a_collector_only_their_own_cases_with_a_masked_phone_she_can_unmask(
    page: Any, page_issues: PageIssues, browser_world: World, screenshots: Path
) -> None:
    case = browser_world.cases["ada_case"]

    submit_login(page, "ada", PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("current-user")).to_be_visible()
    # Bootstrap's stylesheet is applied (served by the live server, allowed by the CSP).
    expect(page.locator("nav.navbar")).to_have_css("display", "flex")

    page.locator("nav a.nav-link[href='/cases/']").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))
    rows = page.get_by_test_id("case-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("A0001")
    listing = page.locator("main").inner_text()
    for other in OTHER_CASES:
        assert other not in listing

    rows.first.get_by_role("link", name="A0001").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    phone_row = page.get_by_test_id("contact-row").filter(has_text="手机")
    expect(phone_row).to_have_count(1)
    expect(phone_row.get_by_test_id("contact-value")).to_have_text("138****1234")
    assert "13812341234" not in page.content()
    page.screenshot(path=screenshots / "case-page.png", full_page=True)

    # HTMX posts with the CSRF token from <body hx-headers>; a 403 would leave it masked.
    with page.expect_response(re.compile(r"/contacts/\d+/unmask/$")) as unmask:
        phone_row.get_by_test_id("contact-unmask").click()
    assert unmask.value.status == 200
    expect(phone_row.get_by_test_id("contact-value")).to_have_text("13812341234")
    page_issues.assert_none()


def test_it_shows_a_client_user_only_their_banks_cases_and_a_404_for_another_banks_case(
    page: Any, page_issues: PageIssues, browser_world: World
) -> None:
    submit_login(page, "cli", PASSWORD)
    expect(page.get_by_test_id("current-user")).to_be_visible()

    page.goto("/cases/")
    rows = page.get_by_test_id("case-row")
    expect(rows).to_have_count(2)
    listing = page.locator("main").inner_text()
    assert "A0001" in listing
    assert "A0002" in listing
    assert "B0001" not in listing
    assert "B0002" not in listing

    other = browser_world.cases["ben_case"]
    response = page.goto(f"/cases/{other.pk}/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_test_id("not-found")).to_be_visible()
    assert "B0001" not in page.content()
    # The 404 document itself is expected; chromium logs it as a failed resource.
    page_issues.assert_none(allow=(f"/cases/{other.pk}/",))


def test_it_locks_an_account_after_five_wrong_passwords_and_then_refuses_the_right_one(
    page: Any, page_issues: PageIssues, browser_world: World
) -> None:
    threshold = settings.RECOUP_LOCKOUT_THRESHOLD
    assert threshold == 5
    error = page.get_by_test_id("login-error")

    for _ in range(threshold - 1):
        submit_login(page, "ben", "wrong-password-123")
        expect(error).to_be_visible()
        expect(error).not_to_contain_text("锁定")

    submit_login(page, "ben", "wrong-password-123")
    expect(error).to_contain_text("锁定")

    submit_login(page, "ben", PASSWORD)
    expect(error).to_contain_text("锁定")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    page.goto("/cases/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/cases/$"))
    assert User.objects.get(username="ben").locked_until is not None
    page_issues.assert_none()


def test_it_switches_the_login_page_to_english_with_the_language_button(
    page: Any, page_issues: PageIssues, browser_world: World
) -> None:
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("lang-zh-hans")).to_be_visible()
    page_issues.assert_none()
