"""Recommendation API latency at 1,000,000 profiles, beside the same lookup without them.

Generates ``benchmarks/profile_lookup.py``'s warehouse (N profiles with an e-mail, a phone
and a user id, five events and two orders each), adds a catalogue of 2,000 products and
two product interactions per person (a view and, for one in three, an add to cart: about
1.3 N, weighted), builds profiles, starts ``omni serve`` in a second process and trains
an ALS version through it (``POST /api/models/recommendations/versions``). Then, from
this process over HTTP on 127.0.0.1 (keep-alive), over random e-mails, phones and user ids:

* baseline: ``GET /v1/profiles/{type}:{value}/traits``, the same identifier lookup without
  recommendations;
* ours: ``GET /v1/profiles/{type}:{value}/recommendations?slot=email`` (lookup, the person's
  row and live events, ALS scores of every product, rules, diversity, reasons).

Prints p50 and p99 of both, the ratio and the target (p99 < 50 ms). Run:
``python benchmarks/recs_api.py [--profiles 1000000 --lookups 2000 --warehouse W]``
(``--warehouse`` keeps the generated warehouse and reuses it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from profile_lookup import admin_headers, free_port, generate, keys, quantiles

TARGET_P99_MS = 50.0
PRODUCTS = 2000


def add_products(path: Path, n: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        f"""insert into products (product_id, sku, name, category, price, currency, attributes)
        select 'PRD-' || i, 'SKU' || i, 'Product ' || i, 'category ' || (i % 8),
               (20 + i % 300)::decimal(18,2), 'CNY', '{{}}'
        from range({PRODUCTS}) t(i)"""
    )
    # Person i prefers category i % 8: their products are drawn from it.
    con.execute(
        f"""insert into events (message_id, type, event, user_id, anonymous_id, timestamp,
                source, channel, properties, loaded_at)
        select 'rv' || j, 'track',
               case when k = 1 then 'Product Added' else 'Product Viewed' end,
               'u' || i, 'a' || i,
               timestamp '2025-01-01' + to_seconds(((i * 7919 + k * 86400) % 31536000)),
               'web', 'web',
               '{{"product_id":"PRD-' || (((i * 31 + k * 17) % 250) * 8 + i % 8) || '"}}',
               timestamp '2026-01-01' + to_microseconds(j)
        from (select j, j % {n} as i, j // {n} as k from range({2 * n}) t(j))
        where k = 0 or i % 3 = 0"""
    )
    con.close()


def prepare(path: Path, n: int) -> None:
    started = time.perf_counter()
    generate(path, n)
    add_products(path, n)
    print(
        f"generated {n:,} profiles and their interactions in {time.perf_counter() - started:.0f} s"
    )
    started = time.perf_counter()
    with Warehouse.open(f"duckdb:///{path}") as wh:
        build_profiles(wh, force=True)
    print(f"build_profiles: {time.perf_counter() - started:.0f} s")


def time_route(
    client: httpx.Client, lookups: list[tuple[str, str, int]], route: str
) -> list[float]:
    samples = []
    for kind, value, _ in lookups:
        started = time.perf_counter()
        response = client.get(f"/v1/profiles/{kind}:{value}/{route}")
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (route, response.status_code, response.text[:300])
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--warehouse", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.warehouse or Path(tmp) / "recs.duckdb"
        if not path.exists():
            prepare(path, args.profiles)
        home = Path(tmp) / "home"
        port = free_port()
        env = {**os.environ, "OMNI_HOME": str(home), "OMNI_WAREHOUSE_URL": f"duckdb:///{path}"}
        headers = admin_headers(home)
        server = subprocess.Popen(
            [sys.executable, "-m", "omnichannel", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=1800, headers=headers
            ) as client:
                deadline = time.monotonic() + 300
                while True:
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        assert server.poll() is None, "omni serve exited"
                        assert time.monotonic() < deadline, "omni serve did not start"
                        time.sleep(0.5)
                started = time.perf_counter()
                trained = client.post(
                    "/api/models/recommendations/versions", json={"algorithm": "als"}
                )
                assert trained.status_code == 201, trained.text[:500]
                print(f"trained ALS through the server in {time.perf_counter() - started:.0f} s")
                lookups = keys(args.profiles, args.lookups, seed=7)
                time_route(client, lookups[:20], "traits")  # warm: the identifier index
                time_route(client, lookups[:20], "recommendations")  # warm: the model
                base = quantiles(time_route(client, lookups, "traits"))
                ours = quantiles(time_route(client, lookups, "recommendations"))
        finally:
            server.terminate()
            server.wait(timeout=60)
    load = os.getloadavg()[0]
    print(f"{args.profiles:,} profiles, {args.lookups:,} lookups, load {load:.1f}")
    print(f"baseline /traits           p50 {base[0]:7.2f} ms  p99 {base[1]:7.2f} ms")
    print(f"ours /recommendations      p50 {ours[0]:7.2f} ms  p99 {ours[1]:7.2f} ms")
    print(f"ratio ours / baseline (p99): {ours[1] / base[1]:.2f}")
    verdict = "met" if ours[1] < TARGET_P99_MS else "NOT met"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
