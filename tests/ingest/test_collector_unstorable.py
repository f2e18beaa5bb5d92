"""Calls that JSON allows but storage cannot hold: refused one by one, never a 500.

A lone surrogate (``"S\\ud800"``), nesting thousands of levels deep and a 5,000-digit
integer each used to fail the whole request with a 500 (UnicodeEncodeError,
RecursionError, ValueError) and store nothing of the batch. Now the call carrying one is
refused with its index and kept as a dead letter, the calls beside it are stored, and a
file of the same lines gets the same refusals.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.ingest.events_file import load_events_file
from omnichannel.warehouse import Warehouse
from tests.ingest.test_collector import rows
from tests.support.collector import bearer, make_admin_token

DEEP = 10_000
# Raw JSON text: json.dumps cannot even write these from Python objects.
GOOD_1 = '{"type":"track","userId":"u1","event":"Kept","messageId":"good-1"}'
SURROGATE = '{"type":"track","userId":"u1","event":"S\\ud800","messageId":"bad-1"}'
DEEP_CALL = (
    '{"type":"track","userId":"u1","event":"Deep","messageId":"bad-2","properties":{"x":'
    + "[" * DEEP
    + "]" * DEEP
    + "}}"
)
GIANT = '{"type":"track","userId":"u1","event":"Big","properties":{"n":' + "9" * 5000 + "}}"
SURROGATE_KEY = '{"type":"identify","userId":"u1","traits":{"\\udc00name":"Li"}}'
GOOD_2 = '{"type":"track","userId":"u1","event":"Emoji \\ud83d\\ude00","messageId":"good-2"}'
LINES = [GOOD_1, SURROGATE, DEEP_CALL, GIANT, SURROGATE_KEY, GOOD_2]

EXPECTED = {
    1: ("event", '"S\\ud800"', "lone UTF-16 surrogate"),
    2: ("properties", "more than 64 levels of nesting", "at most 64 levels"),
    3: ("properties.n", "a 5000-digit integer", "at most 4300 digits"),
    4: ("traits.\\udc00name", '"\\udc00name"', "lone UTF-16 surrogate"),
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", loader_interval=0.05)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def key(client: TestClient, settings: Settings) -> str:
    admin = bearer(make_admin_token(settings.home))
    response = client.post("/v1/sources", json={"name": "web"}, headers=admin)
    return str(response.json()["write_key"])


def _batch(*calls: str) -> str:
    return '{"batch":[' + ",".join(calls) + "]}"


def test_a_batch_keeps_its_good_calls_beside_unstorable_ones(client: TestClient, key: str) -> None:
    response = client.post("/v1/batch", auth=(key, ""), content=_batch(*LINES))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_events" and body["accepted"] == 2
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == sorted(EXPECTED)
    for index, (field, value, words) in EXPECTED.items():
        assert (errors[index]["field"], errors[index]["value"]) == (field, value)
        assert words in errors[index]["reason"]

    stored = rows(client, "events", "message_id")
    assert [r["event"] for r in stored] == ["Kept", "Emoji 😀"]
    letters = {
        int(d["origin"].split("batch index ")[1].rstrip(")")): d
        for d in rows(client, "dead_letters")
    }
    assert sorted(letters) == sorted(EXPECTED)
    # Each refused call is kept as it was sent (escaped where it cannot be raw UTF-8).
    assert json.loads(letters[1]["payload"]) == json.loads(SURROGATE)
    assert (
        letters[2]["payload"].count("[") == DEEP and '"messageId":"bad-2"' in letters[2]["payload"]
    )
    assert "9" * 5000 in letters[3]["payload"]
    assert json.loads(letters[4]["payload"]) == json.loads(SURROGATE_KEY)


@pytest.mark.parametrize("route", ["/v1/track", "/v1/identify", "/v1/page"])
def test_a_single_unstorable_call_is_400_and_kept(client: TestClient, key: str, route: str) -> None:
    nested = "[" * DEEP + "]" * DEEP  # 20 KB: under the 32 KB a call may take
    deep = '{"userId":"u","event":"E","name":"N","context":{"a":' + nested + "}}"
    for content in (deep, '{"userId":"u\\udfff","event":"E"}'):
        response = client.post(route, auth=(key, ""), content=content)
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert error["index"] is None and error["field"] in ("context", "userId")
    assert len(rows(client, "dead_letters")) == 2
    assert rows(client, "events") == []


def test_a_write_key_with_a_lone_surrogate_is_401_not_500(client: TestClient) -> None:
    response = client.post(
        "/v1/track", content='{"writeKey":"wk_\\ud800","userId":"u","event":"E"}'
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "writeKey"


def test_the_events_file_refuses_the_same_lines_with_the_same_words(
    client: TestClient, key: str, tmp_path: Path
) -> None:
    collected = client.post("/v1/batch", auth=(key, ""), content=_batch(*LINES)).json()
    by_collector = {
        e["index"] + 1: (e["field"], e["value"], e["reason"]) for e in collected["errors"]
    }
    path = tmp_path / f"archive-{uuid.uuid4().hex}.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    with Warehouse.open(f"duckdb:///{tmp_path / 'file.duckdb'}") as wh:
        result = load_events_file(wh, path, source="archive")
        stored = wh.con.sql("SELECT event FROM events ORDER BY message_id").to_pyarrow()
        letters: list[dict[str, Any]] = (
            wh.con.sql("SELECT origin, field, value, reason, payload FROM dead_letters")
            .to_pyarrow()
            .to_pylist()
        )
    assert (result.lines, result.events_stored, result.rejected) == (6, 2, 4)
    assert stored.column("event").to_pylist() == ["Kept", "Emoji 😀"]
    by_file = {
        int(d["origin"].rsplit(" line ", 1)[1]): (d["field"], d["value"], d["reason"])
        for d in letters
    }
    assert by_file == by_collector
    # The file keeps the line itself.
    assert {d["payload"] for d in letters} == {SURROGATE, DEEP_CALL, GIANT, SURROGATE_KEY}
