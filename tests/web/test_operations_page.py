"""The /operations page and ``platform.operations``: the jobs with their last runs, the
recent runs, the backups taken and the retention in force, each with its CSV; the same
through the API and the CLI; Chinese; the service desk is refused; every string of the
page translated."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnichannel.api.app import create_app
from omnichannel.config import Settings
from omnichannel.installation import initialise
from tests.cli.run import omni_in_process as omni
from tests.support.catalogue import WEB, untranslated
from tests.support.collector import bearer, make_admin_token

RETENTION = "events=400d,audit_log=30d"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("operations") / "home"
    initialise(Settings(home=home))
    return home


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    settings = Settings(home=home, retention=RETENTION)
    with TestClient(create_app(settings), headers=bearer(make_admin_token(home))) as test_client:
        yield test_client


def _run(client: TestClient, job: str, options: dict[str, Any]) -> dict[str, Any]:
    started = client.post(f"/api/jobs/{job}/runs", json={"options": options})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while True:
        run: dict[str, Any] = client.get(f"/api/jobs/runs/{started.json()['id']}").json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def test_jobs_runs_backups_and_retention_on_one_page_and_through_the_api(
    client: TestClient, tmp_path: Path
) -> None:
    backed = _run(client, "backup", {"directory": str(tmp_path / "copy")})
    assert backed["status"] == "succeeded", backed
    failed = _run(client, "backup", {"directory": str(tmp_path / "copy")})  # not empty now
    assert failed["status"] == "failed" and "directory" in failed["error"]
    assert _run(client, "retention", {})["status"] == "succeeded"

    backups = client.get("/api/operations/backups").json()
    assert [b["run"] for b in backups] == [failed["id"], backed["id"]]  # newest first
    assert backups[1]["directory"] == str(tmp_path / "copy")
    assert backups[1]["warehouse_rows"] == sum(backed["detail"]["warehouse"].values())
    assert backups[1]["opstore_tables"] == len(backed["detail"]["opstore"]) > 0
    assert backups[0]["directory"] is None and backups[0]["error"] == failed["error"]
    retention = client.get("/api/operations/retention").json()
    kept = {t["table"]: t for t in retention["tables"]}
    assert retention["setting"] == RETENTION
    assert kept["events"]["days"] == 400 and kept["events"]["store"] == "warehouse"
    assert kept["audit_log"]["days"] == 30 and kept["audit_log"]["last_deleted"] == 0
    assert kept["orders"]["days"] is None  # not named: kept for good
    assert retention["last_run"]["status"] == "succeeded"

    page = client.get("/operations")
    assert page.status_code == 200
    assert f'id="backup-{backed["id"]}"' in page.text and str(tmp_path / "copy") in page.text
    assert 'id="job-identity"' in page.text and 'id="retention-events"' in page.text
    assert "events=400d" in page.text
    runs = _rows(client.get("/operations", params={"format": "csv", "table": "runs"}).text)
    assert {r["job"] for r in runs} >= {"backup", "retention"}
    only_failed = client.get(
        "/operations", params={"format": "csv", "table": "runs", "status": "failed"}
    )
    assert [r["id"] for r in _rows(only_failed.text)] == [str(failed["id"])]
    jobs = _rows(client.get("/operations", params={"format": "csv"}).text)
    assert {j["name"]: j["last_status"] for j in jobs}["backup"] == "failed"
    csv_backups = _rows(client.get("/operations?format=csv&table=backups").text)
    assert [b["run"] for b in csv_backups] == [str(failed["id"]), str(backed["id"])]
    csv_retention = _rows(client.get("/operations?format=csv&table=retention").text)
    assert {r["table"]: r["days"] for r in csv_retention}["events"] == "400.0"
    bad = client.get("/api/jobs/runs", params={"status": "nonsense"})
    assert bad.status_code in (400, 404, 422)  # not a route of ours: never a 500


def test_chinese_and_a_role_without_jobs_read_is_refused(client: TestClient) -> None:
    chinese = client.get("/operations", params={"lang": "zh"}).text
    assert "后台任务" in chinese and "Background jobs" not in chinese
    made = client.post(
        "/api/users",
        json={"email": "ops-desk@shop.example", "role": "service_desk", "password": "p" * 16},
    )
    assert made.status_code == 201, made.text
    token = client.post("/api/users/ops-desk@shop.example/tokens", json={"name": "t"}).json()
    desk = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/operations", headers=desk).status_code == 403
    assert client.get("/api/operations/backups", headers=desk).status_code == 403


def test_the_cli_lists_backups_and_retention_as_the_library_does(tmp_path: Path) -> None:
    home = tmp_path / "home"
    initialise(Settings(home=home))
    taken = omni("backup", str(tmp_path / "copy"), "--json", home=home)
    assert taken.returncode == 0, taken.stderr
    listed = json.loads(omni("operations", "backups", "--json", home=home).stdout)
    assert [b["directory"] for b in listed] == [str(tmp_path / "copy")]
    assert listed[0]["status"] == "succeeded" and listed[0]["opstore_rows"] > 0
    table = omni("operations", "backups", home=home).stdout
    assert "1 backups" in table and "copy" in table
    env = {"OMNI_RETENTION": "dead_letters=90d"}
    kept = json.loads(omni("operations", "retention", "--json", home=home, env=env).stdout)
    assert {t["table"]: t["days"] for t in kept["tables"]}["dead_letters"] == 90
    assert kept["last_run"] is None
    bad = omni("operations", "retention", home=home, env={"OMNI_RETENTION": "nope=1d"}, check=False)
    assert bad.returncode != 0 and "OMNI_RETENTION.nope is not accepted" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_every_string_of_the_operations_page_is_translated() -> None:
    assert (
        untranslated(WEB / "pages" / "operations.py", WEB / "templates" / "operations.html") == []
    )
