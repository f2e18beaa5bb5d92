"""Running ``omni`` as a user does: a real process, a clean environment, wide output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def omni_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without OMNI_* settings, and wide enough that tables do not
    truncate the values a test looks for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env.update({"COLUMNS": "250", "NO_COLOR": "1"})
    env.update(extra or {})
    return env


def omni(
    *args: str,
    home: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    prefix = ["--home", str(home)] if home is not None else []
    result = subprocess.run(
        [sys.executable, "-m", "omnichannel", *prefix, *args],
        capture_output=True,
        text=True,
        env=omni_env(env),
        timeout=300,
        cwd=cwd,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"omni {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
