"""The server's warehouse access: lookups never wait for a long query, nothing hangs.

Ordering, not timing: a lookup is shown to complete while a long query is provably
still inside the warehouse (it holds a reader), and many concurrent requests leave
nothing held behind them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform
from tests.profiles.support import T0, add_events, add_identities
from tests.support.collector import bearer

# About 10^10 pairs: many seconds on any machine; the test interrupts it when done.
LONG_QUERY = (
    "SELECT count(*) AS n FROM range(100000) AS a, range(100000) AS b "
    "WHERE (a.range * 7 + b.range * 13) % 1000003 = 17"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Platform]]:
    settings = Settings(home=tmp_path / "home")
    token = initialise(settings)["admin_token"]
    with Platform(settings) as platform, platform.warehouse.writer() as wh:
        add_identities(wh, ["u1", "u2"])
        add_events(wh, [{"user": "u1", "at": T0}])
        wh.append("stores", pa.table({"store_id": ["s1", "s2"]}))
    app = create_app(settings)
    with TestClient(app, headers=bearer(token)) as client:
        client.post("/api/jobs/profiles/runs")
        _wait_for_job(client)
        yield client, app.state.services.platform


def _wait_for_job(client: TestClient) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        [job] = [j for j in client.get("/api/jobs").json() if j["name"] == "profiles"]
        if job["last_run"] and job["last_run"]["status"] != "running":
            assert job["last_run"]["status"] == "succeeded", job["last_run"]["error"]
            return
        time.sleep(0.1)
    raise AssertionError("the profiles job did not finish")


def test_a_lookup_completes_while_a_long_query_is_still_running(
    served: tuple[TestClient, Platform],
) -> None:
    client, platform = served
    gate = platform.warehouse._gate
    with ThreadPoolExecutor(2) as pool:
        long_query = pool.submit(
            client.post, "/v1/warehouse/query", json={"sql": LONG_QUERY, "limit": 1}
        )
        deadline = time.monotonic() + 30
        while gate._shared == 0 and time.monotonic() < deadline:  # the query holds a reader
            time.sleep(0.01)
        assert gate._shared >= 1, "the long query never reached the warehouse"
        try:
            lookup = client.get("/v1/profiles/user_id:u1/traits")
            tables = client.get("/v1/warehouse/tables")
            health = client.get("/healthz")
            assert lookup.status_code == 200, lookup.text
            assert tables.status_code == 200 and health.status_code == 200
            # All three answered while the long query was still running.
            assert not long_query.done()
        finally:
            platform.warehouse.interrupt_all()
        stopped = long_query.result(timeout=60)
    assert stopped.status_code in (200, 503)  # interrupted: the warehouse says so


def test_forty_concurrent_table_listings_beside_lookups_leave_nothing_held(
    served: tuple[TestClient, Platform],
) -> None:
    client, platform = served
    calls = ["/v1/warehouse/tables"] * 40 + ["/v1/profiles/user_id:u1/traits"] * 20

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda path: client.get(path).status_code, calls))
    assert statuses == [200] * len(calls)
    assert platform.warehouse._gate._shared == 0  # every reader was given back
    assert client.get("/readyz").status_code == 200
    # The loader still stores: an event through the collector shows up in the warehouse.
    token = client.post("/v1/sources", json={"name": "web"}).json()["write_key"]
    sent = client.post(
        "/v1/track",
        json={"userId": "u2", "event": "Signed Up", "messageId": "after-the-storm"},
        auth=(token, ""),
    )
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 30
    stored = 0
    while time.monotonic() < deadline and not stored:
        with platform.warehouse.reader() as wh:
            events = wh.table("events")
            stored = int(
                events.filter(events.message_id == "after-the-storm").count().to_pyarrow().as_py()
            )
        time.sleep(0.05)
    assert stored == 1
    # The loader counts a batch once its store and checkpoint are done, a moment after
    # its rows are visible: the count is awaited, not sampled once.
    stored_count, deadline = 0.0, time.monotonic() + 30
    while time.monotonic() < deadline and stored_count < 1:
        metrics = client.get("/metrics").text
        stored_total = [
            line for line in metrics.splitlines() if line.startswith("omni_events_stored_total ")
        ]
        stored_count = float(stored_total[0].split()[1]) if stored_total else 0.0
        time.sleep(0.05)
    assert stored_count >= 1
    assert (
        'omni_http_requests_total{method="GET",route="/v1/warehouse/tables",status="200"} 40.0'
        in (metrics)
    )


def test_a_reader_held_on_another_thread_never_blocks_this_one(
    served: tuple[TestClient, Platform],
) -> None:
    _, platform = served
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with platform.warehouse.reader():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with platform.warehouse.writer() as wh:  # the loader's path is not blocked either
            wh.append("stores", pa.table({"store_id": ["s3"]}))
        with platform.warehouse.reader() as wh:
            assert int(wh.table("stores").count().to_pyarrow().as_py()) == 3
    finally:
        release.set()
        holder.join()
