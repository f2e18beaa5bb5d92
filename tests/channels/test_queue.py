"""The outbox as a queue, on SQLite and PostgreSQL: enqueue once, claim with a lease, take
back what a dead worker held, and never let a worker that lost its lease settle."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from omnichannel.channels import queue
from omnichannel.opstore.models import MessageKind, OutboxStatus, utcnow


def _values(key: str, channel: str = "webhook", **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "idempotency_key": key,
        "channel": channel,
        "kind": MessageKind.MARKETING,
        "address": "ok",
        "content": {"body": {}},
    }
    values.update(changes)
    return values


def test_enqueue_is_idempotent_on_the_key(store):
    with store.session() as s:
        first, created = queue.enqueue(s, _values("k-1"))
        assert created
    with store.session() as s:
        again, created = queue.enqueue(s, _values("k-1", address="other"))
        assert not created and again.id == first.id and again.address == "ok"


def test_a_batch_enqueues_each_key_once(store):
    with store.session() as s:
        queue.enqueue(s, _values("old"))
    with store.session() as s:
        rows = [_values("old"), _values("new-1"), _values("new-2", address="other")]
        got = queue.enqueue_many(s, rows)
    assert [created for _, created in got] == [False, True, True]
    assert [row.address for row, _ in got] == ["ok", "ok", "other"]
    assert len({row.id for row, _ in got}) == 3


def test_a_claim_leases_due_messages_of_its_own_channel_once(store):
    now = utcnow()
    with store.session() as s:
        for i in range(3):
            queue.enqueue(s, _values(f"w-{i}"))
        queue.enqueue(s, _values("later", next_attempt_at=now + timedelta(hours=1)))
        queue.enqueue(
            s, _values("held", status=OutboxStatus.HELD, next_attempt_at=now + timedelta(hours=1))
        )
        queue.enqueue(s, _values("sms-1", channel="sms"))
    with store.session() as s:
        mine = queue.claim(s, channel="webhook", holder="a", limit=10, lease=timedelta(hours=2))
    assert sorted(m.idempotency_key for m in mine) == ["w-0", "w-1", "w-2"]
    assert all(m.status == OutboxStatus.SENDING and m.attempts == 1 for m in mine)
    with store.session() as s:
        assert (
            queue.claim(s, channel="webhook", holder="b", limit=10, lease=timedelta(minutes=1))
            == []
        )
        # An hour later the retry and the quiet-hours hold are due.
        later = queue.claim(
            s,
            channel="webhook",
            holder="b",
            limit=10,
            lease=timedelta(minutes=1),
            now=now + timedelta(hours=1, seconds=1),
        )
    assert sorted(m.idempotency_key for m in later) == ["held", "later"]
    with store.session() as s:
        assert queue.depth(s)["sms"] == {"queued": 1}


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_settle(store):
    with store.session() as s:
        queue.enqueue(s, _values("k"))
    with store.session() as s:
        (first,) = queue.claim(
            s, channel="webhook", holder="dead", limit=1, lease=timedelta(seconds=30)
        )
    with store.session() as s:
        (second,) = queue.claim(
            s,
            channel="webhook",
            holder="alive",
            limit=1,
            lease=timedelta(seconds=30),
            now=utcnow() + timedelta(seconds=31),
        )
    assert second.id == first.id and second.attempts == 2
    with store.session() as s:
        stale = queue.settle(s, [queue.Settlement(first.id, "dead", OutboxStatus.FAILED, "x")])
        fresh = queue.settle(
            s, [queue.Settlement(first.id, "alive", OutboxStatus.SENT, provider_message_id="p-1")]
        )
    assert (stale, fresh) == (0, 1)
    with store.session() as s:
        from omnichannel.opstore.models import OutboxMessage

        row = s.get(OutboxMessage, first.id)
        assert row.status == OutboxStatus.SENT and row.provider_message_id == "p-1"
        assert row.lease_holder is None and row.sent_at is not None


def test_a_retry_to_some_devices_keeps_only_those_and_only_for_the_lease_holder(store):
    devices = {"title": "Sale", "body": "20% off", "devices": ["phone", "tablet"]}
    with store.session() as s:
        queue.enqueue(s, _values("d", channel="push", address="phone", content=devices))
    with store.session() as s:
        (row,) = queue.claim(s, channel="push", holder="w", limit=1, lease=timedelta(minutes=1))
    narrowed = {**devices, "devices": ["tablet"]}
    with store.session() as s:
        stale = queue.Settlement(
            row.id, "other", OutboxStatus.QUEUED, "retrying", content={**devices, "devices": []}
        )
        mine = queue.Settlement(
            row.id,
            "w",
            OutboxStatus.QUEUED,
            "retrying",
            provider_message_id="p-1",
            content=narrowed,
        )
        assert queue.settle(s, [stale, mine]) == 1
    with store.session() as s:
        from omnichannel.opstore.models import OutboxMessage

        again = s.get(OutboxMessage, row.id)
        assert again.content == narrowed and again.status == OutboxStatus.QUEUED
        assert again.provider_message_id == "p-1"  # the phone's copy went: the message reached


@pytest.mark.postgres
def test_workers_claiming_at_once_on_postgresql_never_share_a_message(postgres_database):
    from omnichannel.opstore import open_opstore

    store = open_opstore(postgres_database)
    try:
        with store.session() as s:
            for i in range(200):
                queue.enqueue(s, _values(f"k-{i}"))
        claimed: dict[str, list[int]] = {}
        barrier = threading.Barrier(4)

        def work(name: str) -> None:
            got: list[int] = []
            barrier.wait()
            while True:
                with store.session() as s:
                    rows = queue.claim(
                        s, channel="webhook", holder=name, limit=7, lease=timedelta(minutes=1)
                    )
                if not rows:
                    break
                got += [r.id for r in rows]
            claimed[name] = got

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        every = [i for ids in claimed.values() for i in ids]
        assert len(every) == 200 and len(set(every)) == 200
        assert sum(1 for ids in claimed.values() if ids) > 1, "the claims were spread out"
    finally:
        store.close()
