"""The segment updater: entries and exits as events arrive, at least once, never twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from omnichannel.config import Settings
from omnichannel.consumers import Checkpoints, ConsumerRunner
from omnichannel.identity.rules import load_rules
from omnichannel.installation import initialise
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.platform import Platform
from omnichannel.segments.membership import ENTERED_EVENT, EXITED_EVENT
from omnichannel.segments.realtime import CONSUMER_NAME, SegmentUpdater
from omnichannel.segments.refresh import latest_load_seq, refresh_all
from omnichannel.segments.store import SegmentStore
from omnichannel.warehouse.access import WarehouseAccess
from tests.segments.membership_world import NOW, build_people, current_set, definition, store_events
from tests.support.collector import bearer, make_admin_token, make_source, running_server

VIEWERS = {"event": {"name": "Product Viewed", "count": {"at_least": 1}}}
NEVER_ORDERED = {"not": {"event": {"name": "Order Completed", "count": {"at_least": 1}}}}
VIEWING_NON_BUYERS = {"all": [{"segment": "viewers"}, {"segment": "never-ordered"}]}


def _changes(access: WarehouseAccess) -> list[tuple[str, str, str]]:
    """(event, segment, profile) of every stored Segment Entered / Exited, in load_seq order."""
    with access.reader() as wh:
        e = wh.table("events")
        rows = (
            e.filter(e.event.isin([ENTERED_EVENT, EXITED_EVENT]))
            .order_by(e.load_seq)
            .to_pyarrow()
            .to_pylist()
        )
    out = []
    for row in rows:
        props = json.loads(row["properties"])
        out.append((row["event"], props["segment"], props["profile_id"]))
    return out


def test_people_enter_and_leave_as_their_events_arrive_and_dependents_follow(
    access: WarehouseAccess, opstore: OpStore
) -> None:
    with access.writer() as wh:
        person = build_people(wh)
    store = SegmentStore(opstore)
    for name, condition in (
        ("viewers", VIEWERS),
        ("never-ordered", NEVER_ORDERED),
        ("viewing-non-buyers", VIEWING_NON_BUYERS),
    ):
        store.create(definition(name, condition), created_by="t")
    refresh_all(access, store, load_rules(), now=NOW)  # the batch run: history's members
    assert current_set(access, "never-ordered") == set(person.values())
    updater = SegmentUpdater(access, store, load_rules)
    runner = ConsumerRunner(access, Checkpoints(opstore), [updater])
    assert runner.catch_up() == 0  # a new updater starts at the end: history is the batch's
    before = len(_changes(access))
    with access.writer() as wh:
        store_events(
            wh,
            [
                {"user": "ann", "event": "Product Viewed"},
                {"user": "bob", "event": "Product Viewed"},
                {"user": "bob", "event": "Order Completed"},
            ],
        )
    runner.catch_up()
    assert current_set(access, "viewers") == {person["ann"], person["bob"]}
    assert current_set(access, "never-ordered") == set(person.values()) - {person["bob"]}
    # "member of" follows within the same batch: ann is in both, bob left one of them.
    assert current_set(access, "viewing-non-buyers") == {person["ann"]}
    new = _changes(access)[before:]
    assert sorted(new) == sorted(
        [
            (ENTERED_EVENT, "viewers", person["ann"]),
            (ENTERED_EVENT, "viewers", person["bob"]),
            (EXITED_EVENT, "never-ordered", person["bob"]),
            (ENTERED_EVENT, "viewing-non-buyers", person["ann"]),
        ]
    )
    # The updater reads its own events next and does not react to them: no loop.
    runner.catch_up()
    assert runner.lag(CONSUMER_NAME) == 0
    assert len(_changes(access)) == before + 4


def test_events_of_people_without_a_profile_change_nothing_until_they_have_one(
    access: WarehouseAccess, opstore: OpStore
) -> None:
    with access.writer() as wh:
        build_people(wh)
    store = SegmentStore(opstore)
    store.create(definition("viewers", VIEWERS), created_by="t")
    runner = ConsumerRunner(
        access, Checkpoints(opstore), [SegmentUpdater(access, store, load_rules)]
    )
    runner.catch_up()
    with access.writer() as wh:
        store_events(wh, [{"user": "stranger", "event": "Product Viewed"}])
    assert runner.catch_up() == 1
    assert current_set(access, "viewers") == set()


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from omnichannel.consumers import Checkpoints, ConsumerRunner
    from omnichannel.identity.rules import load_rules
    from omnichannel.opstore import open_opstore
    from omnichannel.segments.realtime import SegmentUpdater
    from omnichannel.segments.store import SegmentStore
    from omnichannel.warehouse.access import WarehouseAccess

    warehouse_url, opstore_url, kill = sys.argv[1:4]
    access = WarehouseAccess.open(warehouse_url)
    opstore = open_opstore(opstore_url)
    updater = SegmentUpdater(access, SegmentStore(opstore), load_rules)
    if kill == "kill":
        # After the membership and its event are stored, before the checkpoint moves.
        updater.on_change.append(lambda result: os.kill(os.getpid(), signal.SIGKILL))
    runner = ConsumerRunner(access, Checkpoints(opstore), [updater])
    runner.catch_up()
    access.close()
    """
)


def test_kill_9_between_storing_an_entry_and_the_checkpoint_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    warehouse_url = f"duckdb:///{tmp_path / 'omni.duckdb'}"
    opstore_url = f"sqlite:///{tmp_path / 'opstore.sqlite'}"
    access = WarehouseAccess.open(warehouse_url)
    opstore = open_opstore(opstore_url)
    with access.writer() as wh:
        person = build_people(wh)
    store = SegmentStore(opstore)
    store.create(definition("viewers", VIEWERS), created_by="t")
    checkpoints = Checkpoints(opstore)
    runner = ConsumerRunner(access, checkpoints, [SegmentUpdater(access, store, load_rules)])
    runner.catch_up()  # the updater's checkpoint: the end of what is stored now
    start = checkpoints.get(CONSUMER_NAME)
    with access.writer() as wh:
        stored = store_events(
            wh,
            [{"user": "ann", "event": "Product Viewed"}, {"user": "cy", "event": "Product Viewed"}],
        )
    access.close()  # the child owns the DuckDB file now, as a restarted server would
    opstore.close()
    child = [sys.executable, "-c", CHILD, warehouse_url, opstore_url]
    killed = subprocess.run([*child, "kill"], check=False)
    assert killed.returncode == -signal.SIGKILL
    reopened = open_opstore(opstore_url)
    assert Checkpoints(reopened).get(CONSUMER_NAME) == start  # died before the checkpoint
    reopened.close()
    subprocess.run([*child, "resume"], check=True)
    access = WarehouseAccess.open(warehouse_url)
    try:
        assert current_set(access, "viewers") == {person["ann"], person["cy"]}
        # The replayed batch found both already in: one entry each, published once.
        assert sorted(_changes(access)) == [
            (ENTERED_EVENT, "viewers", person["ann"]),
            (ENTERED_EVENT, "viewers", person["cy"]),
        ]
        with access.reader() as wh:
            m = wh.table("segment_memberships")
            assert m.count().to_pyarrow().as_py() == 2
            # The replay moved nobody, so it left no refresh record either.
            r = wh.table("segment_refreshes")
            assert r.filter(r.mode == "realtime").count().to_pyarrow().as_py() == 1
    finally:
        access.close()
    reopened = open_opstore(opstore_url)
    try:
        newest = max(stored.column("load_seq").to_pylist())
        assert (Checkpoints(reopened).get(CONSUMER_NAME) or 0) >= newest
    finally:
        reopened.close()


def _query(server_url: str, token: str, sql: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{server_url}/v1/warehouse/query",
        json={"sql": sql},
        headers=bearer(token),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["rows"]  # type: ignore[no-any-return]


def _members_over_http(server_url: str, token: str, segment: str) -> set[str]:
    rows = _query(
        server_url,
        token,
        "SELECT profile_id FROM segment_memberships "
        f"WHERE segment = '{segment}' AND exited_at IS NULL",
    )
    return {r["profile_id"] for r in rows}


def _poll(check: Any, what: str, deadline_seconds: float = 60) -> None:
    """Wait for ``check()`` (a generous deadline: the order is asserted, not the speed)."""
    deadline = time.monotonic() + deadline_seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen before the deadline: {what}")
        time.sleep(0.05)


def test_a_running_server_moves_people_in_and_out_after_the_collector_acknowledges(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    initialise(Settings(home=home))
    with Platform.open(home) as platform:
        with platform.warehouse.writer() as wh:
            person = build_people(wh)
        store = SegmentStore(platform.opstore)
        store.create(definition("viewers", VIEWERS), created_by="t")
        store.create(definition("never-ordered", NEVER_ORDERED), created_by="t")
        refresh_all(platform.warehouse, store, platform.config.rules, now=NOW)
        # Where a first start would put the updater: after everything stored so far.
        with platform.warehouse.reader() as wh:
            stored_up_to = latest_load_seq(wh)
        Checkpoints(platform.opstore).set(CONSUMER_NAME, stored_up_to)
    key = make_source(home, "web")
    token = make_admin_token(home)
    # A generous start deadline: the machine may be shared by other test runs.
    with running_server(home, timeout=180) as server:
        assert _members_over_http(server.url, token, "viewers") == set()
        viewed = httpx.post(
            f"{server.url}/v1/track",
            auth=(key, ""),
            json={"userId": "dee", "event": "Product Viewed", "messageId": "rt-view-1"},
            timeout=10,
        )
        assert viewed.status_code == 200, viewed.text
        _poll(
            lambda: person["dee"] in _members_over_http(server.url, token, "viewers"),
            "dee in viewers",
        )
        ordered = httpx.post(
            f"{server.url}/v1/track",
            auth=(key, ""),
            json={"userId": "dee", "event": "Order Completed", "messageId": "rt-order-1"},
            timeout=10,
        )
        assert ordered.status_code == 200, ordered.text
        _poll(
            lambda: person["dee"] not in _members_over_http(server.url, token, "never-ordered"),
            "dee out of never-ordered",
        )
        rows = _query(
            server.url,
            token,
            "SELECT message_id, event, load_seq, properties FROM events "
            "WHERE message_id IN ('rt-view-1', 'rt-order-1') OR source = 'omni-segments' "
            "ORDER BY load_seq",
        )
    seq = {r["message_id"]: r["load_seq"] for r in rows}
    changes = [
        (r["event"], json.loads(r["properties"])["segment"], r["load_seq"])
        for r in rows
        if r["event"] in (ENTERED_EVENT, EXITED_EVENT)
        and json.loads(r["properties"])["profile_id"] == person["dee"]
    ]
    entered = [c for c in changes if c[:2] == (ENTERED_EVENT, "viewers")]
    exited = [c for c in changes if c[:2] == (EXITED_EVENT, "never-ordered")]
    # Each change is published once, after the event that caused it.
    assert len(entered) == 1 and entered[0][2] > seq["rt-view-1"]
    assert len(exited) == 1 and exited[0][2] > seq["rt-order-1"]


def test_compiled_queries_are_compiled_again_once_old_and_answer_the_same(
    tmp_path: Path,
) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    opstore = open_opstore(f"sqlite:///{tmp_path / 'opstore.sqlite'}")
    try:
        with access.writer() as wh:
            person = build_people(wh)
        store = SegmentStore(opstore)
        store.create(definition("viewers", VIEWERS), created_by="t")
        updater = SegmentUpdater(access, store, load_rules)
        updater.templates.max_age = 0  # every use finds its SQL old
        runner = ConsumerRunner(access, Checkpoints(opstore), [updater])
        runner.catch_up()
        for user in ("ann", "bob", "cy"):
            with access.writer() as wh:
                store_events(wh, [{"user": user, "event": "Product Viewed"}])
            runner.catch_up()
            # The old SQL answers while the new one compiles aside; both are right.
            assert person[user] in current_set(access, "viewers")
        deadline = time.monotonic() + 60
        while updater.templates.compiles < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert updater.templates.compiles >= 3  # two first compiles, then again aside
        assert current_set(access, "viewers") == {person[u] for u in ("ann", "bob", "cy")}
    finally:
        access.close()
        opstore.close()
