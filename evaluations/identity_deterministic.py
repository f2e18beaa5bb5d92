"""Deterministic identity resolution on the demo retailer, scored on its ground truth.

Run: ``.venv/bin/python evaluations/identity_deterministic.py [--people 5000] [--days 60]``

Generates the demo into a temporary DuckDB, resolves identities twice, and scores the
record -> profile clustering against ``records.parquet`` (customer records, identify
calls and orders) with pairwise precision, recall and F1:

- **baseline**: plain connected components over every shared identifier, no rules;
- **rules**: the shipped rules (priorities, limits, blocked values).

It also counts the strangers each merged: profiles holding records of several people, and
the identifiers (by type) that joined records of different people (a family iPad, a store
kiosk tablet, a family phone), read from ``identity_merges``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.identity import load_rules, resolve
from omnichannel.identity.rules import IdentityRules
from omnichannel.warehouse.store import Warehouse, open_warehouse

SHARED_TYPES = ("device_id", "anonymous_id", "phone")
KEY = ["source", "record_id"]


@dataclass
class Scores:
    precision: float
    recall: float
    f1: float
    records: int
    profiles: int
    mixed_profiles: int
    stranger_pairs: int
    via_shared: dict[str, int]
    seconds: float


def _pairs(counts: pa.Array) -> int:
    n = pc.cast(counts, pa.int64())
    return int(pc.sum(pc.divide(pc.multiply(n, pc.subtract(n, 1)), 2)).as_py() or 0)


def score(wh: Warehouse, truth: pa.Table, seconds: float) -> Scores:
    rp = wh.table("record_profiles").select("source", "record_id", "profile_id").to_pyarrow()
    joined = truth.join(rp, ["source", "record_id"], join_type="inner")
    by_profile = joined.group_by("profile_id").aggregate([("record_id", "count")])
    by_person = joined.group_by("person_id").aggregate([("record_id", "count")])
    both = joined.group_by(["profile_id", "person_id"]).aggregate([("record_id", "count")])
    predicted = _pairs(by_profile.column("record_id_count"))
    actual = _pairs(by_person.column("record_id_count"))
    correct = _pairs(both.column("record_id_count"))
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    people = both.group_by("profile_id").aggregate([("person_id", "count")])
    mixed = people.filter(pc.greater(people.column("person_id_count"), 1))
    stranger_pairs = _pairs(mixed.column("person_id_count"))
    # Which identifiers joined records of different people, by type?
    m = wh.table("identity_merges").select("profile_id", "id_type", "id_value", *KEY)
    joins = m.to_pyarrow().join(truth, KEY, join_type="inner")
    spread = joins.group_by(["profile_id", "id_type", "id_value"]).aggregate(
        [("person_id", "count_distinct")]
    )
    wrong = spread.filter(pc.greater(spread.column("person_id_count_distinct"), 1))
    via = {
        id_type: int(pc.sum(pc.equal(wrong.column("id_type"), id_type)).as_py() or 0)
        for id_type in SHARED_TYPES
    }
    return Scores(
        precision,
        recall,
        f1,
        joined.num_rows,
        by_profile.num_rows,
        mixed.num_rows,
        stranger_pairs,
        via,
        seconds,
    )


def run(people: int, days: int, seed: int) -> dict[str, Scores]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with open_warehouse(f"duckdb:///{root / 'omni.duckdb'}") as wh:
            started = time.perf_counter()
            run_demo(
                warehouse=wh,
                truth_dir=root / "truth",
                config=DemoConfig(seed=seed, people=people, days=days),
            )
            Console().print(
                f"demo: {people:,} people, {days} days in {time.perf_counter() - started:.1f}s"
            )
            truth = pq.read_table(root / "truth" / "records.parquet").select(
                ["source", "record_id", "person_id"]
            )
            rules = load_rules()
            variants: dict[str, IdentityRules] = {
                "baseline (no rules)": rules.with_no_limits(),
                "rules (shipped defaults)": rules,
            }
            out: dict[str, Scores] = {}
            for name, variant in variants.items():
                started = time.perf_counter()
                resolve(wh, rules=variant, full=True)
                out[name] = score(wh, truth, time.perf_counter() - started)
            return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = run(args.people, args.days, args.seed)
    table = Table(title="Record -> profile clustering vs demo truth (pairwise)")
    for column in (
        "variant",
        "precision",
        "recall",
        "F1",
        "records",
        "profiles",
        "profiles mixing people",
        "stranger pairs",
        "ids joining strangers: device / anon id / phone",
        "seconds",
    ):
        table.add_column(column)
    for name, s in results.items():
        table.add_row(
            name,
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
            f"{s.f1:.4f}",
            f"{s.records:,}",
            f"{s.profiles:,}",
            f"{s.mixed_profiles:,}",
            f"{s.stranger_pairs:,}",
            " / ".join(f"{s.via_shared[t]:,}" for t in SHARED_TYPES),
            f"{s.seconds:.1f}",
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
