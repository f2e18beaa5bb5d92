"""A mistyped ``--home`` is reported, never answered from a new, empty installation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni

READ_COMMANDS = [
    ("status",),
    ("query", "SELECT 1 AS one"),
    ("warehouse", "tables"),
    ("dlq", "list"),
    ("dlq", "replay"),
    ("sources", "list"),
    ("events", "stats"),
    ("quality",),
    ("identity", "resolve"),
    ("profiles", "build"),
]


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda argv: " ".join(argv))
def test_a_read_command_on_a_missing_home_says_so_and_creates_nothing(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    typo = tmp_path / "typo"
    result = omni(*argv, home=typo, check=False)
    assert result.returncode == 1
    assert f"no installation at --home {typo}" in result.stderr
    assert "omni --home" in result.stderr and "init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not typo.exists()


def test_an_existing_directory_without_a_warehouse_is_refused_too(tmp_path: Path) -> None:
    result = omni("status", home=tmp_path, check=False)
    assert result.returncode == 1
    assert "holds no warehouse" in result.stderr
    assert not (tmp_path / "omni.duckdb").exists()


def test_init_creates_the_home_and_then_status_reads_it(tmp_path: Path) -> None:
    home = tmp_path / "new"
    omni("init", home=home)
    status = json.loads(omni("status", "--json", home=home).stdout)
    assert status["home"] == str(home)


def test_settings_needs_no_installation(tmp_path: Path) -> None:
    result = omni("settings", "--json", home=tmp_path / "nowhere")
    assert {row["env"] for row in json.loads(result.stdout)} >= {"OMNI_HOME"}
    assert not (tmp_path / "nowhere").exists()
