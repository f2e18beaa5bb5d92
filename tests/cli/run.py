"""Running ``omni`` as a user does (a real process, or this one where the process adds
nothing), with a clean environment and wide output."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
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


def omni_in_process(
    *args: str,
    home: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``omni`` run through its entry point in this process: what ``omni`` would print and
    return, without a new interpreter importing Ibis, DuckDB and pandas (about two seconds
    each time).

    For tests of what a command does; tests of the process itself (start-up, imports,
    signals, a server) use ``omni``. The environment, working directory, ``sys.argv``,
    standard streams and the CLI's output width are the command's for the call and
    restored after it; an unexpected exception becomes a traceback on stderr and exit
    code 1, as in a real process.
    """
    from omnichannel.cli.main import main

    argv = [*(["--home", str(home)] if home is not None else []), *args]
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    os.environ.clear()
    os.environ.update(omni_env(env))
    sys.argv = ["omni", *argv]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with (
            _console_width(os.environ["COLUMNS"]),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                main()
            except SystemExit as exc:
                code = _exit_code(exc.code)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    result = subprocess.CompletedProcess(["omni", *argv], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"omni {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def _console_width(columns: str) -> Iterator[None]:
    """The CLI's Rich consoles ``columns`` wide for one call, as a new process would make them.

    Rich reads ``COLUMNS`` once, when a console is made (``omnichannel.cli.output`` is
    imported once per test process), and a width read then is kept: a test run under a
    terminal that exports ``COLUMNS=80`` printed every later in-process table at 80
    columns and cut the values a test looked for.
    """
    from omnichannel.cli import output

    consoles = (output.console, output.errors)
    kept = [console._width for console in consoles]  # None: read from the environment
    for console in consoles:
        console.width = int(columns)
    try:
        yield
    finally:
        for console, width in zip(consoles, kept, strict=True):
            console._width = width


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("message") prints it and exits 1
    return 1
