"""What the browser tests share: Debian's chromium launched by Playwright (headless, the
flags a closed network needs), where screenshots go, signing in through the login form as
a person does, and one ``omni serve`` and one chromium per pytest worker.

Starting ``omni serve`` costs about six seconds and three CPU-seconds, Playwright and
chromium about one more: once per browser module it was half a minute of every run. So a
worker starts one server (``shared_server``, on a fresh copy of the small demo home) and
one chromium (``chromium()``) when its first browser test needs them, and the modules
after it use the same ones: each module still signs in, sets the passwords and makes the
teams it needs in its fixtures, and opens browser contexts of its own, so it depends on
nothing an earlier module did. When the worker's next test is not a browser test
(``tests/web/conftest.py``) both are stopped: an idle server polls its event log and
costs about 0.07 of a core. A later browser test starts them again, on a new copy.

A module that starts a server of its own (``start_server(demo_home)``) or opens
``sync_api.sync_playwright()`` still works: ``sync_api.sync_playwright()`` hands out the
worker's one Playwright (a second one in the same thread is refused by Playwright).

Importing it skips the importing module when chromium or Playwright is missing
(scripts/ensure-test-services.sh installs both, so CI runs these tests).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.collector import Server, start_server
from tests.support.homes import small_demo_home

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
_playwright_sync_api: ModuleType = pytest.importorskip("playwright.sync_api")


class _Worker:
    """This worker's Playwright, chromium and server, each started on first use."""

    playwright: Any = None
    browser: Any = None
    server: Server | None = None
    homes = 0  # copies of the demo home made so far (each start gets a new one)


def _playwright() -> Any:
    if _Worker.playwright is None:
        _Worker.playwright = _playwright_sync_api.sync_playwright().start()
    return _Worker.playwright


def _browser() -> Any:
    if _Worker.browser is None or not _Worker.browser.is_connected():
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        _Worker.browser = _playwright().chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
    return _Worker.browser


class _SharedSyncApi:
    """``playwright.sync_api`` whose ``sync_playwright()`` is the worker's one Playwright,
    left running when the block ends (``release`` stops it)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_playwright_sync_api, name)

    @staticmethod
    @contextmanager
    def sync_playwright() -> Iterator[Any]:
        yield _playwright()


sync_api: Any = _SharedSyncApi()


@contextmanager
def chromium() -> Iterator[Any]:
    """The worker's headless chromium for a test module (each test opens contexts of its
    own); the contexts opened in the block are closed when it ends, as closing a browser
    of the module's own closed them."""
    launched = _browser()
    before = set(launched.contexts)
    try:
        yield launched
    finally:
        for context in launched.contexts:
            if context not in before:
                context.close()


def shared_server(factory: pytest.TempPathFactory) -> Server:
    """The worker's ``omni serve`` on its copy of the small demo home, started if needed."""
    if _Worker.server is None:
        _Worker.homes += 1
        home = factory.mktemp(f"browser-server-{_Worker.homes}") / "home"
        small_demo_home(factory, home)
        _Worker.server = start_server(home)
    return _Worker.server


def release() -> None:
    """Stop the worker's server, chromium and Playwright (the next use starts new ones)."""
    server, _Worker.server = _Worker.server, None
    browser, _Worker.browser = _Worker.browser, None
    playwright, _Worker.playwright = _Worker.playwright, None
    try:
        if server is not None:
            server.stop()
    finally:
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


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
