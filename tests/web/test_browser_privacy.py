"""The privacy page in a real browser (Debian's chromium driven by Playwright, a real
``omni serve`` on a copy of the small demo home): a DPO looks a person's consent history
up through the form, in English and in Chinese, and the page breaks no part of its
Content-Security-Policy. Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, WAIT_MS, chromium

pytestmark = pytest.mark.browser

PERSON = "email:browser-privacy@shop.example"


@pytest.fixture(scope="module")
def server(browser_server: Server) -> Server:
    """The worker's server (tests/web/browsers.py); the person here is this module's own."""
    return browser_server


def test_a_dpo_looks_up_a_persons_consent_history_in_both_languages(server: Server) -> None:
    admin = bearer(server_token(server.url))
    with httpx.Client(base_url=server.url, headers=admin, timeout=120) as http:
        decision = {"person": PERSON, "purpose": "marketing", "channel": "sms"}
        made = http.post("/api/consent", json=decision | {"status": "granted", "source": "form"})
        assert made.status_code == 201, made.text
        logged = http.post("/api/privacy/requests", json={"kind": "erasure", "person": PERSON})
        assert logged.status_code == 201, logged.text
    refused: list[str] = []
    with chromium() as browser:
        context = browser.new_context(base_url=server.url, extra_http_headers=admin)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/privacy")
        assert page.locator(f"#request-{logged.json()['id']}").is_visible()
        page.locator("#privacy-consent-form").get_by_label("Person").fill(PERSON)
        page.get_by_role("button", name="Show history").click()
        page.locator("#consent-history tbody tr").first.wait_for()
        english = page.locator("#consent-history tbody").inner_text()
        page.screenshot(path=str(ARTEFACTS / "privacy-consent-history.png"), full_page=True)
        page.goto("/privacy?lang=zh")
        page.locator("#privacy-consent-form").get_by_label("客户").fill(PERSON)
        page.get_by_role("button", name="查看记录").click()
        page.locator("#consent-history tbody tr").first.wait_for()
        chinese = page.locator("#consent-history tbody").inner_text()
        heading = page.locator("h1").inner_text()
        context.close()
    assert "sms" in english and "granted" in english and "form" in english
    assert "已同意" in chinese and heading == "隐私"
    assert refused == []
