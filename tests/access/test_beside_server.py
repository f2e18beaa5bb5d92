"""``omni users`` and ``omni audit`` beside a running ``omni serve``: through its API, as the
OS user, with the server's local admin token (a real server process, real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from omnichannel.access.principal import cli_actor
from tests.cli.run import omni
from tests.support.collector import running_server


def test_users_commands_go_through_the_server_and_name_the_os_user(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    with running_server(home) as server:
        made = json.loads(
            omni(
                "users", "create", "li@shop.example", "--role", "approver", "--json", home=home
            ).stdout
        )
        assert made["role"] == "approver" and len(made["password"]) == 20
        entries = json.loads(omni("audit", "list", "--json", home=home).stdout)
        # Without a token the server refuses what the CLI was let in for.
        assert httpx.get(f"{server.url}/api/users", timeout=30).status_code == 401
    assert entries[0]["action"] == "user.create" and entries[0]["actor"] == cli_actor()
