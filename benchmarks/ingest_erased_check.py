"""What the erasure suppression check costs a file load: the same orders CSV loaded with
an empty suppression list (the baseline: nothing is hashed) and with one holding
``--erased`` people, side by side in this process, each into a fresh warehouse.

The file is ``ingest_file_orders.py``'s Shopify layout; the erased people are buyers of
the file, so their rows are dropped (and counted) as they would be after an erasure.

    .venv/bin/python benchmarks/ingest_erased_check.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest_file_orders import generate
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.opstore import open_opstore
from omnichannel.privacy.suppression import ErasedIdentifiers
from omnichannel.warehouse import Warehouse


def load(folder: Path, name: str, csv_path: Path, erased: ErasedIdentifiers) -> tuple[float, int]:
    mapping = load_mapping("shopify-orders")
    with Warehouse.open(f"duckdb:///{folder / (name + '.duckdb')}") as wh:
        start = time.perf_counter()
        report = ingest_file(
            wh, csv_path, kind="orders", source="shopify", mapping=mapping, erased=erased
        )
        return time.perf_counter() - start, report.erased


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--erased", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "orders_export.csv"
        generate(csv_path, args.rows)
        key = b"benchmark key, 32 bytes long...."
        empty = ErasedIdentifiers(open_opstore(f"sqlite:///{folder / 'empty.sqlite'}"), key)
        listed = ErasedIdentifiers(open_opstore(f"sqlite:///{folder / 'listed.sqlite'}"), key)
        listed.add(
            [("email", f"buyer{i}@example.com") for i in range(args.erased)], request_id=None
        )
        baseline, _ = load(folder, "baseline", csv_path, empty)
        ours, dropped = load(folder, "checked", csv_path, listed)
    print(f"file: {args.rows:,} rows (Shopify orders layout); {args.erased} people erased")
    rate = args.rows / baseline
    print(f"empty suppression list (baseline): {baseline:7.2f} s  {rate:10,.0f} rows/s")
    print(
        f"{args.erased} erased people checked:     {ours:7.2f} s  {args.rows / ours:10,.0f} rows/s"
        f"  ({dropped:,} rows dropped)"
    )
    print(f"ratio checked / baseline time: {ours / baseline:.2f} (1.00 = the check costs nothing)")


if __name__ == "__main__":
    main()
