"""``/api/send-times`` on a real ``omni serve``, and ``omni send-times`` going through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnichannel.cli.main import app as cli
from tests.support.collector import bearer, make_admin_token, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(world_home: Path) -> Iterator[dict[str, Any]]:
    token = make_admin_token(world_home)
    with (
        running_server(world_home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        yield {"http": http, "url": server.url, "home": world_home}


def test_send_times_need_the_admin_token(served: dict[str, Any]) -> None:
    assert httpx.get(f"{served['url']}/api/send-times/peaks").status_code == 401


def test_one_person_peaks_and_errors(served: dict[str, Any]) -> None:
    http = served["http"]
    rich = http.get("/api/send-times/user_id:rich")
    assert rich.status_code == 200, rich.text
    email = rich.json()["channels"]["email"]
    assert email["source"] == "own" and email["label"].endswith("09:00")
    assert len(email["profile"]) == 168
    ghost = http.get("/api/send-times/email:ghost@example.com")
    assert ghost.status_code == 404
    assert "no profile has identifier email:ghost@example.com" in ghost.json()["detail"]["message"]
    peaks = http.get("/api/send-times/peaks", params={"channel": "email", "top": 3})
    assert peaks.status_code == 200, peaks.text
    [email_peaks] = peaks.json()
    assert len(email_peaks["hours"]) == 3
    shares = [h["share"] for h in email_peaks["hours"]]
    assert shares == sorted(shares, reverse=True)
    everyone = http.get("/api/send-times/peaks").json()
    assert [p["channel"] for p in everyone] == ["email", "sms", "push", "wechat", "inbox"]
    fax = http.get("/api/send-times/peaks", params={"channel": "fax"})
    assert fax.status_code == 400 and fax.json()["detail"]["field"] == "channel"


def test_the_cli_goes_through_the_server(served: dict[str, Any]) -> None:
    home = ["--home", str(served["home"])]
    shown = CliRunner().invoke(cli, [*home, "send-times", "show", "user_id:rich", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == served["http"].get("/api/send-times/user_id:rich").json()


def test_a_build_over_http(served: dict[str, Any]) -> None:
    built = served["http"].post("/api/send-times/build", params={"until": "2026-04-01"})
    assert built.status_code == 200, built.text
    report = built.json()
    assert report["status"] == "built" and report["until"] == "2026-04-01T00:00:00"
    assert report["profiles"] == 123 and report["rows"] == 5 * 123
    rich = served["http"].get("/api/send-times/user_id:rich").json()
    assert rich["channels"]["email"]["evidence"] == 30  # March's mornings alone
