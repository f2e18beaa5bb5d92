"""Profile API lookup latency with 1,000,000 profiles: p50/p99 over real HTTP vs DuckDB.

Generates a warehouse with DuckDB SQL: N profiles, each with one record, an e-mail, a
phone and a user id (3N identifiers) and a full ``profiles`` row (every trait column
filled, JSON traits included). Then:

1. baseline, in this process: the same lookup as one hand-written DuckDB point query
   (identifier -> profile row), on the plain tables;
2. ``omni serve`` in a second process; this process times
   ``GET /v1/profiles/{type}:{value}/traits`` with httpx on 127.0.0.1 (keep-alive), over
   random e-mails, phones and user ids, after one warm-up request that builds the index;
3. the baseline again, now that the lookup has created its index on profiles.profile_id.

    .venv/bin/python benchmarks/profile_lookup.py               # 1,000,000 profiles
    .venv/bin/python benchmarks/profile_lookup.py --profiles 100000 --lookups 2000
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

from omnichannel.warehouse import Warehouse

TARGET_P99_MS = 20.0


def generate(path: Path, n: int) -> None:
    Warehouse.open(f"duckdb:///{path}").close()  # canonical schema
    con = duckdb.connect(str(path))
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
    con.execute(
        f"""insert into profiles
        select {pid}, 3, '{{"email":1,"phone":1,"user_id":1}}',
            timestamp '2025-01-01', timestamp '2026-01-01', '["crm","web","app"]',
            '["web","app","wechat"]', '{{"email":"granted","sms":"denied"}}',
            i % 400, i % 9, (i % 5000)::decimal(18,2), i % 5, i % 4,
            (i % 3000)::decimal(18,2), (i % 2000)::decimal(18,2), (i % 500)::double,
            timestamp '2025-03-01', timestamp '2025-12-01', i % 365, (i % 90)::double,
            1 + i % 5, 1 + i % 5, 1 + i % 5, 'champions', 'wechat', 'store',
            '[' || repeat('0.006,', 167) || '0.006]', i % 24, i % 168, 'ios', 'iOS',
            'womenswear', '{{"womenswear":0.6,"shoes":0.3,"bags":0.1}}', 'article',
            '{{"article":0.7,"video":0.3}}', 'Winter Collection - email - Jan 26', 'CMP-0009',
            timestamp '2026-01-20', 'delivery', 0.8, 1.7, (i % 700)::double,
            '["vip","high value"]', now()::timestamp
        from range({n}) t(i)"""
    )
    con.close()


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def keys(n: int, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        i = rng.randrange(n)
        kind = rng.choice(("email", "phone", "user_id"))
        value = {"email": f"user{i}@mail.example.cn", "phone": f"+86138{i:08d}"}.get(kind, f"u{i}")
        out.append((kind, value))
    return out


def time_each(lookups: list[tuple[str, str]], call: Callable[[str, str], None]) -> list[float]:
    samples = []
    for kind, value in lookups:
        started = time.perf_counter()
        call(kind, value)
        samples.append(time.perf_counter() - started)
    return samples


def baseline(path: Path, lookups: list[tuple[str, str]]) -> tuple[float, float]:
    con = duckdb.connect(str(path), read_only=True)
    sql = """select p.* from profile_identifiers i join profiles p on p.profile_id = i.profile_id
             where i.id_type = ? and i.id_value = ?"""

    def call(kind: str, value: str) -> None:
        rows = con.execute(sql, [kind, value]).fetchall()
        assert len(rows) == 1, (kind, value)

    time_each(lookups[:20], call)
    result = quantiles(time_each(lookups, call))
    con.close()
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(path: Path, home: Path, lookups: list[tuple[str, str]]) -> tuple[float, float, float]:
    port = free_port()
    env = {**os.environ, "OMNI_HOME": str(home), "OMNI_WAREHOUSE_URL": f"duckdb:///{path}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            started = time.perf_counter()
            first = client.get(f"/v1/profiles/{lookups[0][0]}:{lookups[0][1]}/traits")
            first.raise_for_status()
            warm = time.perf_counter() - started

            def call(kind: str, value: str) -> None:
                response = client.get(f"/v1/profiles/{kind}:{value}/traits")
                assert response.status_code == 200, response.text
                assert response.json()["traits"]["rfm_segment"] == "champions"

            time_each(lookups[:50], call)
            p50, p99 = quantiles(time_each(lookups, call))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return p50, p99, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lookup.duckdb"
        started = time.perf_counter()
        generate(path, args.profiles)
        print(
            f"generated {args.profiles:,} profiles, {3 * args.profiles:,} identifiers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        lookups = keys(args.profiles, args.lookups, args.seed)
        base_p50, base_p99 = baseline(path, lookups)
        print(f"baseline, DuckDB point query:  p50 {base_p50:6.2f} ms  p99 {base_p99:6.2f} ms")
        p50, p99, warm = over_http(path, Path(tmp) / "home", lookups)
        print(f"first request (builds index):  {warm * 1000:.0f} ms")
        print(f"GET .../TYPE:VALUE/traits HTTP: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        idx_p50, idx_p99 = baseline(path, lookups)
        print(f"baseline, profiles indexed:    p50 {idx_p50:6.2f} ms  p99 {idx_p99:6.2f} ms")
        print(
            f"ratio API / baseline: p50 {p50 / base_p50:.2f}x  p99 {p99 / base_p99:.2f}x "
            f"(vs indexed baseline: p50 {p50 / idx_p50:.2f}x  p99 {p99 / idx_p99:.2f}x)"
        )
        verdict = "meets" if p99 < TARGET_P99_MS else "MISSES"
        print(f"p99 {p99:.2f} ms {verdict} the {TARGET_P99_MS:.0f} ms target")


if __name__ == "__main__":
    main()
