"""The Redis Streams bus (OMNI_BUS_URL): acknowledged once on disk in Redis, stored once.

One private redis-server for the session (``redis_url``, tests/conftest.py); each test
uses a stream of its own. Tests that kill Redis start a private server of their own.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.ingest.bus_redis import BusError, RedisBus
from omnichannel.ingest.loader import drain
from omnichannel.warehouse import open_warehouse
from tests.cli.run import omni_in_process
from tests.ingest.test_loader import message_ids, record
from tests.support.collector import (
    bearer,
    free_port,
    make_admin_token,
    make_source,
    running_server,
    wait_until_loaded,
)
from tests.support.redis_server import redis_server

pytestmark = pytest.mark.redis

ROOT = Path(__file__).parents[2]


@pytest.fixture
def stream() -> str:
    return f"test:{uuid.uuid4().hex[:12]}"


def bus_of(url: str, stream: str, tmp_path: Path, **kwargs: object) -> RedisBus:
    return RedisBus(url, directory=tmp_path / "log", stream=stream, **kwargs)  # type: ignore[arg-type]


def test_a_redis_that_does_not_fsync_each_write_is_refused_in_words(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path / "redis", fsync="everysec") as server,
        pytest.raises(BusError) as refused,
    ):
        bus_of(server.url, "s", tmp_path)
    message = str(refused.value)
    assert "appendfsync everysec" in message
    assert "appendfsync always" in message
    assert f"OMNI_BUS_URL={server.url}" in message


def test_an_unreachable_bus_names_the_setting() -> None:
    with pytest.raises(BusError, match=r"OMNI_BUS_URL=redis://u:\*\*\*@127\.0\.0\.1:1/0"):
        RedisBus("redis://u:secret@127.0.0.1:1/0", directory=Path("/tmp/unused-bus-log"))


def test_what_the_bus_acknowledged_survives_a_sigkill_of_redis(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        with bus_of(server.url, "s", tmp_path) as bus:
            offsets = [bus.append(record(f"m{i}")) for i in range(20)]
        server.kill()
        server.start()  # replays the AOF
        with bus_of(server.url, "s", tmp_path) as bus:
            assert [entry.offset for entry in bus.read(0)] == offsets
            assert bus.end == sum(len(record(f"m{i}")) for i in range(20))


def test_loaders_ack_after_storing_and_a_retried_call_is_stored_once(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    with (
        bus_of(redis_url, stream, tmp_path) as bus,
        open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh,
    ):
        bus.append(record("a", "b"))
        bus.append(record("b", "c"))  # "b" retried
        assert bus.pending_bytes() > 0
        result = drain(bus, wh)
        assert (result.events_stored, result.duplicates) == (3, 1)
        assert message_ids(wh) == ["a", "b", "c"]
        assert bus.pending_bytes() == 0
        client = redis.Redis.from_url(redis_url)
        assert client.xpending(stream, "loaders")["pending"] == 0
        assert drain(bus, wh).records == 0  # nothing delivered twice


def test_a_loader_killed_before_xack_has_its_entries_claimed_and_stored_once(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    warehouse_url = f"duckdb:///{tmp_path / 'omni.duckdb'}"
    with open_warehouse(warehouse_url):
        pass  # the tables exist before the child and the survivor race to make them
    ids = [f"k{i}" for i in range(30)]
    with bus_of(redis_url, stream, tmp_path) as bus:
        for start in range(0, 30, 10):
            bus.append(record(*ids[start : start + 10]))
    arguments = [redis_url, stream, warehouse_url, str(tmp_path / "child-log")]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.bus_loader_child", *arguments],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().decode()
        assert line == "stored 3\n", line
        client = redis.Redis.from_url(redis_url)
        assert client.xpending(stream, "loaders")["consumers"] == [
            {"name": b"doomed", "pending": 3}
        ]
    finally:
        child.kill()  # SIGKILL between the warehouse commit and the XACK
        child.wait(timeout=10)
    with (
        bus_of(redis_url, stream, tmp_path, consumer="survivor", claim_seconds=0.05) as survivor,
        open_warehouse(warehouse_url) as wh,
    ):
        assert message_ids(wh) == sorted(ids)  # the dead loader had stored them
        deadline = time.monotonic() + 30  # a wait for the claim age, not a speed claim
        while survivor.pending_bytes() > 0:
            drain(survivor, wh)
            assert time.monotonic() < deadline, "the dead loader's entries were never claimed"
        assert message_ids(wh) == sorted(ids), "a claimed entry was stored twice"
        assert client.xpending(stream, "loaders")["pending"] == 0


def test_events_posted_with_the_bus_on_are_stored_once(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home", loader_interval=0.05, bus_url=redis_url, bus_stream=stream
    )
    admin = bearer(make_admin_token(settings.home))
    with TestClient(create_app(settings)) as client:
        key = client.post(
            "/v1/sources", json={"name": "web", "kind": "http"}, headers=admin
        ).json()["write_key"]
        batch = [
            {"type": "track", "userId": "u", "event": "E", "messageId": f"p{i}"} for i in range(5)
        ]
        for body in ({"batch": batch}, {"batch": batch[3:]}):  # the second is a retry
            assert client.post("/v1/batch", json=body, auth=(key, "")).status_code == 200
        runtime = client.app.state.services.ingest  # type: ignore[attr-defined]
        assert isinstance(runtime.log, RedisBus)
        deadline = time.monotonic() + 60  # a wait, not a speed claim
        while runtime.pending_bytes() > 0:
            assert time.monotonic() < deadline, "loader did not catch up"
            time.sleep(0.02)
        with client.app.state.services.warehouse() as wh:  # type: ignore[attr-defined]
            assert message_ids(wh) == [f"p{i}" for i in range(5)]
        # The local log was never written: the collector acknowledged from Redis.
        assert runtime.other_logs[0].end == 0


@pytest.mark.postgres
@pytest.mark.slow(seconds=20)
def test_two_collectors_and_two_loaders_on_one_group_store_every_event_once(
    redis_url: str, stream: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two installations sharing a PostgreSQL warehouse and the stream, as two hosts
    behind a load balancer; each batch is sent to one, some retried on the other."""
    database: str = request.getfixturevalue("postgres_database")
    warehouse_url = database.replace("postgresql://", "postgres://", 1)
    with open_warehouse(warehouse_url):
        pass  # the tables exist before the two servers start (they would race to make them)
    installs = [
        Settings(
            home=tmp_path / f"host{n}",
            warehouse_url=warehouse_url,
            loader_interval=0.05,
            bus_url=redis_url,
            bus_stream=stream,
            bus_consumer=f"host{n}",  # two hosts; in one process the default would clash
        )
        for n in range(2)
    ]
    with TestClient(create_app(installs[0])) as one, TestClient(create_app(installs[1])) as two:
        clients = [one, two]
        keys = []
        for client, settings in zip(clients, installs, strict=True):
            admin = bearer(make_admin_token(settings.home))
            response = client.post("/v1/sources", json={"name": "web"}, headers=admin)
            keys.append(response.json()["write_key"])
        sent: set[str] = set()
        for number in range(20):
            batch = [
                {"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"b{number}-{i}"}
                for i in range(25)
            ]
            sent.update(call["messageId"] for call in batch)
            targets = [number % 2] + ([1 - number % 2] if number % 5 == 0 else [])  # a retry
            for target in targets:
                response = clients[target].post(
                    "/v1/batch", json={"batch": batch}, auth=(keys[target], "")
                )
                assert response.status_code == 200, response.text
        runtimes = [c.app.state.services.ingest for c in clients]  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60  # a wait, not a speed claim
        while runtimes[0].pending_bytes() > 0:
            assert time.monotonic() < deadline, "the loaders did not catch up"
            time.sleep(0.02)
    # Read once both servers have stopped: a loader adds to its totals after its XACK,
    # which is what ends the wait above.
    stored_by = [r.loader.totals.events_stored for r in runtimes]
    with open_warehouse(warehouse_url) as wh:
        ids = message_ids(wh)
    assert len(ids) == len(set(ids)) == len(sent) == 500
    assert set(ids) == sent
    assert sum(stored_by) == 500  # each event stored by one loader, whichever


@pytest.mark.slow(seconds=30)
def test_the_collector_process_appends_to_the_bus_and_the_lag_drains_to_zero(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    """OMNI_COLLECTOR_PORT with the bus: the collector process acknowledges from Redis,
    the main loader stores it, and no lag is left behind (its log stays empty)."""
    home = tmp_path / "home"
    key = make_source(home, "web")
    port = free_port()
    env = {"OMNI_BUS_URL": redis_url, "OMNI_BUS_STREAM": stream}
    with running_server(home, env={**env, "OMNI_COLLECTOR_PORT": str(port)}) as server:
        collector = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # a wait for its start, not a speed claim
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{collector}/healthz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        calls = [
            {"type": "track", "userId": "u", "event": "E", "messageId": f"c{i}"} for i in range(7)
        ]
        response = httpx.post(f"{collector}/v1/batch", json={"batch": calls}, auth=(key, ""))
        assert response.status_code == 200, response.text
        stats = wait_until_loaded(server.url, 7, timeout=60)
        assert stats["events"]["total"] == 7
        assert redis.Redis.from_url(redis_url).xlen(stream) <= 1  # trimmed once stored


def test_a_stopping_loader_finishes_its_own_entries_and_leaves_new_ones_to_the_group(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    with bus_of(redis_url, stream, tmp_path, consumer="stopping") as bus:
        bus.append(record("held"))
        [held] = bus.read(0)  # delivered to this loader, not yet stored
        bus.append(record("new"))
        bus.finish_own()
        assert [entry.offset for entry in bus.read(0)] == [held.offset]
        bus.commit(held.next_offset)
        assert bus.read(0) == []  # "new" waits for another loader
        with bus_of(redis_url, stream, tmp_path, consumer="other") as other:
            assert len(other.read(0)) == 1


def test_while_redis_is_down_the_lag_reads_its_last_value_and_writes_fail_in_words(
    tmp_path: Path,
) -> None:
    with redis_server(tmp_path / "redis") as server, bus_of(server.url, "s", tmp_path) as bus:
        bus.append(record("a"))
        end = bus.end
        server.kill()
        assert (bus.end, bus.pending_bytes()) == (end, end)
        with pytest.raises(BusError, match="could not write the event bus"):
            bus.append(record("b"))


def test_omni_serve_on_an_unreachable_bus_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    env = {"OMNI_BUS_URL": "redis://127.0.0.1:1/0"}
    done = omni_in_process(
        "serve", "--port", str(free_port()), home=tmp_path / "home", env=env, check=False
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "OMNI_BUS_URL=redis://127.0.0.1:1/0: cannot reach the Redis server" in done.stderr


def test_a_loader_restarted_under_its_name_takes_back_its_own_entries_at_once(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    with bus_of(redis_url, stream, tmp_path, consumer="loader-a") as bus:
        bus.append(record("x", "y"))
        [delivered] = bus.read(0)  # then the process dies: no commit, no XACK
    # Same name, a claim age far in the future: only its own pending list can give it.
    with bus_of(redis_url, stream, tmp_path, consumer="loader-a", claim_seconds=3600) as again:
        assert [entry.offset for entry in again.read(0)] == [delivered.offset]
    with bus_of(redis_url, stream, tmp_path, consumer="loader-b", claim_seconds=3600) as other:
        assert other.read(0) == []  # not yet idle long enough to be claimed by another


def test_stopped_loaders_leave_the_group_and_idle_ones_are_forgotten_holding_nothing(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    # Consumers are named by host and pid: without this, every restart of every loader
    # would add a name to the group for good.
    client = redis.Redis.from_url(redis_url)

    def names() -> set[str]:
        return {c["name"].decode() for c in client.xinfo_consumers(stream, "loaders")}

    with bus_of(redis_url, stream, tmp_path, consumer="stopped") as bus:
        bus.append(record("a"))
        [entry] = bus.read(0)
        assert not bus.leave()  # it holds an entry: leaving would lose it
        bus.commit(entry.next_offset)
        assert bus.leave() and "stopped" not in names()
    with bus_of(redis_url, stream, tmp_path, consumer="died-holding") as bus:
        bus.append(record("b"))
        bus.read(0)  # then it dies, never acknowledging
    with bus_of(redis_url, stream, tmp_path, consumer="died-idle") as bus:
        bus.read(0)  # nothing for it
    time.sleep(0.3)
    with bus_of(
        redis_url,
        stream,
        tmp_path,
        consumer="survivor",
        claim_seconds=3600,
        forget_idle_seconds=0.2,
    ) as survivor:
        survivor.read(0)
        # The idle one is gone; the one holding an entry stays until it is claimed.
        assert names() == {"died-holding", "survivor"}
        assert client.xpending(stream, "loaders")["pending"] == 1


def test_events_drain_stores_every_log_of_a_stopped_installation_bus_included(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    from omnichannel.ingest.collector_process import collector_log_dir
    from omnichannel.ingest.log import EventLog

    settings = Settings(home=tmp_path / "home")
    omni_in_process("init", home=settings.home)
    with EventLog.open(settings.log_dir) as local:  # from before the bus was turned on
        local.append(record("from-file-log"))
    with EventLog.open(collector_log_dir(settings)) as its:  # a collector process's
        its.append(record("from-collector-process"))
    with bus_of(redis_url, stream, tmp_path, consumer="collector") as bus:
        bus.append(record("from-bus-1", "from-bus-2"))
    env = {"OMNI_BUS_URL": redis_url, "OMNI_BUS_STREAM": stream, "OMNI_BUS_CONSUMER": "drain"}
    done = omni_in_process("events", "drain", "--json", home=settings.home, env=env)
    answer = json.loads(done.stdout)
    assert answer["events_stored"] == 4 and len(answer["logs"]) == 3
    assert answer["logs"][f"bus {stream}"]["events_stored"] == 2
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        assert message_ids(wh) == sorted(
            ["from-file-log", "from-collector-process", "from-bus-1", "from-bus-2"]
        )
    client = redis.Redis.from_url(redis_url)
    assert client.xpending(stream, "loaders")["pending"] == 0
    names = {c["name"] for c in client.xinfo_consumers(stream, "loaders")}
    assert b"drain" not in names  # it left the group holding nothing
    again = json.loads(
        omni_in_process("events", "drain", "--json", home=settings.home, env=env).stdout
    )
    assert again["events_stored"] == 0  # everything was acknowledged and checkpointed


def _calls(*pairs: tuple[str, str]) -> bytes:
    """A collector record of track calls, (message id, user id) each."""
    from omnichannel.ingest.loader import encode_record
    from omnichannel.ingest.segment import Limits, parse_calls
    from tests.ingest.test_loader import NOW

    calls = [{"type": "track", "userId": u, "event": "E", "messageId": m} for m, u in pairs]
    parsed = parse_calls(
        {"batch": calls}, source="web", received_at=NOW, limits=Limits(), path_type=None
    )
    return encode_record(source="web", origin="test", events=parsed.rows, dead_letters=[])


def test_erasure_scrubs_the_bus_entries_no_loader_has_stored_yet(
    redis_url: str, stream: str, tmp_path: Path
) -> None:
    from omnichannel.privacy.erase_bus import erase_bus
    from omnichannel.privacy.footprint import Footprint
    from omnichannel.privacy.matching import Matcher

    erased = "user-to-erase-1"
    with bus_of(redis_url, stream, tmp_path, consumer="loader") as bus:
        bus.append(_calls(("m1", erased), ("m2", "someone-else")))  # shared record
        bus.append(_calls(("m3", erased)))  # theirs alone
        bus.append(_calls(("m4", "someone-else")))
        [held] = bus.read(0)[:1]  # a loader holds the first entry, not yet stored
        matcher = Matcher(Footprint(person=erased, identifiers=[("user_id", erased)]))
        assert erase_bus(bus, matcher) == {"rewritten": 1, "removed": 1}
        assert not any(erased.encode() in record for _, record in bus.records())
        with open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
            drain(bus, wh)  # the holder reads its entry as deleted and acknowledges it
            assert message_ids(wh) == ["m2", "m4"]
        assert bus.pending_bytes() == 0  # the byte counters stayed true
        assert held.offset not in {e.offset for e in bus.read(0)}
