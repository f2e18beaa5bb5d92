"""Every CLI command works beside a running `omni serve`: through its API, same output.

Before, with the server running, each of these failed with DuckDB's "Could not set lock
on file" (the server owns the file). Now they find the server through the runtime file
and go through its API; long ones run there as jobs. What cannot, says so, naming the
server and its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform
from omnichannel.server_runtime import read_runtime, runtime_path

# The CLI runs in this process (the server in its own): what a command does is under test.
from tests.cli.run import omni_env
from tests.cli.run import omni_in_process as omni
from tests.profiles.support import T0, add_events, add_identities
from tests.support.collector import free_port

SHOPIFY = Path(__file__).parents[1] / "ingest" / "data" / "shopify_orders.csv"

pytestmark = pytest.mark.slow


def _json(*args: str, home: Path) -> Any:
    return json.loads(omni(*args, "--json", home=home).stdout)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("beside") / "home"
    initialise(Settings(home=home))
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        add_identities(wh, ["u1", "u2"])
        add_events(wh, [{"user": "u1", "at": T0, "event": "Product Viewed"}])
    return home


@pytest.fixture(scope="module")
def offline(home: Path) -> dict[str, Any]:
    """What the commands print with no server, to compare with what they print beside one."""
    return {
        "query": _json("query", "SELECT count(*) AS n FROM identifiers", home=home),
        "stats": _json("events", "stats", home=home)["events"],
    }


@pytest.fixture(scope="module")
def server(home: Path, offline: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "serve", "--port", str(port)],
        env=omni_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while read_runtime(home) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"omni serve did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.2)
    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_the_runtime_file_is_private_and_names_the_server(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    runtime = read_runtime(home)
    assert runtime is not None and runtime.pid == server.pid
    assert oct(runtime_path(home).stat().st_mode & 0o777) == "0o600"


def test_read_commands_answer_through_the_server_as_they_do_offline(
    home: Path, server: subprocess.Popen[bytes], offline: dict[str, Any]
) -> None:
    assert _json("query", "SELECT count(*) AS n FROM identifiers", home=home) == offline["query"]
    assert _json("events", "stats", home=home)["events"] == offline["stats"]
    status = _json("status", home=home)
    assert status["warehouse"]["engine"] == "duckdb"
    assert status["warehouse"]["tables"]["identifiers"] == 2
    assert _json("dlq", "list", home=home)["total"] == 0


def test_a_setting_given_only_to_the_cli_is_named_as_not_used_by_the_server(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    # The server started without OMNI_RETENTION: a shell's value would silently not apply.
    noted = omni("status", "--json", home=home, env={"OMNI_RETENTION": "events=30d"})
    assert json.loads(noted.stdout)["warehouse"]["engine"] == "duckdb"  # stdout stays JSON
    assert "OMNI_RETENTION is set in this shell" in noted.stderr
    assert f"pid {server.pid}" in noted.stderr and "restart omni serve" in noted.stderr
    assert "events=30d" not in noted.stderr
    assert "note:" not in omni("status", "--json", home=home).stderr


def test_long_commands_run_as_jobs_on_the_server_and_profiles_can_be_read(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    resolved = _json("identity", "resolve", home=home)
    assert resolved["profiles"] == 2
    built = _json("profiles", "build", home=home)
    assert built["status"] == "built" and built["profiles"] == 2
    card = _json("profile", "show", "user_id:u1", home=home)
    assert card["identifiers"]["user_id"] == ["u1"]
    runs = {r["job"] for r in _json("jobs", "runs", "identity", home=home)}
    assert runs == {"identity"}  # the run is in the server's job history


def test_a_file_loads_through_the_server_and_its_rejects_are_listed(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    loaded = _json(
        "ingest",
        str(SHOPIFY),
        "--kind",
        "orders",
        "--source",
        "shopify",
        "--mapping",
        "shopify-orders",
        home=home,
    )
    assert loaded["written"]["orders"] > 0 and loaded["rejected"] > 0
    letters = _json("dlq", "list", "--source", "shopify", home=home)
    assert letters["total"] == loaded["rejected"]  # one pending letter per refused row
    flagged = _json("dlq", "list", "--source", "shopify", "--all", home=home)
    assert flagged["total"] == loaded["rejected"] + loaded["fields_nulled"]
    orders = _json("query", "SELECT count(*) AS n FROM orders", home=home)
    assert orders["rows"] == [{"n": loaded["written"]["orders"]}]


def test_what_cannot_go_through_the_server_names_it_and_its_pid(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    refused = omni("events", "drain", home=home, check=False)
    assert refused.returncode == 1
    assert f"omni serve (pid {server.pid}" in refused.stderr
    assert "stop the server first" in refused.stderr
    again = omni("serve", "--port", str(free_port()), home=home, check=False)
    assert again.returncode == 1 and f"pid {server.pid}" in again.stderr


def test_after_the_server_stops_commands_work_on_the_home_again(
    home: Path, server: subprocess.Popen[bytes]
) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)
    assert not runtime_path(home).exists()
    assert _json("query", "SELECT count(*) AS n FROM identifiers", home=home)["total"] == 1
