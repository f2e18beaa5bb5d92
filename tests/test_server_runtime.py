"""The runtime file: private to its owner, found while the server lives, ignored after."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from omnichannel.errors import ConfigError
from omnichannel.server_runtime import (
    ServerRuntime,
    differing_environment,
    read_runtime,
    remove_runtime,
    runtime_path,
    write_runtime,
)


def test_the_file_is_readable_by_its_owner_only_and_read_back(tmp_path: Path) -> None:
    written = write_runtime(tmp_path, url="http://127.0.0.1:8123", token="t0k", version="0.1.0")
    mode = stat.S_IMODE(runtime_path(tmp_path).stat().st_mode)
    assert mode == 0o600
    assert read_runtime(tmp_path) == written
    assert written.pid == os.getpid()


def test_a_file_left_by_a_dead_server_is_ignored_and_removed(tmp_path: Path) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from omnichannel.server_runtime import write_runtime; "
            f"write_runtime(Path({str(tmp_path)!r}), url='http://x', token='t', version='v')",
        ],
        check=True,
    )
    assert child.returncode == 0 and runtime_path(tmp_path).exists()
    assert read_runtime(tmp_path) is None  # its pid has exited
    assert not runtime_path(tmp_path).exists()


def test_only_the_writer_removes_its_file(tmp_path: Path) -> None:
    write_runtime(tmp_path, url="http://x", token="t", version="v")
    remove_runtime(tmp_path)
    assert not runtime_path(tmp_path).exists()


def test_a_damaged_file_is_reported_with_what_to_do(tmp_path: Path) -> None:
    runtime_path(tmp_path).write_text("{not json")
    with pytest.raises(ConfigError, match="stop the server and delete the file"):
        read_runtime(tmp_path)


def test_variables_set_only_in_the_cli_s_shell_are_named_but_not_their_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_RETENTION", "events=400d")
    monkeypatch.setenv("OMNI_PARTNER_SALT", "server-salt-0123456789")
    monkeypatch.delenv("OMNI_JOB_SCHEDULES", raising=False)
    written = write_runtime(tmp_path, url="http://x", token="t", version="v")
    assert "server-salt-0123456789" not in runtime_path(tmp_path).read_text()
    shell = {
        "OMNI_RETENTION": "events=30d",  # another value
        "OMNI_PARTNER_SALT": "server-salt-0123456789",  # the same
        "OMNI_JOB_SCHEDULES": "identity=off",  # the server has none
        "OMNI_HOME": "/elsewhere",  # the CLI's own
        "PATH": "/bin",
    }
    assert differing_environment(written, shell) == ["OMNI_JOB_SCHEDULES", "OMNI_RETENTION"]
    # A variable only the server has is its own setting; a server from before says nothing.
    assert differing_environment(written, {}) == []
    old = ServerRuntime(**{**asdict(written), "environment": None})
    assert differing_environment(old, shell) == []
