"""What the browser tests share: Debian's chromium launched by Playwright (headless, the
flags a closed network needs), where screenshots go, and signing in through the login
form as a person does.

Importing it skips the importing module when chromium or Playwright is missing
(scripts/ensure-test-services.sh installs both, so CI runs these tests).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = (
    Path(
        os.environ.get(
            "OMNI_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "build" / "test-artefacts"
        )
    )
    / "web"
)
WAIT_MS = 120_000  # a wait for what must happen on a loaded machine, not a speed claim

if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
    pytest.skip(
        "Debian's chromium is not installed (scripts/ensure-test-services.sh installs it)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium for one test module (each test opens contexts of its own)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, url: str, email: str, password: str) -> Any:
    """A page in a browser context of its own, signed in through the login form."""
    context = browser.new_context(base_url=url, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#user-menu span")
    assert email in page.locator("#user-menu").inner_text()
    return page
