"""The in-app inbox: the adapter, GET /v1/inbox over real HTTP, read receipts via the collector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from omnichannel.api.app import create_app
from omnichannel.channels.adapter import Rejected, Sent
from omnichannel.channels.deliveries import read_log
from omnichannel.channels.inbox import (
    InboxAdapter,
    InboxReads,
    InboxSettings,
    list_inbox,
    user_hash,
)
from omnichannel.config import Settings
from omnichannel.consumers import Checkpoints, ConsumerRunner
from omnichannel.installation import initialise
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.models import InboxMessage
from tests.channels.providers import context, delivery, serving, wait_for
from tests.support.collector import make_source


@pytest.fixture
def opstore(tmp_path: Path) -> Iterator[OpStore]:
    store = open_opstore(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    yield store
    store.close()


def _send(store: OpStore, *deliveries: Any, settings: InboxSettings | None = None) -> list[Any]:
    adapter = InboxAdapter(settings or InboxSettings(), context(opstore=store))

    async def run() -> list[Any]:
        return [await adapter.send(d) for d in deliveries]

    return asyncio.run(run())


def note(outbox_id: int, user: str = "ann", **content: Any) -> Any:
    parts = {"title": "Points", "body": "You have 200 points", **content}
    return delivery("inbox", user, parts, outbox_id=outbox_id)


def test_a_message_is_written_once_even_when_the_send_is_retried(opstore):
    first, again, empty = _send(
        opstore, note(7, data={"link": "app://points"}), note(7), note(8, body="")
    )
    assert isinstance(first, Sent) and isinstance(again, Sent)
    assert first.provider_message_id == again.provider_message_id
    assert isinstance(empty, Rejected) and empty.reason == "empty"
    page = list_inbox(opstore, "ann")
    assert page["unread"] == 1
    (message,) = page["messages"]
    assert message["id"] == first.provider_message_id
    assert message["title"] == "Points" and message["data"] == {"link": "app://points"}


def test_the_inbox_lists_the_users_own_unexpired_messages_newest_first(opstore):
    _send(opstore, note(1, body="first"), note(2, body="second"), note(3, "bob", body="bob's"))
    short = InboxSettings(keep_for=timedelta(seconds=1))
    _send(opstore, note(4, body="gone soon"), settings=short)
    later = datetime.now(UTC) + timedelta(seconds=5)
    page = list_inbox(opstore, "ann", now=later)
    assert [m["body"] for m in page["messages"]] == ["second", "first"]
    assert page["unread"] == 2
    assert [m["body"] for m in list_inbox(opstore, "ann", limit=1, now=later)["messages"]] == [
        "second"
    ]


def _read_event(message_id: str, user: str = "ann") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Inbox Message Read",
        "userId": user,
        "messageId": f"read-{message_id}-{user}",
        "properties": {"inbox_message_id": message_id},
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    home = tmp_path / "home"
    settings = Settings(home=home, loader_interval=0.05)
    initialise(settings)
    key = make_source(home, "app")
    app = create_app(settings)
    with serving(app) as url, httpx.Client(base_url=url, auth=(key, ""), timeout=30) as http:
        yield {"http": http, "url": url, "platform": app.state.services.platform, "key": key}


def test_an_app_reads_its_users_inbox_and_marks_a_message_read_through_the_collector(served):
    platform, http = served["platform"], served["http"]
    store = platform.opstore
    sent, other = _send(store, note(11), note(12, "bob"))
    page = http.get("/v1/inbox", params={"userId": "ann"})
    assert page.status_code == 200, page.text
    assert page.json()["unread"] == 1
    (message,) = page.json()["messages"]
    assert message["read_at"] is None

    # Bob's app cannot mark Ann's message, and Ann's read receipt marks hers.
    batch = {"batch": [_read_event(message["id"], "bob"), _read_event(message["id"])]}
    assert http.post("/v1/batch", json=batch).status_code == 200
    reads = InboxReads(store, platform.messages.log, start_at="beginning")
    runner = ConsumerRunner(platform.warehouse, Checkpoints(store), [reads])
    wait_for(
        lambda: runner.catch_up() or list_inbox(store, "ann")["unread"] == 0,
        what="the read receipt",
    )
    after = http.get("/v1/inbox", params={"userId": "ann"}).json()
    assert after["unread"] == 0 and after["messages"][0]["read_at"] is not None
    assert http.get("/v1/inbox", params={"userId": "bob"}).json()["unread"] == 1

    # The delivery log says it was read, once, even when the events come again.
    runner.checkpoints.set(reads.name, 0)
    runner.catch_up()
    assert [r["status"] for r in read_log(platform.warehouse, 11)] == ["read"]
    with platform.warehouse.reader() as wh:
        d = wh.table("deliveries")
        row = wh.query(d.filter(d.outbox_id == 11).select("channel", "recipient")).to_pylist()
    assert row == [{"channel": "inbox", "recipient": "ann"}]
    assert sent.provider_message_id != other.provider_message_id


def test_the_inbox_needs_a_write_key_and_when_configured_the_users_hash(served, tmp_path):
    url = served["url"]
    missing = httpx.get(f"{url}/v1/inbox", params={"userId": "ann"})
    assert missing.status_code == 401 and missing.json()["detail"]["field"] == "Authorization"
    wrong = httpx.get(f"{url}/v1/inbox", params={"userId": "ann"}, auth=("nope", ""))
    assert wrong.status_code == 401
    no_user = served["http"].get("/v1/inbox")
    assert no_user.status_code == 400 and no_user.json()["detail"]["field"] == "userId"

    messages = served["platform"].messages
    from omnichannel.channels.settings import parse_channels_config

    messages.use_config(parse_channels_config("inbox:\n  identity_secret: s3cret\n"))
    http = served["http"]
    refused = http.get("/v1/inbox", params={"userId": "ann"})
    assert refused.status_code == 401 and refused.json()["detail"]["field"] == "user_hash"
    forged = http.get("/v1/inbox", params={"userId": "ann", "user_hash": user_hash("x", "ann")})
    assert forged.status_code == 401
    ok = http.get("/v1/inbox", params={"userId": "ann", "user_hash": user_hash("s3cret", "ann")})
    assert ok.status_code == 200, ok.text


def test_receipts_that_are_not_ours_are_ignored(opstore):
    from omnichannel.channels.inbox import read_receipts

    now = datetime(2026, 3, 2)
    batch = pa.table(
        {
            "event": [
                "Inbox Message Read",
                "Inbox Message Read",
                "Page Viewed",
                "Inbox Message Read",
            ],
            "user_id": ["ann", "ann", "ann", None],
            "properties": [
                '{"inbox_message_id": "5"}',
                '{"inbox_message_id": "x"}',
                "{}",
                '{"inbox_message_id": 6}',
            ],
            "timestamp": [now] * 4,
            "received_at": [now] * 4,
        }
    )
    assert [(r.user_id, r.message_id) for r in read_receipts(batch)] == [("ann", 5)]
    with opstore.session() as session:
        assert session.query(InboxMessage).count() == 0


def test_the_inbox_job_deletes_expired_messages_only(tmp_path):
    from omnichannel.platform import Platform

    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    with Platform(settings) as platform:
        store = platform.opstore
        _send(store, note(1, body="keeps"))
        _send(store, note(2, body="lapses"), settings=InboxSettings(keep_for=timedelta(seconds=1)))
        with store.session() as session:  # as if the second one's second had passed
            row = session.query(InboxMessage).filter_by(outbox_id=2).one()
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        run = platform.jobs.run("inbox")
        assert run.status == "succeeded" and run.rows == 1
        with store.session() as session:
            left = [r.body for r in session.query(InboxMessage).all()]
    assert left == ["keeps"]
