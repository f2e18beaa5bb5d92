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
from omnichannel.ingest.replay_events import replay_event_letters
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
    client: TestClient, key: str, tmp_path: Path, warehouse_url: str
) -> None:
    collected = client.post("/v1/batch", auth=(key, ""), content=_batch(*LINES)).json()
    by_collector = {
        e["index"] + 1: (e["field"], e["value"], e["reason"]) for e in collected["errors"]
    }
    path = tmp_path / f"archive-{uuid.uuid4().hex}.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    with Warehouse.open(warehouse_url) as wh:
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


# NaN and Infinity: Python's json reads them (and 1e999 as infinity), orjson would have
# written them as null and DuckDB kept the bare word. Both ways in now refuse the call.
GOOD_3 = (
    '{"type":"track","userId":"u1","event":"NaN Viewed","messageId":"good-3",'
    '"properties":{"x":1e300,"label":"Infinity"}}'
)
NAN_PROPERTY = '{"type":"track","userId":"u1","event":"Priced","properties":{"price":NaN}}'
INFINITE_TRAIT = '{"type":"identify","userId":"u1","traits":{"score":Infinity}}'
INFINITE_ID = '{"type":"track","userId":-Infinity,"event":"E"}'
HUGE_NUMBER = '{"type":"track","userId":"u1","event":"H","properties":{"x":[1,-1e999]}}'
NON_FINITE = [GOOD_3, NAN_PROPERTY, INFINITE_TRAIT, INFINITE_ID, HUGE_NUMBER]
NON_FINITE_EXPECTED = {
    1: ("properties.price", "NaN"),
    2: ("traits.score", "Infinity"),
    3: ("userId", "-Infinity"),
    4: ("properties.x[1]", "-1e999"),
}


def _load_file(tmp_path: Path, lines: list[str]) -> tuple[Any, list[str], list[dict[str, Any]]]:
    path = tmp_path / f"archive-{uuid.uuid4().hex}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with Warehouse.open(f"duckdb:///{tmp_path / 'file.duckdb'}") as wh:
        result = load_events_file(wh, path, source="archive")
        events = wh.con.sql("SELECT event FROM events ORDER BY message_id").to_pyarrow()
        letters: list[dict[str, Any]] = (
            wh.con.sql("SELECT origin, field, value, reason, payload FROM dead_letters")
            .to_pyarrow()
            .to_pylist()
        )
    return result, events.column("event").to_pylist(), letters


def test_nan_and_infinity_are_refused_alike_by_the_collector_and_the_file(
    client: TestClient, key: str, tmp_path: Path
) -> None:
    response = client.post("/v1/batch", auth=(key, ""), content=_batch(*NON_FINITE))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["accepted"] == 1
    by_collector = {e["index"]: (e["field"], e["value"], e["reason"]) for e in body["errors"]}
    assert {i: e[:2] for i, e in by_collector.items()} == NON_FINITE_EXPECTED
    assert all("finite number" in reason for _, _, reason in by_collector.values())
    # The good call beside them is stored, its "NaN" text and 1e300 untouched.
    [stored] = rows(client, "events")
    assert stored["event"] == "NaN Viewed"
    assert json.loads(stored["properties"]) == {"x": 1e300, "label": "Infinity"}
    # Each refused call is kept as it was sent, NaN and all.
    kept = {d["payload"] for d in rows(client, "dead_letters")}
    assert kept == set(NON_FINITE[1:])

    result, events, letters = _load_file(tmp_path, NON_FINITE)
    assert (result.events_stored, result.rejected) == (1, 4) and events == ["NaN Viewed"]
    by_file = {
        int(d["origin"].rsplit(" line ", 1)[1]) - 1: (d["field"], d["value"], d["reason"])
        for d in letters
    }
    assert by_file == by_collector
    assert {d["payload"] for d in letters} == set(NON_FINITE[1:])


def test_nan_in_a_single_call_is_400_naming_the_field(client: TestClient, key: str) -> None:
    response = client.post("/v1/track", auth=(key, ""), content=NAN_PROPERTY)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["value"]) == ("properties.price", "NaN")
    assert rows(client, "events") == []


def test_spellings_only_duckdb_reads_are_not_json_on_either_path(
    client: TestClient, key: str, tmp_path: Path
) -> None:
    # DuckDB's parser also reads nan, inf and -NaN; the collector's does not.
    lines = [
        '{"type":"track","userId":"u1","event":"E","properties":{"p":nan}}',
        '{"type":"track","userId":"u1","event":"E","properties":{"p":-inf}}',
        '{"type":"track","userId":"u1","event":"E","properties":{"p":-NaN}}',
    ]
    for line in lines:
        response = client.post("/v1/track", auth=(key, ""), content=line)
        assert response.status_code == 400 and response.json()["code"] == "invalid_json"
    result, events, letters = _load_file(tmp_path, lines)
    assert (result.events_stored, result.rejected, events) == (0, 3, [])
    assert {(d["field"], d["reason"]) for d in letters} == {
        ("(line)", "expected a valid JSON document")
    }


def test_replaying_a_nan_letter_refuses_it_again(tmp_path: Path, warehouse_url: str) -> None:
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(NON_FINITE) + "\n")
    with Warehouse.open(warehouse_url) as wh:
        load_events_file(wh, path, source="archive")
        letters = wh.con.sql("SELECT * FROM dead_letters").to_pyarrow().to_pylist()
        outcomes = replay_event_letters(wh, letters)
        events = wh.con.sql("SELECT event FROM events").to_pyarrow().column(0).to_pylist()
    reasons = sorted(reason for _, reason in outcomes)
    assert len(reasons) == 4 and all("finite number" in r for r in reasons), reasons
    assert events == ["NaN Viewed"]  # NaN was not stored as null by the replay


# NUL (\u0000) is valid JSON that PostgreSQL's text cannot hold: refused on every engine,
# in values and keys alike, by the collector and the events file with the same words.
NUL_EVENT = '{"type":"track","userId":"u1","event":"N\\u0000ul","messageId":"nul-1"}'
NUL_PROPERTY = '{"type":"track","userId":"u1","event":"E","properties":{"note":["a","b\\u0000"]}}'
NUL_KEY = '{"type":"identify","userId":"u1","traits":{"na\\u0000me":"Li"}}'
NUL_ID = '{"type":"track","userId":"u\\u0000","event":"E"}'
NUL_LINES = [GOOD_1, NUL_EVENT, NUL_PROPERTY, NUL_KEY, NUL_ID]
NUL_EXPECTED = {
    1: ("event", '"N\\u0000ul"'),
    2: ("properties.note[1]", '"b\\u0000"'),
    3: ("traits.na\\u0000me", '"na\\u0000me"'),
    4: ("userId", '"u\\u0000"'),
}


def test_a_nul_character_is_refused_alike_by_the_collector_and_the_file(
    client: TestClient, key: str, tmp_path: Path
) -> None:
    response = client.post("/v1/batch", auth=(key, ""), content=_batch(*NUL_LINES))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["accepted"] == 1
    by_collector = {e["index"]: (e["field"], e["value"], e["reason"]) for e in body["errors"]}
    assert {i: e[:2] for i, e in by_collector.items()} == NUL_EXPECTED
    assert all("without the NUL character" in reason for _, _, reason in by_collector.values())
    assert [r["message_id"] for r in rows(client, "events")] == ["good-1"]
    kept = {d["payload"] for d in rows(client, "dead_letters")}
    assert {json.dumps(json.loads(p)) for p in kept} == {
        json.dumps(json.loads(line)) for line in NUL_LINES[1:]
    }
    result, events, letters = _load_file(tmp_path, NUL_LINES)
    assert (result.events_stored, result.rejected, events) == (1, 4, ["Kept"])
    by_file = {
        int(d["origin"].rsplit(" line ", 1)[1]) - 1: (d["field"], d["value"], d["reason"])
        for d in letters
    }
    assert by_file == by_collector
