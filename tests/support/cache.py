"""Expensive test material built once per test run and shared by the xdist workers.

A demo business or a resolved installation takes seconds to minutes to build and
milliseconds to copy. ``built_once`` builds it on first use into a directory of this run
that every worker sees, under a file lock so two workers asking at once build it once;
callers copy what they need out of it and never write into it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

VALUE_FILE = "built.json"


def cache_root(factory: pytest.TempPathFactory) -> Path:
    """``<basetemp>/built-once``; under xdist the workers' common parent, one per run."""
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(exist_ok=True)
    return root


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(
    factory: pytest.TempPathFactory, key: str, build: Callable[[Path], Any]
) -> tuple[Path, Any]:
    """The directory ``build(directory)`` filled, and the JSON value it returned.

    ``key`` names what is built (the same key must always build the same thing).
    """
    root = cache_root(factory)
    done = root / key
    with _locked(root / f"{key}.lock"):
        if not done.is_dir():
            partial = root / f"{key}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            value = build(partial)
            (partial / VALUE_FILE).write_text(json.dumps(value))
            partial.rename(done)
    return done, json.loads((done / VALUE_FILE).read_text())


def copy_home(source: Path, target: Path) -> Path:
    """A private copy of an installation home (no server of the original comes along)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("server.json", VALUE_FILE))
    return target
