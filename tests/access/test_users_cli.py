"""``omni users`` and ``omni audit`` on a home, as an operator runs them; ``omni init``'s admin."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from omnichannel.api import create_app
from omnichannel.cli import app
from omnichannel.config import Settings
from tests.access.conftest import bearer, login


def _omni(home: Path, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"OMNI_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.output


def test_init_users_tokens_and_audit_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = json.loads(_omni(home, "init", "--json"))
    admin = first["first_admin"]
    assert admin["email"] == "admin@localhost" and admin["must_change_password"] is True
    assert json.loads(_omni(home, "init", "--json"))["first_admin"] is None  # only once

    made = _omni(home, "users", "create", "li@shop.example", "--role", "approver")
    one_time = made.strip().splitlines()[-1]
    assert len(one_time) == 20
    _omni(home, "users", "role", "li@shop.example", "viewer")
    _omni(home, "users", "disable", "li@shop.example")
    listed = {u["email"]: u for u in json.loads(_omni(home, "users", "list", "--json"))}
    assert listed["li@shop.example"]["role"] == "viewer"
    assert listed["li@shop.example"]["active"] is False
    _omni(home, "users", "enable", "li@shop.example")

    token = json.loads(
        _omni(home, "users", "token", "create", "li@shop.example", "--name", "bi", "--json")
    )
    assert token["token"].startswith("omni_tok_") and token["role"] == "viewer"
    assert token["token"].encode() not in (home / "opstore.sqlite").read_bytes()
    listed_tokens = json.loads(_omni(home, "users", "token", "list", "--json"))
    assert [t["prefix"] for t in listed_tokens] == [token["prefix"]]
    assert "token" not in listed_tokens[0]

    settings = Settings(home=home, write_key_cache_seconds=0)
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/me", headers=bearer(token["token"])).json()
        assert (me["actor"], me["role"]) == ("li@shop.example", "viewer")
        assert login(client, "li@shop.example", one_time).headers["location"] == "/account/password"
    _omni(home, "users", "token", "revoke", str(token["id"]))
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/me", headers=bearer(token["token"])).status_code == 401

    entries = json.loads(_omni(home, "audit", "list", "--target", "user:li@shop.example", "--json"))
    assert [e["action"] for e in entries] == [
        "user.enable",
        "user.disable",
        "user.role",
        "user.create",
    ]
    assert all(e["actor"].startswith("cli:") for e in entries)
    assert entries[2]["before"]["role"] == "approver" and entries[2]["after"]["role"] == "viewer"
