"""Schemathesis against the OpenAPI spec of a running `omni serve`, bounded in time.

Every generated request to the privacy, consent and audit routes (examples, coverage,
fuzzing and stateful phases) must be answered without a server error: bad input is a
4xx naming the field. ``--max-time`` (30 s) bounds the run; widen ``--include-path-regex`` to
explore the rest of the API (docs/privacy.md says how).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.collector import running_server, server_token

pytest.importorskip("schemathesis")
ROUTES = "^/api/(consent|privacy|audit)"


@pytest.mark.slow(seconds=60)
def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    with running_server(tmp_path / "home") as server:
        spec = tmp_path / "openapi.json"
        spec.write_bytes(httpx.get(f"{server.url}/openapi.json", timeout=120).content)
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                str(spec),
                "--url",
                server.url,
                "-H",
                f"Authorization: Bearer {server_token(server.url)}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "3",
                "--max-time",
                "30",
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--include-path-regex",
                ROUTES,
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "passed" in run.stdout
