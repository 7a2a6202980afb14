"""A plan proposed, approved, consented and signed; the client's repayment file imported; the
promise kept, the instalment paid and the balance down — in chromium."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recoup.contact.models import Promise
from recoup.intake.tests.conftest import csv_bytes
from recoup.money.models import RepaymentPlan
from recoup.money.tests.helpers import HEADERS, placed_early
from tests.browser.conftest import PageIssues
from tests.browser.test_login_flows import submit_login
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser


def _logout(page: Any) -> None:
    page.context.clear_cookies()


def test_a_plan_is_approved_a_payment_file_posts_and_the_promise_is_kept(
    page: Any, page_issues: PageIssues, browser_world: World, tmp_path: Path, screenshots: Path
) -> None:
    placed_early()
    case = browser_world.cases["ada_case"]
    today = timezone.localdate()
    Promise.objects.create(
        organisation=browser_world.org,
        case=case,
        amount=Decimal("3000.00"),
        due_on=today + timedelta(days=3),
        created_by=browser_world.people["ada"],
    )

    # The collector proposes a plan from the case page: preview, then submit.
    submit_login(page, "ada", PASSWORD)
    page.goto(f"/cases/{case.pk}/")
    page.get_by_test_id("propose-plan").click()
    form = page.get_by_test_id("plan-form")
    form.locator("input[name=first_amount]").fill("3000")
    form.locator("input[name=first_due_on]").fill((today + timedelta(days=3)).isoformat())
    form.locator("input[name=count]").fill("3")
    with page.expect_navigation():
        form.locator("button[value=preview]").click()
    expect(page.get_by_test_id("schedule")).to_contain_text("3,786.73")
    with page.expect_navigation():
        page.get_by_test_id("propose").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("待主管审批")
    plan_url = page.url
    _logout(page)

    # The supervisor approves.
    submit_login(page, "sue", PASSWORD)
    page.goto(plan_url)
    with page.expect_navigation():
        page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("待委托方同意")
    _logout(page)

    # The bank liaison records the client's consent, then uploads the signed plan.
    consent = tmp_path / "甲银行同意函.pdf"
    consent.write_bytes(b"%PDF-1.4 consent")
    signed = tmp_path / "还款计划书-签署.pdf"
    signed.write_bytes(b"%PDF-1.4 signed")
    submit_login(page, "amy", PASSWORD)
    page.goto(plan_url)
    form = page.get_by_test_id("consent-form")
    form.locator("input[name=reference]").fill("甲银行函〔2026〕118 号")
    form.locator("input[name=evidence]").set_input_files(str(consent))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("待签署")
    form = page.get_by_test_id("sign-form")
    form.locator("input[name=debtor_document]").set_input_files(str(signed))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("履行中")

    # The client's repayment file: 3 000.00 paid today.
    repayments = tmp_path / "甲银行还款明细.csv"
    repayments.write_bytes(
        csv_bytes([["TX-B1", "A0001", "3000.00", today.isoformat(), "手机银行"]], headers=HEADERS)
    )
    page.goto("/intake/upload/")
    form = page.get_by_test_id("upload-form")
    form.locator("select[name=contract]").select_option(str(browser_world.contract_a.pk))
    form.locator("select[name=kind]").select_option("repayments")
    form.locator("input[name=file]").set_input_files(str(repayments))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/intake/jobs/\d+/mapping/$"))
    with page.expect_navigation():
        page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("job-status")).to_have_text("已完成", timeout=20_000)

    # The balance fell, the first instalment is paid.
    page.goto(f"/cases/{case.pk}/")
    expect(page.get_by_test_id("ledger-balance")).to_have_text("7,573.45")
    page.goto(plan_url)
    expect(page.get_by_test_id("instalment-1")).to_contain_text("已按时还款")
    page.screenshot(path=screenshots / "money-plan.png", full_page=True)
    _logout(page)

    # The collector sees the promise kept in the workspace.
    submit_login(page, "ada", PASSWORD)
    page.goto(f"/work/case/{case.pk}/")
    expect(page.get_by_test_id("promises")).to_contain_text("已履行")
    assert RepaymentPlan.objects.get().status == "active"
    page_issues.assert_none()
