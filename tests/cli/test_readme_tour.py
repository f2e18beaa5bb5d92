"""The README's tour, parsed out of README.md and run line by line on a small demo home.

The commands are the README's own, so the test fails as soon as the README promises
something the CLI does not do. Three changes keep it affordable: the home `make demo`
makes is `omni demo --people 300`'s, made once per test run (tests/support/homes.py,
shared with the CLI's demo test) and copied; `--people N` becomes `--people 300 --days 30`
(a small business of the same shape); and `omni serve` gets a free port, is asked for
/healthz, then stopped.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cli.run import omni_env
from tests.support.homes import small_demo_home

README = Path(__file__).resolve().parents[2] / "README.md"
SMALL_DEMO = "--people 300 --days 30"


def tour_commands(readme: str) -> list[str]:
    """The shell commands of the first ``bash`` block after "## A short tour", one per entry.

    A command continues over lines while a quote is open or a line ends in a backslash.
    """
    section = readme.split("## A short tour", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if not pending.strip() or pending.rstrip().endswith("\\") or not _complete(pending):
            continue
        commands.append(pending.strip())
        pending = ""
    assert not pending.strip(), f"unterminated command in the README tour: {pending!r}"
    return commands


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # "No closing quotation"
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_tour_is_found_and_names_the_commands_it_shows() -> None:
    commands = tour_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 15
    assert any(c.startswith("omni sources add-key") for c in commands)
    assert any(c.startswith("omni serve") for c in commands)
    assert all(c.startswith((". ", "omni ", "EMAIL=", "CUSTOMER=")) for c in commands), commands


@pytest.mark.slow(seconds=140)
def test_every_line_of_the_readme_tour_runs_on_a_fresh_demo_home(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The tour runs from the repository root with the default home ./omni-home.
    small_demo_home(tmp_path_factory, tmp_path / "omni-home")
    env = omni_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script: list[str] = ["set -euo pipefail"]
    serve: str | None = None
    for command in tour_commands(README.read_text(encoding="utf-8")):
        if command.startswith(". "):
            continue  # activating the virtualenv: this test runs inside it already
        command = re.sub(r"--people \d+", SMALL_DEMO, command)
        if command.startswith("omni serve"):
            serve = command
            continue
        # Each command's own output, and its name if it fails, in the test's report.
        first_line = command.splitlines()[0]
        script.append(f"echo {shlex.quote('$ ' + first_line)}")
        script.append(command)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, (
        f"a README tour command failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    assert "Traceback" not in result.stderr
    assert (tmp_path / "tx.csv").stat().st_size > 0

    assert serve is not None
    port = _free_port()
    server = subprocess.Popen(
        ["bash", "-c", "exec " + re.sub(r"--port \d+", f"--port {port}", serve.split("#")[0])],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        body = _wait_for_health(f"http://127.0.0.1:{port}/healthz", server)
        assert body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _wait_for_health(url: str, server: subprocess.Popen[str]) -> str:
    """/healthz's body once the server answers; fails with its stderr if it exits first."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"omni serve exited: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"omni serve did not answer {url} in time")
