"""Profile API latency with 1,000,000 profiles: traits, events?limit=2, conversion_path.

Generates a warehouse with DuckDB SQL: N profiles, each with a CRM record, an e-mail, a
phone and a user id (3N identifiers), five events (page views, UTM-tagged visits, content
views; 5N) and two orders (2N), then runs ``build_profiles`` (traits, tags, CLV and the
``profile_timeline`` the timelines read). Then:

1. baselines, in this process, hand-written DuckDB SQL on the plain tables: the profile
   row by identifier; the two newest events of a profile (identifier join events); the
   conversion path (the last orders, then the UTM/content events in the 30 days before);
   and the same two timeline reads straight on ``profile_timeline`` (the ceiling);
2. ``omni serve`` in a second process; this process times
   ``GET /v1/profiles/{type}:{value}/traits``, ``.../events?limit=2`` and
   ``.../conversion_path`` with httpx on 127.0.0.1 (keep-alive), over random e-mails,
   phones and user ids, after one warm-up request that builds the index;
3. the library's raw-table path (what the routes did before the stored timeline, and
   still do between ``omni identity resolve`` and the next build) on a few profiles.

    .venv/bin/python benchmarks/profile_lookup.py               # 1,000,000 profiles
    .venv/bin/python benchmarks/profile_lookup.py --profiles 100000 --lookups 1000
    # keep the generated and built warehouse, and time it again without rebuilding:
    .venv/bin/python benchmarks/profile_lookup.py --warehouse /tmp/lookup.duckdb
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.identity.rules import load_rules
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.timeline import conversion_paths, timeline
from omnichannel.warehouse import Warehouse

TARGET_TRAITS_P99_MS = 20.0
TARGET_TIMELINE_P99_MS = 100.0
EVENTS_PER_PROFILE = 5
ORDERS_PER_PROFILE = 2


def generate(path: Path, n: int) -> None:
    Warehouse.open(f"duckdb:///{path}").close()  # canonical schema
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    pid = "'p_' || substr(md5(i::varchar), 1, 16)"
    con.execute(
        f"""insert into record_profiles
        select 'crm', 'C' || i, {pid}, 'c_' || substr(md5(i::varchar), 1, 16),
               timestamp '2025-01-01' + to_seconds(i % 30000000), now()::timestamp
        from range({n}) t(i)"""
    )
    con.execute(
        f"""insert into profile_identifiers
        select {pid}, id_type,
               case id_type when 'email' then 'user' || i || '@mail.example.cn'
                            when 'phone' then '+86138' || lpad(i::varchar, 8, '0')
                            else 'u' || i end,
               'linked', 1, timestamp '2025-01-01', timestamp '2026-01-01'
        from range({n}) t(i), (values ('email'), ('phone'), ('user_id')) v(id_type)"""
    )
    # Events in load order (loaded_at rises with the row), each person's spread over a year.
    con.execute(
        f"""insert into events (message_id, type, event, user_id, anonymous_id, timestamp,
                source, channel, context_campaign_name, context_campaign_source,
                context_campaign_medium, context_page_url, properties, loaded_at)
        select 'm' || j, case when k = 4 then 'track' else 'page' end,
               case when k = 4 then 'Content Viewed' end,
               'u' || i, 'a' || i,
               timestamp '2025-01-01' + to_seconds(((i * 7919 + k * 61 * 86400) % 31536000)),
               'web', 'web',
               case when k in (1, 3) then 'Winter Collection - email - Jan 26' end,
               case when k in (1, 3) then 'email' end,
               case when k in (1, 3) then 'newsletter' end,
               'https://shop.example.cn/p/' || (j % 5000),
               case when k = 4 then '{{"content_id":"c' || (i % 300) || '"}}' end,
               timestamp '2026-01-01' + to_microseconds(j)
        from (select j, j % {n} as i, j // {n} as k from range({n * EVENTS_PER_PROFILE}) t(j))"""
    )
    con.execute(
        f"""insert into orders (order_id, source, channel, user_id, ordered_at, status,
                currency, total, campaign_id, loaded_at)
        select 'O' || j, 'web', 'web', 'u' || i,
               timestamp '2025-01-01' + to_seconds(((i * 7919 + (k * 2 + 1) * 97 * 86400)
                                                    % 31536000)),
               'completed', 'CNY', (20 + j % 500)::decimal(18,2),
               case when k = 0 then 'CMP-0009' end, timestamp '2026-01-01'
        from (select j, j % {n} as i, j // {n} as k from range({n * ORDERS_PER_PROFILE}) t(j))"""
    )
    con.execute(
        f"""insert into record_profiles
        select 'web', 'O' || j, 'p_' || substr(md5((j % {n})::varchar), 1, 16),
               'c_' || substr(md5((j % {n})::varchar), 1, 16),
               timestamp '2025-01-01', now()::timestamp
        from range({n * ORDERS_PER_PROFILE}) t(j)"""
    )
    con.execute(
        "insert into campaigns (campaign_id, name) values "
        "('CMP-0009', 'Winter Collection - email - Jan 26')"
    )
    con.close()


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


Lookup = tuple[str, str, int]  # (type, value, person number)


def keys(n: int, count: int, seed: int) -> list[Lookup]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        i = rng.randrange(n)
        kind = rng.choice(("email", "phone", "user_id"))
        value = {"email": f"user{i}@mail.example.cn", "phone": f"+86138{i:08d}"}.get(kind, f"u{i}")
        out.append((kind, value, i))
    return out


def profile_id(i: int) -> str:
    import hashlib

    return "p_" + hashlib.md5(str(i).encode()).hexdigest()[:16]


def time_each(lookups: list[Lookup], call: Callable[[Lookup], None]) -> list[float]:
    samples = []
    for lookup in lookups:
        started = time.perf_counter()
        call(lookup)
        samples.append(time.perf_counter() - started)
    return samples


BY_IDENTIFIER = "select profile_id from profile_identifiers where id_type = ? and id_value = ?"
SQL = {
    "traits": f"select * from profiles where profile_id = ({BY_IDENTIFIER})",
    # The plain tables: the person's user ids, then their newest events.
    "events": f"""with ids as (select id_value from profile_identifiers
                                where profile_id = ({BY_IDENTIFIER}) and id_type = 'user_id')
                  select * from events where user_id in (select id_value from ids)
                  order by timestamp desc, message_id desc limit 3""",
    "path": f"""with p as ({BY_IDENTIFIER}),
                ids as (select id_value from profile_identifiers
                        where profile_id = (select profile_id from p) and id_type = 'user_id'),
                o as (select o.* from orders o join record_profiles r
                        on r.source = o.source and r.record_id = o.order_id
                      where r.profile_id = (select profile_id from p)
                      order by ordered_at desc limit 20)
                select o.order_id, e.message_id from o left join events e
                  on e.user_id in (select id_value from ids)
                 and e.timestamp >= o.ordered_at - interval 30 day
                 and e.timestamp < o.ordered_at
                 and (e.context_campaign_name is not null or e.event = 'Content Viewed')""",
    # The ceiling of the stored timeline: the same reads by profile id, no bookkeeping
    # (OFFSET 0 keeps DuckDB's top-N from scanning every row group, see timeline_sql).
    "stored events": """select * from (select * from profile_timeline where profile_id = ?
                                       offset 0) order by ts desc, uid desc limit 3""",
    "stored path": """with o as (select * from (select * from profile_timeline
                                               where profile_id = ? and kind = 'order'
                                               offset 0) order by ts desc limit 20)
                      select o.uid, t.uid from o left join profile_timeline t
                        on t.profile_id = o.profile_id and t.kind = 'event'
                       and t.ts >= o.ts - interval 30 day and t.ts < o.ts""",
}


def baseline(path: Path, name: str, lookups: list[Lookup]) -> tuple[float, float]:
    con = duckdb.connect(str(path), read_only=True)
    sql = SQL[name]

    def call(lookup: Lookup) -> None:
        kind, value, i = lookup
        args = [profile_id(i)] if name.startswith("stored") else [kind, value]
        rows = con.execute(sql, args).fetchall()
        assert rows, (name, lookup)

    time_each(lookups[:5], call)
    result = quantiles(time_each(lookups, call))
    con.close()
    return result


def raw_path(path: Path, lookups: list[Lookup]) -> dict[str, tuple[float, float]]:
    """The library reading the raw tables (``stored=None``), as the routes did before."""
    rules = load_rules()
    out = {}
    with Warehouse.open(f"duckdb:///{path}") as wh:

        def events(lookup: Lookup) -> None:
            timeline(wh, profile_id(lookup[2]), rules=rules, limit=2, stored=None)

        def path_of(lookup: Lookup) -> None:
            conversion_paths(wh, profile_id(lookup[2]), rules=rules, stored=None)

        out["events"] = quantiles(time_each(lookups, events))
        out["path"] = quantiles(time_each(lookups, path_of))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ROUTES = {"traits": "traits", "events": "events?limit=2", "path": "conversion_path"}


def check(name: str, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    if name == "traits":
        assert body["traits"]["orders"] == ORDERS_PER_PROFILE, body
    elif name == "events":
        assert len(body["data"]) == 2 and body["cursor"]["has_more"], body
    else:
        assert len(body["data"]) == ORDERS_PER_PROFILE, body


def over_http(
    path: Path, home: Path, lookups: list[Lookup]
) -> tuple[dict[str, tuple[float, float]], float]:
    port = free_port()
    env = {**os.environ, "OMNI_HOME": str(home), "OMNI_WAREHOUSE_URL": f"duckdb:///{path}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = {}
    headers = admin_headers(home)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=300, headers=headers
        ) as client:
            deadline = time.monotonic() + 300  # a loaded machine starts the server slowly
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    assert server.poll() is None, "omni serve exited"
                    assert time.monotonic() < deadline, "omni serve did not start"
                    time.sleep(0.2)
            started = time.perf_counter()
            kind, value, _ = lookups[0]
            check("traits", client.get(f"/v1/profiles/{kind}:{value}/traits"))
            warm = time.perf_counter() - started
            for name, route in ROUTES.items():

                def call(lookup: Lookup, name: str = name, route: str = route) -> None:
                    check(name, client.get(f"/v1/profiles/{lookup[0]}:{lookup[1]}/{route}"))

                time_each(lookups[:20], call)
                out[name] = quantiles(time_each(lookups, call))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out, warm


def admin_headers(home: Path) -> dict[str, str]:
    """An admin token, where this version of the API asks for one on profile routes."""
    try:
        from omnichannel.opstore import open_opstore
        from omnichannel.opstore.admin_tokens import create_admin_token
    except ImportError:
        return {}
    home.mkdir(parents=True, exist_ok=True)
    store = open_opstore(f"sqlite:///{home / 'opstore.sqlite'}")
    try:
        with store.session() as session:
            token = create_admin_token(session, actor="benchmark")
    finally:
        store.close()
    return {"Authorization": f"Bearer {token}"}


def prepare(path: Path, n: int) -> None:
    started = time.perf_counter()
    generate(path, n)
    print(
        f"generated {n:,} profiles, {3 * n:,} identifiers, {EVENTS_PER_PROFILE * n:,} "
        f"events, {ORDERS_PER_PROFILE * n:,} orders in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    with Warehouse.open(f"duckdb:///{path}") as wh:
        report = build_profiles(wh, force=True)
    print(f"build_profiles (with profile_timeline): {time.perf_counter() - started:.1f} s")
    assert report.profiles == n, report


def line(label: str, figures: tuple[float, float]) -> str:
    return f"{label:<52} p50 {figures[0]:8.2f} ms  p99 {figures[1]:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--baseline-lookups", type=int, default=200)
    parser.add_argument("--raw-lookups", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--warehouse", type=Path, help="Keep the warehouse here; reuse it if it exists."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.warehouse or Path(tmp) / "lookup.duckdb"
        n = args.profiles
        if not path.exists():
            prepare(path, n)
        lookups = keys(n, args.lookups, args.seed)
        few = lookups[: args.baseline_lookups]
        base = {name: baseline(path, name, few) for name in SQL}
        for name, figures in base.items():
            print(line(f"baseline SQL in-process: {name}", figures))
        raw = raw_path(path, lookups[: args.raw_lookups])
        for name, figures in raw.items():
            print(line(f"raw-table library path (before): {name}", figures))
        http, warm = over_http(path, Path(tmp) / "home", lookups)
        print(f"first request (builds index):  {warm * 1000:.0f} ms")
        for name, figures in http.items():
            print(line(f"HTTP GET .../{ROUTES[name]}", figures))
        for name in ROUTES:
            ratio_p50 = http[name][0] / base[name][0]
            ratio_p99 = http[name][1] / base[name][1]
            ceiling = f"stored {name}" if f"stored {name}" in base else None
            extra = ""
            if ceiling:
                extra = (
                    f"; vs SQL on profile_timeline: p50 {http[name][0] / base[ceiling][0]:.2f}x"
                    f" p99 {http[name][1] / base[ceiling][1]:.2f}x"
                )
            print(
                f"ratio HTTP / plain-table SQL, {name}: "
                f"p50 {ratio_p50:.2f}x p99 {ratio_p99:.2f}x{extra}"
            )
        for name, target in (
            ("traits", TARGET_TRAITS_P99_MS),
            ("events", TARGET_TIMELINE_P99_MS),
            ("path", TARGET_TIMELINE_P99_MS),
        ):
            verdict = "meets" if http[name][1] < target else "MISSES"
            print(f"{name}: p99 {http[name][1]:.2f} ms {verdict} the {target:.0f} ms target")


if __name__ == "__main__":
    main()
