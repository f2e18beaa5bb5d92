"""``omni serve`` hands the GIL round every millisecond; other apps leave Python's 5 ms."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.api.services import SWITCH_INTERVAL
from omnichannel.config import Settings


def test_the_server_hands_the_gil_round_more_often_than_python_does(tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL  # Python's default, 0.005
    settings = Settings(home=tmp_path / "home")
    try:
        with TestClient(create_app(settings)) as client:  # an app in a test or the demo
            assert client.get("/healthz").status_code == 200
            assert sys.getswitchinterval() == before
        with TestClient(create_app(settings, serve=True)) as client:  # omni serve
            assert client.get("/healthz").status_code == 200
            assert sys.getswitchinterval() == SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(before)
