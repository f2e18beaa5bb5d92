"""The Messages page and the comment box in a real browser (Debian's chromium driven by
Playwright) against a real ``omni serve`` on a copy of the small demo home (the worker's
one server and chromium, tests/web/browsers.py).
Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

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
def page(server: Server) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            base_url=server.url,
            extra_http_headers=bearer(server_token(server.url)),
            locale="en-GB",
        )
        context.set_default_timeout(WAIT_MS)
        yield context.new_page()


def test_preview_a_template_for_a_person_and_comment_on_a_segment(
    page: Any, server: Server
) -> None:
    with httpx.Client(
        base_url=server.url, headers=bearer(server_token(server.url)), timeout=120
    ) as http:
        email = a_member(http)["identifiers"]["email"][0]  # type: ignore[arg-type]
    page.goto("/messages")
    page.get_by_role("link", name="welcome-1").click()
    page.get_by_label("Render for a person").fill(email)
    page.get_by_role("button", name="Preview").click()
    subject = page.locator("#part-subject")
    subject.wait_for()
    assert "Welcome to Lotus & Pine" in subject.inner_text()
    assert not subject.inner_text().endswith(", 朋友")  # the person's own first name
    page.screenshot(path=str(ARTEFACTS / "message-preview.png"), full_page=True)

    page.goto("/segments/lapsing")
    page.locator("#comment-form").wait_for()  # the partial loaded its box with htmx
    page.locator("#comment-body").fill("Browser check: the 90-day window looks right")
    page.get_by_role("button", name="Comment").click()
    page.locator("#comment-list", has_text="the 90-day window looks right").wait_for()
    page.screenshot(path=str(ARTEFACTS / "segment-comments.png"), full_page=True)
