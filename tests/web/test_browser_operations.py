"""The operations page in a real browser (Debian's chromium driven by Playwright, the
worker's ``omni serve``): an operator finds a failed run through the status filter, in
English and in Chinese, and the page breaks no part of its Content-Security-Policy.
Screenshots go to ``$OMNI_TEST_ARTEFACTS/web``."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.collector import Server, bearer, server_token
from tests.web.browsers import ARTEFACTS, WAIT_MS, chromium

pytestmark = pytest.mark.browser


def test_an_operator_finds_a_failed_job_run_in_both_languages(browser_server: Server) -> None:
    admin = bearer(server_token(browser_server.url))
    with httpx.Client(base_url=browser_server.url, headers=admin, timeout=120) as http:
        started = http.post("/api/jobs/backup/runs", json={"options": {}})  # no directory
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        deadline = time.monotonic() + 60
        while http.get(f"/api/jobs/runs/{run_id}").json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    refused: list[str] = []
    with chromium() as browser:
        context = browser.new_context(base_url=browser_server.url, extra_http_headers=admin)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/operations")
        page.locator("#operations-run-filter").get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Show").click()
        page.locator(f"#run-{run_id}").wait_for()
        failed = page.locator("#operations-runs tbody").inner_text()
        page.screenshot(path=str(ARTEFACTS / "operations-failed-runs.png"), full_page=True)
        page.goto("/operations?lang=zh&status=failed")
        page.locator(f"#run-{run_id}").wait_for()
        chinese = page.locator(f"#run-{run_id}").inner_text()
        heading = page.locator("h1").inner_text()
        context.close()
    assert "backup" in failed and "directory" in failed
    assert "succeeded" not in failed  # the filter kept failed runs only
    assert "失败" in chinese and heading == "运维"
    assert refused == []
