"""The budget page in a real browser (chromium via Playwright) against a real ``omni serve``
on a copy of the small demo home: the response curves and the split are drawn, and the
scenario form compares two totals. Screenshot in ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, chromium
from tests.web.browsers import signed_in as signed_in_as
from tests.web.test_budget import MODEL

pytestmark = pytest.mark.browser
PASSWORD = "budget test password"
MARKETER = "marketer@demo.example"


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    """The worker's server (tests/web/browsers.py), with what this module needs set up."""
    running = browser_server
    with httpx.Client(
        base_url=running.url, headers=bearer(server_token(running.url)), timeout=120
    ) as http:
        answer = http.post(f"/api/users/{MARKETER}/password", json={"password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert http.post("/api/budget/model", json={"model": MODEL}).status_code == 200
    return running


def test_the_budget_page_draws_curves_and_compares_scenarios(server: Server) -> None:
    with chromium() as browser:
        page = signed_in_as(browser, server.url, MARKETER, PASSWORD)
        page.goto("/budget?total=300")
        page.wait_for_selector("#curves-chart canvas")
        page.wait_for_selector("#split-chart canvas")
        channels = page.locator("#split tbody tr td:first-child").all_inner_texts()
        assert channels == ["search", "social", "video"]
        page.get_by_label("Total per period").nth(1).fill("200")
        page.get_by_label("Total per period").nth(2).fill("400")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_selector("#scenarios tbody tr")
        names = page.locator("#scenarios tbody tr td:first-child").all_inner_texts()
        assert names == ["conversions 200", "conversions 400"]
        page.screenshot(path=str(ARTEFACTS / "budget.png"), full_page=True)
        page.context.close()
