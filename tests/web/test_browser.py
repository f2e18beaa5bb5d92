"""The pages in a real browser: Debian's chromium driven by Playwright, against a real
``omni serve`` on a copy of the small demo home (the worker's one server and chromium,
tests/web/browsers.py).

Screenshots go to ``$OMNI_TEST_ARTEFACTS/web`` (default ``build/test-artefacts/web`` in
the checkout), kept after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, WAIT_MS, chromium
from tests.web.conftest import a_member

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    return browser_server


@pytest.fixture(scope="module")
def person(server: Server) -> dict[str, Any]:
    """A demo customer, found through the running server (this module's home is its)."""
    headers = bearer(server_token(server.url))
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        return a_member(http)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def browser_page(server: Server) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            base_url=server.url,
            extra_http_headers=bearer(server_token(server.url)),
            locale="en-GB",
        )
        context.set_default_timeout(WAIT_MS)
        yield context.new_page()


def test_overview_chart_renders(browser_page: Any) -> None:
    page = browser_page
    page.goto("/")
    page.wait_for_selector("#chart-revenue canvas")
    assert page.locator("#sources tbody tr").count() > 0
    page.screenshot(path=str(ARTEFACTS / "overview.png"), full_page=True)


def test_find_a_customer_by_email_and_see_their_timeline(
    browser_page: Any, person: dict[str, Any]
) -> None:
    page = browser_page
    page.goto("/customers")
    page.get_by_label("Find a person by email, phone, user id or TYPE:VALUE").fill(
        person["identifiers"]["email"][0]
    )
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#timeline-rows tr")
    assert person["profile_id"] in page.locator("#profile-card").inner_text()
    rows = page.locator("#timeline-rows tr").count()
    page.get_by_role("button", name="Older").click()  # the next page, appended by htmx
    # A function with an argument: a bare expression string is eval'd in the page, which
    # the Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function(
        "n => document.querySelectorAll('#timeline-rows tr').length > n", arg=rows
    )
    page.screenshot(path=str(ARTEFACTS / "customer-360.png"), full_page=True)


def test_switch_to_chinese_and_see_translated_labels(browser_page: Any) -> None:
    page = browser_page
    page.goto("/journeys")
    page.get_by_label("Language").select_option("zh")
    page.wait_for_selector("html[lang='zh-CN']")
    assert page.get_by_role("heading", level=1).inner_text().startswith("旅程")
    assert "概览" in page.locator("nav").inner_text()
    page.goto("/journeys/abandoned-cart")  # the cookie keeps the choice
    page.wait_for_selector("#journey-graph canvas")
    assert "步骤与分支" in page.content()
    page.screenshot(path=str(ARTEFACTS / "journey-zh.png"), full_page=True)
