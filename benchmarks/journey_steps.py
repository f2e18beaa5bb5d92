"""Journey step executions per second, with sends, against the send path alone.

A live journey (created, approved and started through ``platform.journeys``): the
abandoned cart of the journey document's example, ``wait`` 1 h, ``wait_for`` an order
(23 h timeout), ``split`` (10 % held out), ``send`` (email, inline content), ``exit``:
five steps for a person reminded, three for one held out. N people are enrolled through
``journeys/enrol.py``; the runtime runs every due step with a clock of its own (at the
entry, an hour later, a day later, so no real waiting): claims in
batches of 200 with a lease, one ``send_many`` per batch, each batch's steps recorded in
one transaction of the operational store (SQLite in WAL mode with its default
``synchronous=FULL``; PostgreSQL on the tests' private cluster, ``OMNI_TEST_POSTGRES_URL``
for another: its ``fsync`` and ``synchronous_commit`` are printed).
Meanwhile the email channel's worker delivers the messages to a local SMTP server
(aiosmtpd in a process of its own), as in ``omni serve``.

Beside it, in the same process and the same minute, the **send path alone**: the same
N messages through ``platform.messages.send_many`` in batches of 200, no journey.

Printed: steps per second (the target is >= 1,000), the journey's sends per second, the
send path alone's messages per second, the ratio (journey seconds / send-path seconds:
what the engine costs beyond its sends), and the messages the SMTP server received.

Run: ``python benchmarks/journey_steps.py [--people 2000] [--store sqlite|postgres|both]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.email_send import _sink, build  # the same people and SMTP sink

from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.opstore.models import utcnow
from omnichannel.platform import Platform

BATCH = 200
CONTENT = {"subject": "Hello {{ address }}", "text": "A journey's message to {{ address }}."}
# The abandoned-cart shape of the journey document's own example (definition.py).
JOURNEY: dict[str, Any] = {
    "name": "bench",
    "entry": {"event": {"name": "Product Added"}},
    "start": "wait-an-hour",
    "steps": {
        "wait-an-hour": {"wait": "1h", "next": "bought"},
        "bought": {
            "wait_for": {"event": "Order Completed", "timeout": "23h"},
            "on_event": "done",
            "on_timeout": "split",
        },
        "split": {
            "split": {"arms": [{"name": "remind", "weight": 1, "next": "reminder"}], "holdout": 10}
        },
        "reminder": {"send": {"channel": "email", "content": CONTENT}, "next": "done"},
        "done": {"exit": {}},
    },
}
# When run_due is called: at entry (the hour's wait), an hour later (the wait for an
# order begins), a day later (timed out: split, reminder, exit).
CLOCK = (timedelta(0), timedelta(hours=1), timedelta(hours=24))


def _config(port: int) -> Any:
    return parse_channels_config(
        "public_base_url: https://shop.example\n"
        "email:\n"
        f"  host: 127.0.0.1\n  port: {port}\n  from_address: news@shop.example\n"
        "  rate_per_second: 100000\n  concurrency: 16\n  pool_size: 4\n"
    )


def send_path_alone(platform: Platform, people: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for start in range(0, len(people), BATCH):
        answers = platform.messages.send_many(
            {
                "channel": "email",
                "profile_id": p["profile_id"],
                "content": CONTENT,
                "origin": "journey",
                "idempotency_key": f"alone:{p['profile_id']}",
            }
            for p in people[start : start + BATCH]
        )
        assert all(a.get("status") == "queued" for a in answers), answers[0]
    return time.perf_counter() - started


def journey_run(platform: Platform, people: list[dict[str, Any]]) -> tuple[float, int]:
    from sqlalchemy import select

    from omnichannel.journeys.definition import parse_journey
    from omnichannel.journeys.enrol import Candidate, enrol_many
    from omnichannel.journeys.runtime import JourneyRuntime
    from omnichannel.opstore.models import Journey

    platform.journeys.create(JOURNEY, actor="bench")
    platform.journeys.approve("bench", actor="bench")
    platform.journeys.start("bench", actor="bench")
    definition = parse_journey(JOURNEY)
    now = utcnow()
    with platform.opstore.session() as session:
        journey = session.scalars(select(Journey).where(Journey.name == "bench")).one()
        results = enrol_many(
            session,
            journey,
            definition,
            [
                Candidate(subject=p["profile_id"], profile_id=p["profile_id"], entry_ref=f"e:{i}")
                for i, p in enumerate(people)
            ],
            now=now,
        )
    assert all(r.enrolled for r in results), [r.reason for r in results][:3]
    runtime = JourneyRuntime(platform, batch_size=BATCH)
    started = time.perf_counter()
    steps = sum(runtime.run_due(now=now + later) for later in CLOCK)
    return time.perf_counter() - started, steps


def _wait_delivered(count: Any, expected: int, seconds: float = 900) -> float:
    started = time.monotonic()
    while count.value < expected and time.monotonic() - started < seconds:
        time.sleep(0.05)
    return time.monotonic() - started


def run(store: str, people_n: int, port: int, count: Any, pg_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        opstore_url = None
        if store == "postgres":
            from tests.support.postgres import create_database

            assert pg_url is not None
            made = create_database(pg_url, f"bench_{int(time.time())}")
            opstore_url = made.replace("postgresql://", "postgresql+psycopg://", 1)
        people = build(home, people_n)
        before = count.value
        settings = Settings(home=home, opstore_url=opstore_url)
        with Platform(settings) as platform:
            platform.messages.use_config(_config(port))
            platform.channels.start(["email"], poll_seconds=0.05)
            alone = send_path_alone(platform, people)
            seconds, steps = journey_run(platform, people)
            with platform.opstore.session() as session:
                from sqlalchemy import func, select

                from omnichannel.opstore.models import OutboxMessage

                made = int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
            drained = _wait_delivered(count, before + made)
            platform.channels.stop()
        return {
            "store": store,
            "people": len(people),
            "steps": steps,
            "seconds": seconds,
            "alone": alone,
            "received": count.value - before,
            "messages": made,
            "drained_after": drained,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    count = multiprocessing.Value("l", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, count, ready), daemon=True)
    sink.start()
    ready.wait(30)
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    results = []
    try:
        pg: Any = None
        pg_url = None
        if "postgres" in stores:
            import psycopg
            from tests.support.postgres import postgres_server

            pg = postgres_server()
            pg_url = pg.__enter__()
            # The tests' private cluster is started with fsync=off on its command line
            # (nothing can turn it on while it runs): said with the figures.
            with psycopg.connect(pg_url, autocommit=True) as conn:
                fsync = conn.execute("SHOW fsync").fetchone()
                commit = conn.execute("SHOW synchronous_commit").fetchone()
            print(
                f"postgresql: fsync={fsync[0] if fsync else '?'}, "
                f"synchronous_commit={commit[0] if commit else '?'}"
            )
        try:
            for store in stores:
                results.append(run(store, args.people, port, count, pg_url))
        finally:
            if pg is not None:
                pg.__exit__(None, None, None)
    finally:
        sink.terminate()
    for r in results:
        rate = r["steps"] / r["seconds"]
        sends = r["people"] / r["seconds"]
        alone = r["people"] / r["alone"]
        print(
            f"[{r['store']}] {r['people']} people, {r['steps']} steps in {r['seconds']:.2f} s: "
            f"{rate:,.0f} steps/s (target >= 1,000), {sends:,.0f} journey sends/s; "
            f"send path alone {alone:,.0f} messages/s ({r['alone']:.2f} s); "
            f"ratio journey / send path alone: {r['seconds'] / r['alone']:.2f}; "
            f"SMTP server received {r['received']} of {r['messages']} "
            f"({r['drained_after']:.1f} s after the journey's last step)"
        )


if __name__ == "__main__":
    main()
