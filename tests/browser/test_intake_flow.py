"""An admin assistant uploads a bank file, checks the mapping, watches it import, and
downloads the error report — in chromium."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from recoup.cases.models import Case
from recoup.intake.tests.conftest import csv_bytes, row
from tests.browser.conftest import PageIssues
from tests.browser.test_login_flows import submit_login
from tests.fixtures import PASSWORD, World

pytestmark = pytest.mark.browser


def test_it_uploads_a_file_watches_the_progress_reach_the_summary_and_downloads_the_report(
    page: Any, page_issues: PageIssues, browser_world: World, tmp_path: Path, screenshots: Path
) -> None:
    bank_file = tmp_path / "甲银行-202611.csv"
    bank_file.write_bytes(csv_bytes([row(1), row(2), row(3, principal="abc")], encoding="gb18030"))

    submit_login(page, "amy", PASSWORD)
    page.goto("/intake/")
    page.get_by_test_id("upload-link").click()
    form = page.get_by_test_id("upload-form")
    form.locator("select[name=contract]").select_option(str(browser_world.contract_a.pk))
    form.locator("input[name=file]").set_input_files(str(bank_file))
    form.locator("input[name=batch_reference]").fill("A-202611-01")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()

    # The mapping page: a masked preview and a live check that all required fields are there.
    expect(page).to_have_url(re.compile(r"/intake/jobs/\d+/mapping/$"))
    expect(page.get_by_test_id("mapping-problems")).to_contain_text("必填字段齐全")
    assert "王小明" not in page.content()
    # Unmap the ID column: the HTMX check names what is missing; map it back.
    id_select = page.locator("select[aria-label='身份证号']")
    id_select.select_option("ignore")
    expect(page.get_by_test_id("mapping-problems")).to_contain_text("证件号码")
    id_select.select_option("id_number")
    expect(page.get_by_test_id("mapping-problems")).to_contain_text("必填字段齐全")

    with page.expect_navigation():
        page.get_by_test_id("start-import").click()
    expect(page).to_have_url(re.compile(r"/intake/jobs/\d+/$"))
    # The progress bar reaches the summary (the test settings run tasks immediately; in
    # production the card polls every second while a worker imports).
    expect(page.get_by_test_id("job-status")).to_have_text("已完成", timeout=20_000)
    expect(page.get_by_test_id("progress-bar")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("rows-loaded")).to_have_text("2")
    expect(page.get_by_test_id("issue-row")).to_have_count(1)
    page.screenshot(path=screenshots / "intake-summary.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_test_id("download-report").click()
    report = download_info.value
    assert report.suggested_filename.endswith("-issues.xlsx")
    sheet = load_workbook(io.BytesIO(Path(report.path()).read_bytes())).active
    cells = [str(c.value) for r in sheet.iter_rows() for c in r if c.value is not None]
    assert any("金额无法识别" in c for c in cells)

    assert Case.objects.filter(batch__reference="A-202611-01").count() == 2
    page_issues.assert_none()
