"""``omni serve`` answers before its jobs and consumers have started.

Jobs and consumers open the warehouse and import their modules, seconds on a loaded
machine, and nothing of that is needed to answer /healthz or take events into the log.
So they start beside the first answers; while the warehouse cannot be opened they retry,
and the server keeps answering, saying why it is not ready.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings


@pytest.fixture(autouse=True)
def _switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()  # a serving app changes it for the whole process
    yield
    sys.setswitchinterval(before)


def test_the_server_answers_while_its_warehouse_cannot_be_opened(
    tmp_path: Path,
) -> None:
    broken = Settings(home=tmp_path / "home", warehouse_url="postgres://nobody@127.0.0.1:1/none")
    with TestClient(create_app(broken, serve=True)) as client:  # what omni serve runs
        health = client.get("/healthz")
        ready = client.get("/readyz")
        assert (broken.home / "server.json").exists()  # the CLI can find it meanwhile
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 503
    warehouse = ready.json()["checks"]["warehouse"]
    assert not warehouse["ok"] and "cannot open warehouse" in warehouse["error"]
    assert not (broken.home / "server.json").exists()  # and a clean stop removed it


def test_the_server_imports_no_pandas_or_scipy_before_its_first_answer() -> None:
    # pandas is a second of the server's start; the warehouse takes DataFrames from
    # whoever made them (and so imported pandas), so it need not import it itself.
    # scipy (the budget and model code's optimisers) is a third of a second more.
    code = (
        "import sys, omnichannel.api.app; "
        "print(sorted(m for m in ('pandas', 'scipy') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
