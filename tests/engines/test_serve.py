"""``omni serve`` on every engine, Spark included: what a user does with a running server.

One real server process per engine, its warehouse on that engine, made by ``omni init``
in a process before it (on Spark, a database of its own whose catalog both processes
find in the embedded metastore; the test process never starts Spark). Through it, over
real HTTP: the collector takes a batch with one bad event, the server's loader thread
stores the good ones and keeps the bad one with its reason; then the CLI, routed
through the server as it is beside any running ``omni serve``, resolves identities,
builds profiles, creates and refreshes a segment, and reads a profile; the Profile API
answers the same. The tests run in order on the module's server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.run import omni_env
from tests.cli.run import omni_in_process as omni
from tests.support.collector import bearer, make_source, server_token, start_server

pytestmark = pytest.mark.slow(seconds=200)

PEOPLE = ["ann", "bob", "cat"]
# ann and bob add a product; cat only views one; a call with no event name is refused.
GOOD = [
    *[{"type": "identify", "userId": p, "traits": {"email": f"{p}@shop.test"}} for p in PEOPLE],
    {"type": "track", "userId": "ann", "event": "Product Added", "properties": {"sku": "s1"}},
    {"type": "track", "userId": "bob", "event": "Product Added", "properties": {"sku": "s2"}},
    {"type": "track", "userId": "cat", "event": "Product Viewed", "properties": {"sku": "s1"}},
]
BAD = {"type": "track", "userId": "dan"}  # a track call needs its event name
# The engine suite's Spark keeps its catalog in the process, which is all one process
# needs; this module's processes share theirs as an installation does (the default).
IN_PROCESS_CATALOG = "spark.sql.catalogImplementation=in-memory"
ADDERS = {
    "name": "adders",
    "condition": {"event": {"name": "Product Added", "count": {"at_least": 1}}},
}


@dataclass
class Served:
    home: Path
    url: str
    write_key: str


def _json(served: Served, *args: str) -> Any:
    done = omni(*args, "--json", home=served.home)
    assert "omni serve" not in done.stderr, done.stderr  # routed, not refused
    return json.loads(done.stdout)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=30).status_code == 200
    except httpx.TransportError:  # a busy server opening its warehouse answers late
        return False


@pytest.fixture(scope="module")
def served(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("serve") / "home"
    write_key = make_source(home)
    url = engine_url.replace(f"&{IN_PROCESS_CATALOG}", "")
    env = {**omni_env(), "OMNI_WAREHOUSE_URL": url, "OMNI_LOADER_INTERVAL": "0.1"}
    # `omni init` first, a process of its own, as a user starts: the server must find
    # the tables it made (on Spark: in the embedded metastore beside them).
    made = subprocess.run(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "init", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert json.loads(made.stdout)["warehouse"]["created_tables"] > 0
    # Generous: on Spark the server starts a JVM and opens its tables first.
    server = start_server(home, env=env, timeout=300)
    try:
        deadline = time.monotonic() + 300
        while not _ready(server.url):
            assert time.monotonic() < deadline, f"omni serve not ready:\n{server.output()}"
            time.sleep(0.5)
        yield Served(home, server.url, write_key)
    finally:
        # The server alone (SIGTERM), as a service manager stops it: on Spark the JVM is
        # its child, which it stops itself once its work is done.
        server.stop()
        assert "Traceback" not in server.output(), server.output()


def test_the_collector_stores_the_good_events_and_keeps_the_bad_one(served: Served) -> None:
    sent = httpx.post(
        f"{served.url}/v1/batch",
        json={"batch": [*GOOD, BAD]},
        auth=(served.write_key, ""),
        timeout=60,
    )
    # The good calls are taken; the bad one is refused by name and kept as a dead letter.
    assert sent.status_code == 400, sent.text
    answer = sent.json()
    assert answer["accepted"] == len(GOOD)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(len(GOOD), "event")]
    deadline = time.monotonic() + 300
    while (stats := _json(served, "events", "stats"))["events"]["total"] < len(GOOD):
        assert time.monotonic() < deadline, f"the loader did not store the batch: {stats}"
        time.sleep(0.5)
    assert stats["events"]["total"] == len(GOOD)
    refused = _json(served, "dlq", "list")
    assert [(r["field"], r["origin"]) for r in refused["rows"]] == [
        ("event", f"collector /v1/batch (batch index {len(GOOD)})")
    ]
    assert json.loads(refused["rows"][0]["payload"]) == BAD
    counted = _json(served, "query", "SELECT count(*) AS n FROM events WHERE user_id = 'ann'")
    assert counted["rows"] == [{"n": 2}]


def test_identity_and_profiles_are_built_through_the_server(served: Served) -> None:
    # Looked up before identity resolution: nobody yet, and the server now holds an index.
    unknown = omni("profile", "show", "email:ann@shop.test", home=served.home, check=False)
    assert "no profile has identifier email:ann@shop.test" in unknown.stderr
    resolved = _json(served, "identity", "resolve")
    assert (resolved["records"], resolved["profiles"]) == (len(PEOPLE), len(PEOPLE))
    assert _json(served, "profiles", "build")["profiles"] == len(PEOPLE)
    # At once: the resolve job re-indexed before it finished, not some seconds later.
    card = _json(served, "profile", "show", "email:ann@shop.test")
    assert card["identifiers"] == {"email": ["ann@shop.test"], "user_id": ["ann"]}
    assert (card["all_traits"]["events"], card["traits"]["orders"]) == (2, 0)


def test_a_segment_is_created_and_refreshed_through_the_server(
    served: Served, tmp_path: Path
) -> None:
    document = tmp_path / "adders.json"
    document.write_text(json.dumps(ADDERS))
    created = _json(served, "segments", "create", "--file", str(document))
    assert (created["members"], created["refresh"]["entered"]) == (2, 2)
    (again,) = _json(served, "segments", "refresh", "adders")
    assert (again["members"], again["entered"], again["exited"]) == (2, 0, 0)
    members = _json(served, "segments", "members", "adders")["profile_ids"]
    cards = [_json(served, "profile", "show", f"user_id:{u}") for u in ("ann", "bob")]
    assert sorted(members) == sorted(card["profile_id"] for card in cards)


def test_the_profile_api_answers_from_the_engine(served: Served) -> None:
    headers = bearer(server_token(served.url))
    traits = httpx.get(
        f"{served.url}/v1/profiles/email:bob@shop.test/traits", headers=headers, timeout=60
    )
    assert traits.status_code == 200, traits.text
    assert (traits.json()["traits"]["events"], traits.json()["traits"]["identifiers"]) == (2, 2)
    missing = httpx.get(
        f"{served.url}/v1/profiles/email:nobody@shop.test/traits", headers=headers, timeout=60
    )
    assert missing.status_code == 404
    assert "email:nobody@shop.test" in missing.text
