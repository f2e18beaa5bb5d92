"""The Analytics pages in a real browser (Debian's chromium driven by Playwright) against a
real ``omni serve`` on a copy of the small demo home: a two-step funnel drawn on the demo
data, and a report built, shared with a team and seen by a second user of that team.
Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, chromium
from tests.web.browsers import signed_in as signed_in_as

pytestmark = pytest.mark.browser
PASSWORD = "analytics test password"
AUTHOR, COLLEAGUE = "marketer@demo.example", "approver@demo.example"


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    """The worker's server (tests/web/browsers.py), with what this module needs set up."""
    running = browser_server
    with httpx.Client(
        base_url=running.url, headers=bearer(server_token(running.url)), timeout=120
    ) as http:
        for email in (AUTHOR, COLLEAGUE):  # their own passwords: no change at sign-in
            answer = http.post(f"/api/users/{email}/password", json={"password": PASSWORD})
            assert answer.status_code == 200, answer.text
        assert http.post("/api/reports/teams", json={"name": "growth"}).status_code == 201
        for email in (AUTHOR, COLLEAGUE):
            added = http.post("/api/reports/teams/growth/members", json={"email": email})
            assert added.status_code == 200, added.text
    return running


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def signed_in(browser: Any, server: Server, email: str) -> Any:
    return signed_in_as(browser, server.url, email, PASSWORD)


def test_open_a_funnel_chart(browser: Any, server: Server) -> None:
    page = signed_in(browser, server, AUTHOR)
    page.goto("/analytics")
    page.get_by_role("link", name="Funnels", exact=True).first.click()
    page.get_by_label("Step 1", exact=True).select_option("Product Viewed")
    page.get_by_label("Step 2", exact=True).select_option("Product Added")
    page.get_by_role("button", name="Show the funnel").click()
    page.wait_for_selector("#funnel-chart canvas")
    cells = page.locator("#funnel-steps tbody tr td:nth-child(2)").all_inner_texts()
    counts = [int(c.replace(",", "")) for c in cells]
    assert len(counts) == 2 and counts[0] >= counts[1] > 0
    assert "Product Viewed" in page.locator("#funnel-steps").inner_text()
    page.screenshot(path=str(ARTEFACTS / "analytics-funnel.png"), full_page=True)
    page.context.close()


def test_build_and_share_a_report(browser: Any, server: Server) -> None:
    page = signed_in(browser, server, AUTHOR)
    page.goto("/reports/new")
    page.get_by_label("Title").fill("Revenue per channel, browser")
    page.get_by_label("What to measure").select_option("kpi")
    page.get_by_label("KPIs (for a KPI metric)").select_option(["revenue", "deals"])
    page.locator('input[name="dimension"][value="channel"]').check()
    page.get_by_label("Show as").select_option("bar")
    page.get_by_label("Share with").select_option("growth")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#report-chart canvas")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/reports/\d+$"))
    page.wait_for_selector("#report-chart canvas")
    assert page.locator("#report-team").inner_text() == "growth"
    page.screenshot(path=str(ARTEFACTS / "report-shared.png"), full_page=True)
    url = page.url
    page.context.close()

    colleague = signed_in(browser, server, COLLEAGUE)
    colleague.goto("/reports")
    colleague.get_by_role("link", name="Revenue per channel, browser").click()
    colleague.wait_for_url(url)
    colleague.wait_for_selector("#report-chart canvas")
    assert colleague.locator("#share-form").count() == 0  # theirs to read, not to change
    colleague.screenshot(path=str(ARTEFACTS / "report-seen-by-team.png"), full_page=True)
    colleague.context.close()
