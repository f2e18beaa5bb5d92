"""The HTTP server: liveness, the OpenAPI contract, the home page, warehouse tables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.warehouse import SCHEMA_VERSION, open_warehouse
from tests.support.collector import bearer, make_admin_token


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_healthz_answers_from_the_process_and_readyz_checks_every_part(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as client:
        health = client.get("/healthz").json()
        ready = client.get("/readyz")
    assert health["status"] == "ok" and health["uptime_seconds"] >= 0
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["warehouse"] == {
        "ok": True,
        "detail": {"engine": "duckdb", "schema_version": SCHEMA_VERSION},
        "error": None,
    }
    assert checks["opstore"]["ok"] and checks["jobs"]["ok"]
    assert checks["loader"]["ok"] and checks["loader"]["detail"]["pending_bytes"] == 0


def test_an_unreachable_warehouse_leaves_healthz_ok_and_readyz_503_with_the_reason(
    tmp_path: Path,
) -> None:
    broken = Settings(home=tmp_path, warehouse_url="postgres://nobody@127.0.0.1:1/none")
    with TestClient(create_app(broken)) as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unready"
    assert not body["checks"]["warehouse"]["ok"]
    assert (
        "cannot open warehouse postgres://nobody@127.0.0.1:1/none"
        in (body["checks"]["warehouse"]["error"])
    )


def test_home_page_and_table_api_show_what_the_warehouse_holds(settings: Settings) -> None:
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        wh.append("stores", pa.table({"store_id": [f"s{i}" for i in range(1234)]}))
    token = bearer(make_admin_token(settings.home))
    with TestClient(create_app(settings), headers=token) as client:
        page = client.get("/")
        tables = {t["table"]: t for t in client.get("/v1/warehouse/tables").json()}
    assert page.status_code == 200
    assert '<td>stores</td><td class="num">1,234</td>' in page.text
    assert tables["stores"]["rows"] == 1234
    assert tables["events"]["columns"]["message_id"] == "string"


def test_openapi_contract_lists_the_routes(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert {"/healthz", "/v1/warehouse/tables"} <= set(spec["paths"])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_omni_serve_answers_over_real_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "OMNI_HOME": str(tmp_path / "home")}
    server = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180  # a start on a loaded machine, not a speed claim
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
