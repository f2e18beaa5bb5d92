"""A survey answered on a phone-sized browser, then counted on the dashboard (Debian's
chromium driven by Playwright, a real ``omni serve`` on a copy of the small demo home: the
worker's one server and chromium, tests/web/browsers.py).
Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, WAIT_MS, chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    return browser_server


def test_answer_on_a_phone_and_see_the_count_go_up_on_the_dashboard(server: Server) -> None:
    admin = bearer(server_token(server.url))
    with httpx.Client(base_url=server.url, headers=admin, timeout=120) as http:
        made = http.get(
            "/api/surveys/store-nps/receipt-qr", params={"store": "browser", "receipt": "b-1"}
        )
        before = {s["name"]: s for s in http.get("/api/surveys").json()}["store-nps"]
    token = made.headers["x-survey-link"].rsplit("/s/", 1)[1]
    with chromium() as browser:
        phone = browser.new_context(
            base_url=server.url,
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
        )
        phone.set_default_timeout(WAIT_MS)
        page = phone.new_page()
        page.goto(f"/s/{token}")
        page.get_by_label("3", exact=True).check()  # a low score shows the follow-up
        page.get_by_label("您的回答").fill("排队太久")
        page.screenshot(path=str(ARTEFACTS / "survey-answer-phone.png"), full_page=True)
        page.get_by_role("button", name="发送我的回答").click()
        page.locator("#survey-thanks").wait_for()
        phone.close()

        desk = browser.new_context(base_url=server.url, extra_http_headers=admin)
        desk.set_default_timeout(WAIT_MS)
        dashboard = desk.new_page()
        dashboard.goto("/surveys?survey=store-nps&by=store")
        answered = dashboard.locator("#answered-store-nps").inner_text()
        dashboard.screenshot(path=str(ARTEFACTS / "surveys-dashboard.png"), full_page=True)
        desk.close()
    assert int(answered.replace(",", "")) == before["answered"] + 1
