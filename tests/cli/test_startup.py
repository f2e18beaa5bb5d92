"""Start-up: a command imports only what it uses, and ``--help`` lists every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from omnichannel.cli.main import COMMANDS, app
from tests.cli.run import omni, omni_env

HEAVY = ("ibis", "duckdb", "pandas", "pyarrow", "sqlalchemy", "alembic", "splink", "scipy")
HEAVY += ("fastapi", "uvicorn", "pydantic_settings")


def modules_loaded_by(*argv: str) -> set[str]:
    """The modules a real ``omni ARGV`` process has imported by the time it exits."""
    script = (
        "import json, sys\n"
        "from omnichannel.cli import main\n"
        f"sys.argv = ['omni', *{list(argv)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=omni_env(), check=True
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [("--version",), ("--help",)])
def test_version_and_help_import_no_heavy_library(argv: tuple[str, ...]) -> None:
    loaded = modules_loaded_by(*argv)
    assert {m.split(".")[0] for m in loaded} & set(HEAVY) == set()


def test_version_prints_the_version() -> None:
    from omnichannel import __version__

    assert omni("--version").stdout.strip() == f"omnichannel {__version__}"


def test_help_lists_every_command_with_its_own_summary() -> None:
    import typer

    group = typer.main.get_command(app)
    ctx = group.make_context("omni", [], resilient_parsing=True)
    for entry in COMMANDS:
        command = group.get_command(ctx, entry.name)  # imports the module: the real command
        assert command is not None and command.help is not None, entry.name
        assert command.help.splitlines()[0] == entry.summary, entry.name
    listed = omni("--help", env={"COLUMNS": "250"}).stdout
    for entry in COMMANDS:
        assert entry.summary in listed, entry.name
    names = [entry.name for entry in COMMANDS]
    assert len(names) == len(set(names)), "a command is registered twice"


def test_a_mistyped_command_suggests_the_lazy_one() -> None:
    result = omni("statu", check=False)
    assert result.returncode == 2
    assert "Did you mean 'status'?" in result.stderr
