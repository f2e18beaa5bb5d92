"""Fuzz: random JSON through every collector route and random lines through the file loaders.

Whatever a sender writes (lone surrogates, nesting thousands of levels deep, integers of
thousands of digits, NaN, Infinity, wrong types in every field), no route answers 500 and
no loader raises anything but our own clear errors; and the good calls sent beside a bad
one are all stored, with every refusal kept as a dead letter. Bounded (``max_examples``)
so it runs in seconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.errors import OmniError
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.events_file import load_events_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse
from tests.ingest.test_collector import rows
from tests.support.collector import bearer, make_admin_token

FIELDS = [
    "type",
    "userId",
    "anonymousId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "messageId",
    "timestamp",
    "sentAt",
    "previousId",
    "groupId",
    "channel",
    "writeKey",
    "extra",
]
SINGLE_ROUTES = ["track", "identify", "page", "screen", "group", "alias"]
BATCH_ROUTES = ["batch", "import"]

_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
_text = st.text(st.characters() | _surrogates, max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


# ISO-8601 times anywhere in the calendar, with any offset (the edges overflow datetime).
_times = st.builds(
    lambda moment, sign, hours, minutes: json.dumps(
        f"{moment.isoformat()}{sign}{hours:02}:{minutes:02}"
    ),
    st.datetimes(),
    st.sampled_from("+-"),
    st.integers(0, 23),
    st.integers(0, 59),
)

# JSON text Python objects cannot produce: json.dumps would recurse or refuse.
_raw = st.one_of(
    _times,
    _values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from(["list", "object"])),
    st.integers(19, 6000).map(lambda n: "-" * (n % 2) + "9" * n),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0", "1E-400", '"S\\ud800"']),
)


@st.composite
def bad_calls(draw: st.DrawFn) -> str:
    """A call as JSON text: usually a plausible one with a few fields replaced at random."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_raw)  # the call itself is anything at all
    call = {"type": '"track"', "userId": '"u1"', "event": '"Fuzzed"'}
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        call[field] = draw(_raw)
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in call.items()) + "}"


# Anything a client may put in the header: latin-1 bytes after Basic or Bearer, or none.
_authorizations = st.tuples(
    st.sampled_from([b"Basic ", b"Bearer ", b"basic ", b""]),
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").strip()),
).map(lambda parts: parts[0] + parts[1])


def _good(tag: str) -> tuple[str, str]:
    message_id = f"good-{tag}-{uuid.uuid4().hex}"
    call = {"type": "track", "userId": "u-good", "event": "Good", "messageId": message_id}
    return message_id, json.dumps(call)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app_settings = Settings(home=tmp_path / "home", loader_interval=0.05)
    admin = bearer(make_admin_token(app_settings.home))
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        test_client.headers.update(admin)
        yield test_client


def test_no_collector_route_answers_500_and_good_calls_beside_a_bad_one_are_kept(
    client: TestClient,
) -> None:
    key = client.post("/v1/sources", json={"name": "fuzz"}).json()["write_key"]
    good_ids: set[str] = set()
    letters_expected = 0

    @FUZZ
    @given(
        bad=bad_calls(),
        route=st.sampled_from(SINGLE_ROUTES + BATCH_ROUTES),
        authorization=st.none() | _authorizations,
    )
    def one_request(bad: str, route: str, authorization: bytes | None) -> None:
        nonlocal letters_expected
        if route in BATCH_ROUTES:
            (first, good_1), (second, good_2) = _good("a"), _good("b")
            body = '{"batch":[' + ",".join([good_1, bad, good_2]) + "]}"
        else:
            body = bad
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = client.post(f"/v1/{route}", auth=(key, ""), content=body)
        anonymous = client.post(f"/v1/{route}", content=body, headers=headers)
        assert anonymous.status_code in (400, 401, 413), (anonymous.status_code, anonymous.text)
        assert response.status_code in (200, 400), (response.status_code, response.text, body)
        answer = response.json()
        if route in BATCH_ROUTES:
            good_ids.update((first, second))
            if response.status_code == 400:
                assert answer["code"] == "invalid_events", answer
                assert answer["accepted"] == 2
                assert [e["index"] for e in answer["errors"]] == [1]
        letters_expected += response.status_code == 400

    one_request()
    stored = {r["message_id"] for r in rows(client, "events")}
    assert good_ids and good_ids <= stored
    letters = [d for d in rows(client, "dead_letters") if d["source"] == "fuzz"]
    assert len(letters) == letters_expected


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse.open(f"duckdb:///{tmp_path / 'fuzz.duckdb'}") as warehouse:
        yield warehouse


_line_bytes = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" "))


def test_the_events_file_loader_keeps_good_lines_beside_any_bad_line(
    wh: Warehouse, tmp_path: Path
) -> None:
    good_ids: set[str] = set()

    # A load costs ~0.3 s whatever its size, so each example is a file of several bad lines.
    @settings(FUZZ, max_examples=25)
    @given(bad=st.lists(bad_calls(), min_size=1, max_size=8), garbage=_line_bytes)
    def one_file(bad: list[str], garbage: bytes) -> None:
        (first, good_1), (second, good_2) = _good("a"), _good("b")
        lines = [good_1, *bad[:4], good_2, *bad[4:]]
        path = tmp_path / f"{uuid.uuid4().hex}.jsonl"
        path.write_bytes(b"\n".join([*(line.encode() for line in lines), garbage]))
        result = load_events_file(wh, path, source="archive")
        good_ids.update((first, second))
        assert result.events_stored >= 2
        assert result.events_stored + result.duplicates + result.rejected == result.lines

    one_file()
    stored = set(wh.con.sql("SELECT message_id FROM events").to_pyarrow().column(0).to_pylist())
    assert good_ids <= stored


_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "-1", "1e999", "2099-01-01", "#1001", "\x00", '"', "a,b"]),
)


def test_the_csv_connector_raises_only_clear_errors_for_any_bytes(
    wh: Warehouse, tmp_path: Path
) -> None:
    mapping = load_mapping("shopify-orders")
    header = (Path(__file__).parent / "data" / "shopify_orders.csv").read_text().splitlines()[0]

    @settings(FUZZ, report_multiple_bugs=False)
    @given(
        rows_=st.lists(st.lists(_cells, min_size=0, max_size=34), max_size=4),
        noise=st.binary(max_size=80),
        keep_header=st.booleans(),
    )
    def one_csv(rows_: list[list[str]], noise: bytes, keep_header: bool) -> None:
        lines = [header] if keep_header else []
        lines += [",".join(json.dumps(c) if "," in c else c for c in row) for row in rows_]
        path = tmp_path / f"{uuid.uuid4().hex}.csv"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + noise)
        try:
            ingest_file(wh, path, kind="orders", source="shop", mapping=mapping)
        except OmniError as error:
            assert str(error)  # a clear error, printed by the CLI as one line

    one_csv()


_segment = st.binary(max_size=24).map(lambda b: "".join(f"%{byte:02X}" for byte in b))
_quoted = st.text(max_size=20).map(lambda t: quote(t, safe="", errors="surrogatepass"))
_query_value = st.one_of(_quoted, st.integers(-(10**30), 10**30).map(str), _segment)


def test_no_management_or_profile_route_answers_500(client: TestClient) -> None:
    """Random identifiers (any bytes, percent-encoded), parameters and bodies: 4xx, never 500."""

    @FUZZ
    @given(
        identifier=st.one_of(_segment, _quoted, _quoted.map(lambda t: "email:" + t)),
        route=st.sampled_from(["traits", "external_ids", "events", "conversion_path"]),
        params=st.dictionaries(
            st.sampled_from(["limit", "next", "kind", "include", "lookback_days"]),
            _query_value,
            max_size=3,
        ),
        body=_raw,
    )
    def one_call(identifier: str, route: str, params: dict[str, str], body: str) -> None:
        query = "&".join(f"{name}={value}" for name, value in params.items())
        response = client.get(f"/v1/profiles/{identifier}/{route}?{query}")
        assert response.status_code < 500, (response.status_code, response.text)
        created = client.post("/v1/sources", content=body)
        assert created.status_code in (201, 400), (created.status_code, created.text, body)
        for path in (f"/v1/sources/{identifier}/keys", f"/v1/sources/{identifier}/revoke"):
            assert client.post(path).status_code in (200, 201, 400, 404)

    one_call()
