"""The collector under real `omni serve`: official SDKs, and a SIGKILL mid-stream."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from omnichannel.warehouse import open_warehouse
from tests.support.collector import make_source, running_server, start_server, wait_until_loaded


def stored_events(home: Path) -> list[dict[str, Any]]:
    with open_warehouse(f"duckdb:///{home / 'omni.duckdb'}") as wh:
        table = wh.con.sql("SELECT * FROM events ORDER BY received_at, message_id").to_pyarrow()
    return table.to_pylist()  # type: ignore[no-any-return]


def test_segment_and_rudderstack_python_sdks_store_every_call(tmp_path: Path) -> None:
    home = tmp_path / "home"
    segment_key = make_source(home, "backend")
    rudder_key = make_source(home, "billing")
    errors: list[object] = []
    with running_server(home) as server:
        segment = SegmentClient(
            segment_key, host=server.url, sync_mode=True, on_error=lambda e, batch: errors.append(e)
        )
        segment.identify("u-1", {"email": "li@example.cn", "plan": "pro"})
        segment.track(
            "u-1",
            "Order Completed",
            {"total": 128.0, "currency": "CNY"},
            timestamp=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        )
        segment.page("u-1", "Docs", "Install", {"url": "https://example.cn/docs"})
        segment.screen("u-1", "App", "Cart")
        segment.group("u-1", "g-9", {"name": "ACME"})
        segment.alias("anon-7", "u-1")
        # Gzip, as analytics-python sends when asked and RudderStack always does.
        zipped = SegmentClient(segment_key, host=server.url, sync_mode=True, gzip=True)
        zipped.track(anonymous_id="anon-7", event="Zipped")
        rudder = RudderClient(
            rudder_key, host=server.url, sync_mode=True, on_error=lambda e, batch: errors.append(e)
        )
        rudder.track("u-2", "Invoice Paid", {"amount": 10})
        rudder.identify("u-2", {"email": "wang@example.cn"})
        stats = wait_until_loaded(server.url, 9)
    assert errors == []
    events = stored_events(home)
    by_key = {(e["source"], e["type"], e["event"] or e["name"]): e for e in events}
    assert len(events) == 9
    order = by_key[("backend", "track", "Order Completed")]
    assert json.loads(order["properties"]) == {"total": 128.0, "currency": "CNY"}
    assert order["original_timestamp"] == datetime(2025, 3, 1, 9, 30)
    assert json.loads(order["context"])["library"]["name"] == "analytics-python"
    assert by_key[("backend", "identify", None)]["traits"] is not None
    assert by_key[("backend", "alias", None)]["previous_id"] == "anon-7"
    assert by_key[("backend", "group", None)]["group_id"] == "g-9"
    assert by_key[("backend", "track", "Zipped")]["anonymous_id"] == "anon-7"
    assert by_key[("billing", "track", "Invoice Paid")]["user_id"] == "u-2"
    assert {(r["source"], r["type"]): r["events"] for r in stats["events"]["by_source_and_type"]}[
        ("billing", "track")
    ] == 1  # type: ignore[index]


class Sender(threading.Thread):
    """Posts numbered batches, retrying each until it is acknowledged, like an SDK."""

    def __init__(self, url: str, key: str, name: str, batches: int, size: int) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.tag = url, key, name
        self.batches, self.size = batches, size
        self.acknowledged: list[str] = []
        self.attempts_failed = 0
        self.problem: str | None = None

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for number in range(self.batches):
                ids = [f"{self.tag}-{number}-{i}" for i in range(self.size)]
                body = {
                    "batch": [
                        {
                            "type": "track",
                            "userId": f"user-{i % 50}",
                            "event": "Beat",
                            "messageId": m,
                            "properties": {"n": number},
                        }
                        for i, m in enumerate(ids)
                    ]
                }
                deadline = time.monotonic() + 90
                while True:
                    try:
                        response = client.post(
                            f"{self.url}/v1/batch", json=body, auth=(self.key, "")
                        )
                        if response.status_code == 200:
                            self.acknowledged.extend(ids)
                            break
                        if response.status_code < 500:
                            self.problem = f"{response.status_code} {response.text}"
                            return
                    except httpx.TransportError:
                        pass
                    self.attempts_failed += 1
                    if time.monotonic() > deadline:
                        self.problem = "server never came back"
                        return
                    time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("carrier", "batches"),
    # The bus leg sends half as much: what it adds is the claim after the kill, not volume.
    [("log", 120), pytest.param("bus", 60, marks=pytest.mark.redis)],
)
def test_sigkill_mid_stream_loses_no_acknowledged_event_and_doubles_none(
    tmp_path: Path, carrier: str, batches: int, request: pytest.FixtureRequest
) -> None:
    """``bus``: the same with OMNI_BUS_URL, the killed server's unacknowledged entries
    claimed by its successor (a new consumer name) after OMNI_BUS_CLAIM_SECONDS."""
    home = tmp_path / "home"
    key = make_source(home, "web")
    env: dict[str, str] = {}
    if carrier == "bus":
        env = {
            "OMNI_BUS_URL": request.getfixturevalue("redis_url"),
            "OMNI_BUS_STREAM": f"test:{uuid.uuid4().hex[:12]}",
            "OMNI_BUS_CLAIM_SECONDS": "1",
        }
    server = start_server(home, env=env)
    port = int(server.url.rsplit(":", 1)[1])
    senders = [Sender(server.url, key, f"s{n}", batches=batches, size=50) for n in range(3)]
    try:
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 60
        while sum(len(s.acknowledged) for s in senders) < 25 * batches:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.01)
        server.kill()
        acknowledged_at_kill = sum(len(s.acknowledged) for s in senders)
        server = start_server(home, port=port, env=env)
        for sender in senders:
            sender.join(timeout=180)
        assert all(s.problem is None for s in senders), [s.problem for s in senders]
        assert any(s.attempts_failed for s in senders), "the kill interrupted nothing"
        wait_until_loaded(server.url, 3 * batches * 50)
    finally:
        server.stop()
    acknowledged = [m for s in senders for m in s.acknowledged]
    assert acknowledged_at_kill < len(acknowledged) == 3 * batches * 50
    ids = [e["message_id"] for e in stored_events(home)]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert set(acknowledged) <= set(ids), "an acknowledged event was lost"
