"""The collector in-process: what Segment-shaped requests store, and what bad ones refuse."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from tests.support.collector import bearer, make_admin_token


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", loader_interval=0.05)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    """Headers carrying an admin token, which managing sources needs."""
    return bearer(make_admin_token(settings.home))


@pytest.fixture
def key(client: TestClient, admin: dict[str, str]) -> str:
    response = client.post("/v1/sources", json={"name": "web", "kind": "http"}, headers=admin)
    assert response.status_code == 201
    return str(response.json()["write_key"])


def loaded(client: TestClient) -> None:
    """Wait until the server's loader has stored everything acknowledged so far."""
    runtime = client.app.state.services.ingest  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120  # a wait, not a speed claim: the machine may be busy
    while runtime.log.pending_bytes() > 0:
        assert time.monotonic() < deadline, "loader did not catch up"
        time.sleep(0.02)


def rows(client: TestClient, table: str, order: str = "1") -> list[dict[str, Any]]:
    loaded(client)
    with client.app.state.services.warehouse() as wh:  # type: ignore[attr-defined]
        result = wh.con.sql(f"SELECT * FROM {table} ORDER BY {order}").to_pyarrow()
    return result.to_pylist()  # type: ignore[no-any-return]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_track_with_basic_auth_is_stored_with_context_whole_and_flattened(
    client: TestClient, key: str
) -> None:
    context = {
        "ip": "203.0.113.9",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
        "device": {"id": "dev-1", "type": "ios"},
        "os": {"name": "iOS"},
        "campaign": {"name": "spring", "source": "wechat", "medium": "social"},
        "page": {"url": "https://shop.example/p/1"},
        "library": {"name": "analytics-ios"},
    }
    before = datetime.now(UTC).replace(tzinfo=None)
    response = client.post(
        "/v1/track",
        auth=(key, ""),
        json={
            "userId": "u-1",
            "event": "Order Completed",
            "messageId": "m-1",
            "properties": {"total": 99.5, "currency": "CNY"},
            "context": context,
        },
    )
    assert response.status_code == 200
    assert response.json() == {"success": True}
    [row] = rows(client, "events")
    assert row["message_id"] == "m-1" and row["type"] == "track"
    assert row["event"] == "Order Completed" and row["user_id"] == "u-1"
    assert row["source"] == "web" and row["channel"] == "mobile"
    assert json.loads(row["context"]) == context
    assert json.loads(row["properties"]) == {"total": 99.5, "currency": "CNY"}
    assert row["context_device_id"] == "dev-1" and row["context_os_name"] == "iOS"
    assert row["context_campaign_source"] == "wechat" and row["context_ip"] == "203.0.113.9"
    assert row["context_page_url"] == "https://shop.example/p/1"
    assert row["context_timezone"] == "Asia/Shanghai" and row["context_locale"] == "zh-CN"
    # Received while the request ran (an ordering, not a timing: a loaded machine may
    # take any time between the two readings of the clock).
    assert before <= row["received_at"] <= datetime.now(UTC).replace(tzinfo=None)
    # No client timestamp: the event happened when it was received.
    assert row["timestamp"] == row["received_at"] and row["original_timestamp"] is None
    assert row["loaded_at"] >= row["received_at"]


def test_clock_skew_is_corrected_from_sent_at_as_segment_does(client: TestClient, key: str) -> None:
    # The phone's clock runs one hour fast: it says it sent at 13:00 what happened at 12:59.
    now = datetime.now(UTC)
    device_sent = now + timedelta(hours=1)
    device_happened = device_sent - timedelta(minutes=1)
    client.post(
        "/v1/batch",
        auth=(key, ""),
        json={
            "sentAt": iso(device_sent),
            "batch": [
                {
                    "type": "track",
                    "event": "Tapped",
                    "anonymousId": "a-1",
                    "messageId": "s1",
                    "timestamp": iso(device_happened),
                }
            ],
        },
    )
    [row] = rows(client, "events")
    assert row["original_timestamp"] == device_happened.replace(tzinfo=None)
    assert row["sent_at"] == device_sent.replace(tzinfo=None)
    corrected = row["received_at"] - timedelta(minutes=1)
    assert row["timestamp"] == corrected


def test_analytics_js_browser_payload_with_write_key_in_body(client: TestClient, key: str) -> None:
    sent = datetime.now(UTC)
    body = {
        "writeKey": key,
        "type": "page",
        "anonymousId": "9b1c1f2e",
        "name": "Home",
        "properties": {"path": "/", "url": "https://shop.example/", "title": "Shop"},
        "context": {
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {"url": "https://shop.example/", "path": "/"},
            "userAgent": "Mozilla/5.0",
            "locale": "en-US",
        },
        "messageId": "ajs-next-1a2b3c",
        "timestamp": iso(sent),
        "sentAt": iso(sent),
        "integrations": {},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": []},
    }
    # analytics.js posts text/plain to avoid a CORS preflight.
    response = client.post(
        "/v1/page",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    [row] = rows(client, "events")
    assert (row["type"], row["name"], row["anonymous_id"]) == ("page", "Home", "9b1c1f2e")
    assert row["channel"] == "browser" and row["message_id"] == "ajs-next-1a2b3c"
    assert row["context_page_url"] == "https://shop.example/"


def test_gzip_bodies_and_every_call_type(client: TestClient, key: str) -> None:
    batch = [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.cn"}},
        {"type": "track", "userId": "u1", "event": "Viewed"},
        {"type": "page", "anonymousId": "a1", "name": "Home"},
        {"type": "screen", "userId": "u1", "name": "Cart"},
        {"type": "group", "userId": "u1", "groupId": "g1", "traits": {"plan": "pro"}},
        {"type": "alias", "userId": "u1", "previousId": "a1"},
    ]
    body = gzip.compress(json.dumps({"batch": batch}).encode())
    response = client.post(
        "/v1/batch", auth=(key, ""), content=body, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    stored = {r["type"]: r for r in rows(client, "events")}
    assert set(stored) == {"identify", "track", "page", "screen", "group", "alias"}
    assert json.loads(stored["identify"]["traits"]) == {"email": "a@b.cn"}
    assert stored["group"]["group_id"] == "g1" and stored["alias"]["previous_id"] == "a1"


def test_a_retried_batch_stores_nothing_twice_even_without_message_ids(
    client: TestClient, key: str
) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "A", "messageId": "fixed"},
            {"type": "track", "userId": "u1", "event": "B", "timestamp": "2024-05-01T10:00:00Z"},
        ],
        "sentAt": "2024-05-01T10:00:01Z",
    }
    for _ in range(3):
        assert client.post("/v1/batch", auth=(key, ""), json=body).status_code == 200
    stored = rows(client, "events", "event")
    assert [r["event"] for r in stored] == ["A", "B"]
    assert stored[1]["message_id"].startswith("omni-")


def test_import_is_an_alias_of_batch(client: TestClient, key: str) -> None:
    response = client.post(
        "/v1/import",
        auth=(key, ""),
        json={"batch": [{"type": "track", "userId": "u", "event": "I"}]},
    )
    assert response.status_code == 200
    assert [r["event"] for r in rows(client, "events")] == ["I"]


# --- bad input: a clear error, nothing accepted lost, every refusal in dead_letters ------


def _refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["code"] and body["message"]
    return body  # type: ignore[no-any-return]


def test_a_batch_keeps_valid_calls_and_lists_each_refused_one(client: TestClient, key: str) -> None:
    now = datetime.now(UTC)
    batch = [
        {"type": "track", "userId": "ok-1", "event": "Kept"},
        {"type": "track", "userId": "u", "event": 42},
        {"type": "track", "userId": "u", "event": "E", "properties": [1, 2]},
        {"type": "track", "event": "Nobody"},
        {"type": "purchase", "userId": "u"},
        {
            "type": "track",
            "userId": "u",
            "event": "Future",
            "timestamp": iso(now + timedelta(days=3)),
        },
        {"type": "track", "userId": "u", "event": "Ancient", "timestamp": "2001-01-01T00:00:00Z"},
        {"type": "track", "userId": "u", "event": "Big", "properties": {"x": "y" * 40_000}},
        {"type": "identify", "anonymousId": "ok-2", "traits": {"name": "Li"}},
    ]
    body = _refused(client.post("/v1/batch", auth=(key, ""), json={"batch": batch}), 400)
    assert body["accepted"] == 2
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7]
    assert (errors[1]["field"], errors[1]["value"]) == ("event", "42")
    assert "string" in errors[1]["reason"]
    assert (errors[2]["field"], errors[2]["value"]) == ("properties", "[1, 2]")
    assert "JSON object" in errors[2]["reason"]
    assert errors[3]["field"] == "userId" and "anonymousId" in errors[3]["reason"]
    assert errors[4]["field"] == "type" and errors[4]["value"] == '"purchase"'
    assert "track, identify, page, screen, group, alias" in errors[4]["reason"]
    assert errors[5]["field"] == "timestamp" and "1 day after receipt" in errors[5]["reason"]
    assert errors[6]["field"] == "timestamp" and "before receipt" in errors[6]["reason"]
    assert "32 KB" in errors[7]["reason"]

    stored = rows(client, "events", "type")
    assert [(r["user_id"], r["anonymous_id"]) for r in stored] == [(None, "ok-2"), ("ok-1", None)]
    letters = rows(client, "dead_letters", "origin")
    assert len(letters) == 7
    by_index = {int(d["origin"].split("batch index ")[1].rstrip(")")): d for d in letters}
    assert json.loads(by_index[1]["payload"]) == batch[1]
    assert by_index[2]["field"] == "properties" and by_index[2]["source"] == "web"
    assert by_index[4]["reason"] == errors[4]["reason"]


@pytest.mark.parametrize(
    ("content", "headers", "field", "words"),
    [
        (b'{"batch": [', {}, "(body)", "valid JSON"),
        (b'{"userId": "u", "event": "caf\xe9"}', {}, "(body)", "UTF-8"),
        (b"not gzip", {"Content-Encoding": "gzip"}, "Content-Encoding", "gzip"),
        (b'{"batch": {"type": "track"}}', {}, "batch", "JSON array"),
    ],
)
def test_unusable_bodies_are_refused_whole_and_kept(
    client: TestClient,
    key: str,
    content: bytes,
    headers: dict[str, str],
    field: str,
    words: str,
) -> None:
    body = _refused(client.post("/v1/batch", auth=(key, ""), content=content, headers=headers), 400)
    assert body["errors"][0]["field"] == field and words in body["message"]
    [letter] = rows(client, "dead_letters")
    assert letter["field"] == field and letter["source"] == "web"
    stored = (
        letter["payload"].encode()
        if letter["payload_encoding"] == "utf-8"
        else __import__("base64").b64decode(letter["payload"])
    )
    assert stored == content


def test_an_oversized_batch_is_413_and_an_oversized_call_400(client: TestClient, key: str) -> None:
    big_batch = {
        "batch": [
            {"type": "track", "userId": "u", "event": "E", "properties": {"pad": "x" * 20_000}}
            for _ in range(30)
        ]
    }
    body = _refused(client.post("/v1/batch", auth=(key, ""), json=big_batch), 413)
    assert "500 KB" in body["message"]
    single = {"userId": "u", "event": "E", "properties": {"pad": "x" * 40_000}}
    body = _refused(client.post("/v1/track", auth=(key, ""), json=single), 400)
    assert "32 KB" in body["message"]
    assert rows(client, "events") == []
    assert {d["field"] for d in rows(client, "dead_letters")} == {"(body)"}


def test_unknown_and_revoked_write_keys_are_401(
    client: TestClient, key: str, admin: dict[str, str]
) -> None:
    call = {"userId": "u", "event": "E"}
    body = _refused(client.post("/v1/track", auth=("wk_not_a_key", ""), json=call), 401)
    assert body["errors"][0]["field"] == "writeKey" and "omni sources create" in body["message"]
    _refused(client.post("/v1/track", json=call), 401)  # no key at all
    assert client.post("/v1/track", auth=(key, ""), json=call).status_code == 200
    revoked = client.post("/v1/sources/web/revoke", headers=admin)
    assert revoked.json() == {"revoked": [key[:10]]}
    _refused(client.post("/v1/track", auth=(key, ""), json=call), 401)
    _refused(client.post("/v1/track", json={**call, "writeKey": key}), 401)
    assert len(rows(client, "events")) == 1
    letters = rows(client, "dead_letters")
    assert len(letters) == 4 and {d["field"] for d in letters} == {"writeKey"}
    assert all(key not in d["value"] for d in letters)


def test_the_timestamp_window_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "h",
        loader_interval=0.05,
        event_max_future=timedelta(hours=1),
        event_max_age=timedelta(days=2),
    )
    admin = bearer(make_admin_token(settings.home))
    with TestClient(create_app(settings)) as client:
        key = client.post("/v1/sources", json={"name": "app"}, headers=admin).json()["write_key"]
        now = datetime.now(UTC)
        calls = [
            {"type": "track", "userId": "u", "event": name, "timestamp": iso(now + delta)}
            for name, delta in [
                ("soon", timedelta(minutes=30)),
                ("later", timedelta(hours=2)),
                ("yesterday", timedelta(days=-1)),
                ("last week", timedelta(days=-7)),
            ]
        ]
        body = client.post("/v1/batch", auth=(key, ""), json={"batch": calls}).json()
        assert [e["index"] for e in body["errors"]] == [1, 3]
        assert {r["event"] for r in rows(client, "events")} == {"soon", "yesterday"}


@pytest.mark.parametrize(
    ("timestamp", "sent_at", "field"),
    [
        ("9999-12-31T23:59:59-01:00", None, "timestamp"),
        ("0001-01-01T00:00:00+01:00", None, "timestamp"),
        ("9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z", "timestamp"),
        ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "timestamp"),
        ("2024-05-01T00:00:00Z", "0001-01-01T00:00:00+00:30", "sentAt"),
    ],
)
def test_times_at_the_edge_of_the_calendar_refuse_their_call_not_the_batch(
    client: TestClient, key: str, timestamp: str, sent_at: str | None, field: str
) -> None:
    edge: dict[str, Any] = {"type": "track", "userId": "u", "event": "Edge", "timestamp": timestamp}
    if sent_at is not None:
        edge["sentAt"] = sent_at
    kept = {"type": "track", "userId": "u", "event": "Kept"}
    body = _refused(client.post("/v1/batch", auth=(key, ""), json={"batch": [kept, edge]}), 400)
    assert body["accepted"] == 1
    [error] = body["errors"]
    assert (error["index"], error["field"]) == (1, field)
    assert [r["event"] for r in rows(client, "events")] == ["Kept"]
