"""``omni segments`` as a user runs it: offline, then beside a running ``omni serve``.

Each command prints the same thing either way (it goes through ``/api/segments`` while
the server owns the home); a bad definition file is refused naming the file, the place
inside it, the value and what is accepted; an unknown segment names itself.
"""

from __future__ import annotations

import csv
import hashlib
import io
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

from omnichannel.server_runtime import read_runtime

# The CLI runs in this process (the server in its own): what a command does is under test.
from tests.cli.run import omni_env
from tests.cli.run import omni_in_process as omni
from tests.support.collector import free_port
from tests.support.homes import audience_home

pytestmark = pytest.mark.slow(seconds=45)

EARLY = """\
name: early
description: ordered in the first day and a half
condition:
  event:
    name: Order Completed
    within: {between: ["2026-03-01", "2026-03-03T12:00:00"]}
"""
BAD = """\
name: bad
condition:
  all:
    - event: {name: Order Completed}
    - event: {name: Order Completed, count: {at_least: many}}
"""
# What is compared offline and beside the server: read commands, and their errors.
READS = [
    ("segments", "list", "--json"),
    ("segments", "show", "early", "--json"),
    ("segments", "members", "early", "--json"),
    ("segments", "explain", "early", "--json"),
    ("segments", "export", "early", "--format", "meta"),
    ("segments", "members", "nobody"),
    ("segments", "members", "early"),
    ("segments", "explain", "early", "--profile", "email:Bob@mail.cn"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("segments_cli")
    home = base / "home"
    profile_of = audience_home(tmp_path_factory, home)
    (base / "early.yaml").write_text(EARLY)
    (base / "bad.yaml").write_text(BAD)
    (base / "buyers.json").write_text(
        json.dumps(
            {
                "name": "buyers",
                "condition": {"event": {"name": "Order Completed", "count": {"at_least": 1}}},
            }
        )
    )
    return {"home": home, "base": base, "profile_of": profile_of}


def _printed(home: Path, *args: str) -> tuple[int, str, str]:
    done = omni(*args, home=home, check=False)
    return done.returncode, done.stdout, done.stderr.strip()


@pytest.fixture(scope="module")
def offline(world: dict[str, Any]) -> dict[tuple[str, ...], tuple[int, str, str]]:
    home, base = world["home"], world["base"]
    created = json.loads(
        omni("segments", "create", "--file", str(base / "early.yaml"), "--json", home=home).stdout
    )
    assert created["members"] == 2
    return {args: _printed(home, *args) for args in READS}


@pytest.fixture(scope="module")
def server(world: dict[str, Any], offline: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    home, port = world["home"], free_port()
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


def test_offline_commands_print_members_explanations_and_files(
    world: dict[str, Any], offline: dict[tuple[str, ...], tuple[int, str, str]]
) -> None:
    profile_of = world["profile_of"]
    code, out, _ = offline[("segments", "members", "early", "--json")]
    assert code == 0
    assert json.loads(out)["profile_ids"] == sorted([profile_of["ann"], profile_of["bob"]])
    code, out, err = offline[("segments", "export", "early", "--format", "meta")]
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:2] == ["EMAIL", "PHONE"] and len(rows) == 2  # bob refused ads
    assert rows[1][0] == hashlib.sha256(b"john.smith@gmail.com").hexdigest()
    assert "wrote 1 of 2 members as meta; left out 1" in err and "ads consent denied" in err
    code, _, err = offline[("segments", "members", "nobody")]
    assert code == 1 and "no segment named 'nobody'" in err and "Traceback" not in err
    code, out, _ = offline[("segments", "members", "early")]
    assert "early: 2 members" in out and profile_of["ann"] in out
    code, out, _ = _printed(world["home"], "segments", "members", "early", "--limit", "1")
    assert "early: 1 of 2 members (use --limit to see more)" in out
    code, out, _ = offline[("segments", "explain", "early", "--profile", "email:Bob@mail.cn")]
    assert code == 0 and f"{profile_of['bob']} is a member" in out


def test_a_bad_file_names_itself_the_place_in_it_and_what_is_accepted(
    world: dict[str, Any],
) -> None:
    bad = world["base"] / "bad.yaml"
    code, _, err = _printed(world["home"], "segments", "preview", "--file", str(bad))
    assert code == 1 and "Traceback" not in err
    assert f"{bad}: condition.all[1].event.count.at_least='many'" in err
    code, _, err = _printed(world["home"], "segments", "create", "--file", str(bad) + "-missing")
    assert code == 1 and "cannot read the definition file" in err
    code, _, err = _printed(world["home"], "segments", "preview", "--file", "lapsing-custom")
    assert code == 1 and "no ready-made segment of that name" in err and "lapsing-customers" in err


def test_ready_made_segments_are_listed_and_can_be_previewed_by_name(
    world: dict[str, Any],
) -> None:
    shipped = json.loads(omni("segments", "ready-made", "--json").stdout)
    assert {"lapsing-customers", "rfm-champions"} <= {d["name"] for d in shipped}
    assert "name: lapsing-customers" in omni("segments", "ready-made", "lapsing-customers").stdout
    preview = omni(
        "segments", "preview", "--file", "lapsing-customers", "--json", home=world["home"]
    ).stdout
    assert json.loads(preview)["size"] == 0  # nobody here has two orders


def test_beside_a_running_server_every_command_prints_what_it_prints_offline(
    world: dict[str, Any],
    offline: dict[tuple[str, ...], tuple[int, str, str]],
    server: subprocess.Popen[bytes],
) -> None:
    home = world["home"]
    for args in READS:
        assert _printed(home, *args) == offline[args], args


def test_beside_a_running_server_segments_are_saved_previewed_exported_and_deleted(
    world: dict[str, Any], server: subprocess.Popen[bytes]
) -> None:
    home, base, profile_of = world["home"], world["base"], world["profile_of"]
    preview = json.loads(
        omni("segments", "preview", "--file", str(base / "buyers.json"), "--json", home=home).stdout
    )
    assert preview["size"] == 6 and preview["conditions"][0]["size"] == 6
    created = omni("segments", "create", "--file", str(base / "buyers.json"), home=home).stdout
    assert "buyers" in created and "6" in created
    out = base / "buyers-google.csv"
    summary = json.loads(
        omni(
            "segments",
            "export",
            "buyers",
            "--format",
            "google",
            "-o",
            str(out),
            "--json",
            home=home,
        ).stdout
    )
    assert summary["rows"] == 3 and summary["left_out_total"] == 3
    assert out.read_text().splitlines()[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    why = json.loads(
        omni(
            "segments", "explain", "early", "--profile", profile_of["fay"], "--json", home=home
        ).stdout
    )
    assert why["why"]["member"] is False
    told = omni("segments", "explain", "early", "--profile", profile_of["fay"], home=home).stdout
    assert f"{profile_of['fay']} is not a member" in told
    (base / "early-all.yaml").write_text(
        "condition:\n  event: {name: Order Completed, count: {at_least: 1}}\n"
    )
    updated = json.loads(
        omni(
            "segments",
            "update",
            "early",
            "--file",
            str(base / "early-all.yaml"),
            "--json",
            home=home,
        ).stdout
    )
    assert updated["version"] == 2 and updated["members"] == 6
    assert "deleted segment buyers" in omni("segments", "delete", "buyers", home=home).stdout
    listed = json.loads(omni("segments", "list", "--json", home=home).stdout)
    assert [s["name"] for s in listed] == ["early"]
