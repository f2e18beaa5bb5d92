"""The segment builder and the journey editor in a real browser (Debian's chromium driven by
Playwright) against a real ``omni serve`` on a copy of the small demo home, signed in as
the demo's marketer and approver. Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, chromium
from tests.web.browsers import signed_in as signed_in_as

pytestmark = pytest.mark.browser
PASSWORD = "builders test password"
MARKETER, APPROVER = "marketer@demo.example", "approver@demo.example"


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    """The worker's server (tests/web/browsers.py), with what this module needs set up."""
    running = browser_server
    with httpx.Client(
        base_url=running.url, headers=bearer(server_token(running.url)), timeout=120
    ) as http:
        for email in (MARKETER, APPROVER):  # their own passwords: no change at sign-in
            answer = http.post(f"/api/users/{email}/password", json={"password": PASSWORD})
            assert answer.status_code == 200, answer.text
    return running


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def signed_in(browser: Any, server: Server, email: str) -> Any:
    return signed_in_as(browser, server.url, email, PASSWORD)


def _size(page: Any) -> int:
    return int(page.locator("#estimate-size").inner_text().replace(",", ""))


def test_build_a_segment_and_watch_its_size_update(browser: Any, server: Server) -> None:
    page = signed_in(browser, server, MARKETER)
    page.goto("/segments/new")
    page.wait_for_selector("#estimate-size")
    before = _size(page)  # the starting condition: orders >= 1
    page.locator('[data-add-to="condition.all"]').click()  # a second condition
    page.get_by_label("condition.all[1].trait.field").fill("orders")
    page.get_by_label("Add a field… condition.all[1].trait").select_option("gte")
    page.get_by_label("condition.all[1].trait.gte").fill("3")
    page.wait_for_function(
        "n => { const e = document.querySelector('#estimate-size');"
        " return e && Number(e.textContent.replace(/,/g, '')) !== n; }",
        arg=before,
    )
    after = _size(page)
    assert 0 < after < before
    badge = page.locator('[data-path="condition.all[1]"] .size').first
    assert badge.inner_text().replace(",", "") == str(after)  # the narrower one decides
    text = page.locator("#document").input_value()
    assert '"gte": 3' in text
    page.locator("#document").fill(text.replace('"gte": 3', '"gte": 2'))  # the JSON side
    assert page.get_by_label("condition.all[1].trait.gte").input_value() == "2"
    page.wait_for_function(
        "n => Number(document.querySelector('#estimate-size').textContent.replace(/,/g, '')) > n",
        arg=after,
    )
    after = _size(page)  # orders >= 2: more people than >= 3
    page.get_by_label("name", exact=True).fill("three-orders")
    page.screenshot(path=str(ARTEFACTS / "segment-builder.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/segments/three-orders")
    assert page.locator("#segment-facts").inner_text().count(f"{after:,}") >= 1
    page.context.close()


def test_create_a_journey_and_have_a_second_user_approve_it(browser: Any, server: Server) -> None:
    marketer = signed_in(browser, server, MARKETER)
    marketer.goto("/journeys/new")
    marketer.get_by_label("name", exact=True).fill("welcome-check")
    marketer.wait_for_selector("#validation-ok")
    marketer.get_by_role("button", name="Save as a new version").click()
    marketer.wait_for_url("**/journeys/welcome-check?done=save")
    assert marketer.locator("#journey-status").inner_text() == "draft"
    assert marketer.locator("#action-approve").count() == 0  # a marketer cannot approve
    marketer.screenshot(path=str(ARTEFACTS / "journey-saved-by-marketer.png"), full_page=True)

    approver = signed_in(browser, server, APPROVER)  # a second browser context
    approver.goto("/journeys/welcome-check")
    assert approver.locator("#edit-journey").count() == 0  # an approver writes nothing
    approver.locator("#action-approve").click()
    approver.wait_for_url("**/journeys/welcome-check?done=approve")
    assert approver.locator("#journey-status").inner_text() == "approved"
    assert APPROVER in approver.locator("#approved").inner_text()
    approver.screenshot(path=str(ARTEFACTS / "journey-approved.png"), full_page=True)
    marketer.reload()
    assert marketer.locator("#journey-status").inner_text() == "approved"
    marketer.context.close()
    approver.context.close()
