"""The commerce page in a real browser (chromium via Playwright) against a real ``omni
serve`` on a copy of the small demo home: the stock chart is drawn, and picking a SKU in
the form shows its stock per location. Screenshot in ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, chromium
from tests.web.browsers import signed_in as signed_in_as

pytestmark = pytest.mark.browser
PASSWORD = "commerce test password"
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
    return running


def test_the_commerce_page_draws_stock_and_shows_a_skus_locations(server: Server) -> None:
    with httpx.Client(
        base_url=server.url, headers=bearer(server_token(server.url)), timeout=120
    ) as http:
        sku = http.get("/commerce", params={"format": "csv", "table": "atp"}).text
    first_sku = sku.lstrip("\ufeff").splitlines()[1].split(",")[0]
    with chromium() as browser:
        page = signed_in_as(browser, server.url, MARKETER, PASSWORD)
        page.goto("/commerce")
        page.wait_for_selector("#stock-chart canvas")
        kinds = set(page.locator("#stock-locations tbody tr td:nth-child(3)").all_inner_texts())
        assert kinds == {"warehouse", "store", "transit"}
        page.get_by_label("SKU").fill(first_sku)
        page.locator("#sku-form button").click()
        page.wait_for_selector("#sku-levels tbody tr")
        assert first_sku in page.locator("h3").first.inner_text()
        rows = page.locator("#sku-levels tbody tr").count()
        assert rows >= 1 and "No stock" not in page.locator("#sku-levels").inner_text()
        page.screenshot(path=str(ARTEFACTS / "commerce.png"), full_page=True)
        page.context.close()
