"""A supervisor writes a rule set, previews an allocation, commits it, and the collectors find
the cases in their own lists — in chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from recoup.allocation.tests.test_services import pending_cases
from recoup.cases.models import Case
from tests.browser.conftest import PageIssues
from tests.browser.test_login_flows import submit_login
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser


def test_it_edits_a_rule_previews_commits_and_the_cases_reach_the_collectors(
    page: Any, page_issues: PageIssues, browser_world: World, screenshots: Path
) -> None:
    world = browser_world
    ids = pending_cases(world, 12)

    submit_login(page, "sue", PASSWORD)
    page.goto("/allocation/")
    expect(page.get_by_test_id("pool-A-1")).to_have_text("12")
    page.get_by_test_id("new-rule-set").click()
    page.locator("select[name=contract]").select_option(str(world.contract_a.pk))
    page.locator("input[name=name]").fill("北分每日分案")
    rule = page.get_by_test_id("rule-0")
    rule.locator("input[name=r0-name]").fill("北分两个组")
    rule.locator("select[name=r0-teams]").select_option([str(world.n1.pk), str(world.n2.pk)])
    with page.expect_navigation():
        page.get_by_test_id("save-rule-set").click()
    expect(page).to_have_url(re.compile(r"/allocation/$"))

    preview = page.locator("[data-testid^=preview-]").first
    with page.expect_navigation():
        preview.click()
    expect(page).to_have_url(re.compile(r"/allocation/runs/\d+/$"))
    expect(page.get_by_test_id("run-status")).to_have_text("预览")
    expect(page.get_by_test_id("placed-count")).to_have_text("12")
    expect(page.get_by_test_id("collector-row")).to_have_count(3)  # ada, ben, fay
    expect(page.locator("#allocation-chart canvas")).to_have_count(1)  # ECharts drew it
    assert not Case.objects.filter(pk__in=ids, assignee__isnull=False).exists()
    page.screenshot(path=screenshots / "allocation-preview.png", full_page=True)

    with page.expect_navigation():
        page.get_by_test_id("commit-run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("已提交")
    assert Case.objects.filter(pk__in=ids, status="assigned").count() == 12

    # ada now finds her share of the batch in her own case list.
    mine = list(
        Case.objects.filter(pk__in=ids, assignee=world.ada).values_list(
            "client_case_number", flat=True
        )
    )
    assert mine
    with page.expect_navigation():
        page.locator("form[action$='/logout/'] button").click()
    submit_login(page, "ada", PASSWORD)
    page.goto("/cases/")
    for number in mine:
        expect(page.get_by_text(number)).to_be_visible()
    page_issues.assert_none()
