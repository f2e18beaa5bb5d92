"""Custom identity rules in the home hold everywhere a profile is built, read or shown.

The home types a POS system's user ids as ``member_no`` (a custom identifier type with its
own priority). A profile resolved under those rules must show its POS events through the
library, the CLI and the HTTP API: each used to fall back to the shipped rules, which
read the same ids as ``user_id`` and found no events.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from omnichannel.cli import app
from omnichannel.config import Settings
from omnichannel.configuration import InstallationConfig
from omnichannel.profiles.timeline import conversion_paths, timeline
from omnichannel.warehouse import Warehouse, open_warehouse
from tests.profiles.support import T0, add_events, add_orders

runner = CliRunner()
RULES = """
identifiers:
  member_no: {priority: 2, limit: 1}
source_id_types:
  pos: {user_id: member_no}
"""
POS_EVENTS = 3


def _cli(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def home(omni_home: Path) -> Path:
    """A home with custom rules, a CRM record holding member number M-1, its POS events."""
    omni_home.mkdir(parents=True)
    (omni_home / "identity-rules.yaml").write_text(RULES)
    with Warehouse.open(f"duckdb:///{(omni_home / 'omni.duckdb').resolve()}") as wh:
        wh.append(
            "identifiers",
            pa.table(
                {
                    "source": ["crm", "crm"],
                    "record_id": ["c-1", "c-1"],
                    "id_type": ["member_no", "email"],
                    "id_value": ["M-1", "ann@example.cn"],
                    "observed_at": [T0, T0],
                }
            ),
        )
        add_events(
            wh,
            [
                {
                    "user": "M-1",
                    "at": T0 + timedelta(days=d),
                    "channel": "pos",
                    "campaign": "Spring" if d == 2 else None,
                }
                for d in range(1, POS_EVENTS + 1)
            ],
        )
        # The POS order's user id is a member number too: it joins the CRM record.
        add_orders(wh, [{"id": "o-1", "user": "M-1", "day": 5, "total": 30, "channel": "pos"}])
    return omni_home


def _events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i["kind"] == "event"]


def test_custom_rules_reach_the_library_the_cli_and_the_http_api(home: Path) -> None:
    resolved = _cli("identity", "resolve")
    assert resolved["profiles"] == 1
    built = _cli("profiles", "build")
    assert built["status"] == "built"

    config = InstallationConfig.load(Settings(home=home))
    assert config.rules.rule("member_no").priority == 2
    with open_warehouse(config.settings.resolved_warehouse_url) as wh:
        row = wh.table("profiles").to_pyarrow().to_pylist()[0]
        assert row["events"] == POS_EVENTS
        page = timeline(wh, row["profile_id"], rules=config.rules)
        assert len(_events(page.items)) == POS_EVENTS
        paths = conversion_paths(wh, row["profile_id"], rules=config.rules)
        assert [t["campaign"] for t in paths[0]["touchpoints"]] == ["Spring"]

    card = _cli("profile", "show", "member_no:M-1")
    assert card["traits"]["preferred_channel_engagement"] == "pos"
    assert len(_events(card["timeline"])) == POS_EVENTS
    assert card["conversion_path"]["order_id"] == "o-1"

    with _server(home) as client:
        first = client.get("/v1/profiles/member_no:M-1/events", params={"limit": 2})
        assert first.status_code == 200, first.text
        body = first.json()
        assert [i["kind"] for i in body["data"]] == ["order", "event"]
        assert body["cursor"]["has_more"] is True
        rest = client.get(
            "/v1/profiles/member_no:M-1/events",
            params={"limit": 50, "next": body["cursor"]["next"]},
        ).json()
        assert len(_events(body["data"] + rest["data"])) == POS_EVENTS
        path = client.get("/v1/profiles/email:ann@example.cn/conversion_path").json()
        assert [t["campaign"] for t in path["data"][0]["touchpoints"]] == ["Spring"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_headers(home: Path) -> dict[str, str]:
    """An admin token for the profile routes, where this version of the API asks for one."""
    try:
        from omnichannel.opstore import open_opstore
        from omnichannel.opstore.admin_tokens import create_admin_token
    except ImportError:  # an API without admin tokens: the routes are open
        return {}
    store = open_opstore(Settings(home=home).resolved_opstore_url)
    try:
        with store.session() as session:
            token = create_admin_token(session, actor="test")
    finally:
        store.close()
    return {"Authorization": f"Bearer {token}"}


class _Client:
    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base
        self.headers = headers

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.get(self.base + path, params=params, headers=self.headers, timeout=60)


class _server:
    """``omni serve`` on the home in a second process, spoken to over real HTTP."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Client:
        headers = _admin_headers(self.home)
        env = {**os.environ, "OMNI_HOME": str(self.home)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omnichannel", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120  # generous: the machine may be busy
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert self.process.poll() is None, "omni serve exited"
                assert time.monotonic() < deadline, "omni serve did not start"
                time.sleep(0.2)
        return _Client(base, headers)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)
