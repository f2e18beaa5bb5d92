"""Available-to-promise of a whole catalogue: N SKUs x M locations, every channel.

Ours: ``platform.commerce.inventory.available_to_promise()`` (the per-SKU and kind sums
the operational store's triggers keep in ``stock_available``, one read of the listings,
each channel's figure assembled per SKU). The levels are written through those triggers,
so the fill pays their cost. The baseline, in the same process on
the same database: the same figures by hand, one SQL statement through the DB-API
(``SUM(CASE WHEN on_hand - reserved - safety_stock > 0 ...)`` grouped by SKU for online
channels (warehouses and stores) and for stores), fetched whole. Printed: both times
(best of ``--repeat``), their ratio, and whether the two agree on every SKU.

Stock is written with bare INSERTs (the ledger is not the subject here); every SKU sits
in every location unless ``--fill`` is below 1 (then that share of pairs, at random).

Target (issue #16): 100,000 SKUs x 200 locations in under 1 s.

    .venv/bin/python benchmarks/inventory_atp.py                         # 100,000 x 200
    .venv/bin/python benchmarks/inventory_atp.py --skus 10000 --locations 200
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASELINE = """
SELECT l.sku,
       SUM(CASE WHEN p.kind IN ('warehouse', 'store')
                 AND l.on_hand - l.reserved - l.safety_stock > 0
                THEN l.on_hand - l.reserved - l.safety_stock ELSE 0 END),
       SUM(CASE WHEN p.kind = 'store'
                 AND l.on_hand - l.reserved - l.safety_stock > 0
                THEN l.on_hand - l.reserved - l.safety_stock ELSE 0 END)
FROM stock_levels l JOIN stock_locations p ON p.location_id = l.location_id
GROUP BY l.sku
"""


def fill(platform: object, skus: int, locations: int, share: float, seed: int) -> int:
    """Locations (a fifth warehouses, the rest stores) and levels, written in bulk."""
    from omnichannel.platform import Platform

    assert isinstance(platform, Platform)
    stock = platform.commerce.inventory
    for n in range(locations):
        kind = "warehouse" if n % 5 == 0 else "store"
        stock.put_location(f"L{n:03d}", kind=kind, name=f"location {n}")
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    raw = platform.opstore.engine.raw_connection()
    rows = 0
    try:
        cursor = raw.cursor()
        for n in range(locations):
            batch = []
            for s in range(skus):
                if share < 1 and rng.random() >= share:
                    continue
                on_hand = rng.randrange(0, 40)
                reserved = rng.randrange(0, on_hand + 1) // 4
                batch.append(
                    (f"L{n:03d}", f"S{s:06d}", on_hand, reserved, rng.randrange(0, 3), now)
                )
            cursor.executemany(
                "INSERT INTO stock_levels (location_id, sku, on_hand, reserved, safety_stock,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                if platform.opstore.engine.dialect.name == "sqlite"
                else "INSERT INTO stock_levels (location_id, sku, on_hand, reserved,"
                " safety_stock, updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                batch,
            )
            rows += len(batch)
        raw.commit()
    finally:
        raw.close()
    return rows


def best(repeat: int, work: object) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times), out


def main() -> None:
    from omnichannel.config import Settings
    from omnichannel.installation import initialise
    from omnichannel.platform import Platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--fill", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omni-atp-") as scratch:
        settings = Settings(home=Path(scratch) / "home")
        initialise(settings)
        with Platform(settings) as platform:
            began = time.perf_counter()
            rows = fill(platform, args.skus, args.locations, args.fill, args.seed)
            filled = time.perf_counter() - began
            raw = platform.opstore.engine.raw_connection()

            def baseline() -> dict[str, tuple[int, int]]:
                cursor = raw.cursor()
                cursor.execute(BASELINE)
                return {sku: (int(online), int(store)) for sku, online, store in cursor.fetchall()}

            def ours() -> list[dict[str, object]]:
                return platform.commerce.inventory.available_to_promise()

            load = os.getloadavg()
            base_s, base = best(args.repeat, baseline)
            our_s, mine = best(args.repeat, ours)
            raw.close()
            load_after = os.getloadavg()
        assert isinstance(base, dict) and isinstance(mine, list)
        agree = len(mine) == len(base) and all(
            (row["web"], row["store"]) == base[str(row["sku"])] for row in mine
        )
    print(
        f"load average {load[0]:.2f} (after {load_after[0]:.2f}), {os.cpu_count()} CPUs; "
        f"{rows:,} levels ({args.skus:,} SKUs x {args.locations} locations, fill "
        f"{args.fill}) written in {filled:.1f} s"
    )
    print(
        f"sqlite     ATP of {len(mine):,} SKUs on 6 channels: {our_s:.3f} s "
        f"(hand-written SQL {base_s:.3f} s, ratio {our_s / base_s:.2f}x); "
        f"{'agree on every SKU' if agree else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()
