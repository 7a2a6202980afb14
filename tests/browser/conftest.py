"""Browser tests: Playwright's sync API drives Debian's chromium against the live server.

- One chromium per test module (``browser``), a fresh context and page per test (``page``).
- Never downloads a browser: without /usr/bin/chromium the tests are skipped, or fail when
  ``RECOUP_REQUIRE_BROWSER=1`` (CI sets it so a missing browser cannot pass silently).
- Every page records console errors, uncaught script errors, CSP violations and failed
  requests (``page_issues``); tests end with ``page_issues.assert_none()``.
- pytest-django's ``live_server`` serves static files through staticfiles' finders, so
  Bootstrap and HTMX load as they would behind a web server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import World

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Known app issues the tests tolerate until fixed; remove an entry once its fix lands.
# /favicon.ico: base.html links no icon, so chromium asks for /favicon.ico and gets a 404
# (logged as a console error). Fix: <link rel="icon" href="data:,"> in base.html's <head>.
KNOWN_APP_ISSUES: tuple[str, ...] = ()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Reports every CSP violation to the test (the listener is installed by the browser before
# any page script runs, so the page's own CSP does not apply to it).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__recoupCspViolation(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium package to run browser tests"
    if os.environ.get("RECOUP_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (RECOUP_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    # Between sync calls Playwright marks its event loop as running in the main thread, so
    # Django would refuse ORM calls made by the test (fixtures, assertions) with
    # SynchronousOnlyOperation. Allow them only while Playwright runs, then restore.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class PageIssues:
    """What went wrong in the browser while a test ran; expected entries can be allowed."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def assert_none(self, *, allow: tuple[str, ...] = ()) -> None:
        """No issue except known app issues and those containing an ``allow`` substring."""
        allowed = allow + KNOWN_APP_ISSUES

        def unexpected(items: list[str]) -> list[str]:
            return [i for i in items if not any(a in i for a in allowed)]

        found = {
            "console errors": unexpected(self.console_errors),
            "script errors": unexpected(self.page_errors),
            "CSP violations": unexpected(self.csp_violations),
            "failed requests": unexpected(self.failed_requests),
        }
        assert not any(found.values()), {k: v for k, v in found.items() if v}


@pytest.fixture
def page_issues() -> PageIssues:
    return PageIssues()


@pytest.fixture
def page(browser: Any, live_server: Any, page_issues: PageIssues) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)

    def record_csp_violation(report: str) -> None:
        page_issues.csp_violations.append(report)

    context.expose_function("__recoupCspViolation", record_csp_violation)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on(
        "console",
        lambda msg: (
            page_issues.console_errors.append(f"{msg.text} ({msg.location.get('url')})")
            if msg.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda exc: page_issues.page_errors.append(str(exc)))
    page.on(
        "requestfailed",
        lambda req: page_issues.failed_requests.append(f"{req.url}: {req.failure}"),
    )
    page.on(
        "response",
        lambda resp: (
            page_issues.failed_requests.append(f"{resp.url}: HTTP {resp.status}")
            if resp.status >= 400
            else None
        ),
    )
    yield page
    context.close()


@pytest.fixture
def browser_world(transactional_db: None, live_server: Any, world: World) -> World:
    """The personas of tests/fixtures.py, committed so that the live server's thread sees them."""
    return world


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
