"""Identity resolution on the demo retailer, with and without Splink's links, scored on truth.

Run: ``.venv/bin/python evaluations/identity_deterministic.py [--people 5000] [--days 60]``

Generates the demo into a temporary DuckDB, resolves identities in four ways, and scores
the record -> profile clustering against ``records.parquet`` (customer records, identify
calls and orders) with pairwise precision, recall and F1:

- **baseline**: plain connected components over every shared identifier, no rules;
- **rules**: the shipped rules (priorities, limits, blocked values), no links;
- then the shipped linkage model runs (``record_links``, p >= 0.8), and
- **links last, every limit**: links ranked below every identifier and refused by any
  limit, the cards' and CRM ids' too (``linkage.exempt_limits: []``): the rules before;
- **links last, card and CRM limits exempt**: the same with the shipped ``exempt_limits``;
- **rules + links (shipped)**: links exempt from the ``crm_id`` and ``loyalty_card``
  limits, and ranked above phones, social handles, devices and cookies.

It also counts the strangers each merged: profiles holding records of several people, and
the identifiers (by type) that joined records of different people (a family iPad, a store
kiosk tablet, a family phone, a wrong link), read from ``identity_merges``; and, for the
variants with links, how many links joined or were refused (by the type whose limit
refused them), split by whether the two records are truly one person.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.identity import load_rules, resolve
from omnichannel.identity.linkage import run_linkage
from omnichannel.identity.observations import LINKAGE
from omnichannel.identity.rules import IdentityRules, TypeRule
from omnichannel.warehouse.store import Warehouse, open_warehouse

SHARED_TYPES = ("device_id", "anonymous_id", "phone", LINKAGE)
KEY = ["source", "record_id"]
LIMIT_TYPE = re.compile(r"\d+ (\w+) values")


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
    # (outcome, "true" | "false"): outcome is "joined" or "refused by <type>'s limit".
    links: Counter[tuple[str, str]] = field(default_factory=Counter)


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


def link_outcomes(wh: Warehouse, truth: pa.Table, threshold: float) -> Counter[tuple[str, str]]:
    """Each link at or above ``threshold``: joined or refused (by which type), true or false."""
    person = {(r["source"], r["record_id"]): r["person_id"] for r in truth.to_pylist()}
    refused = {
        r["id_value"]: r
        for r in wh.table("identity_refusals").to_pyarrow().to_pylist()
        if r["id_type"] == LINKAGE
    }
    links = wh.table("record_links")
    links = links.filter(links.match_probability >= threshold)
    out: Counter[tuple[str, str]] = Counter()
    for link in links.to_pyarrow().to_pylist():
        a, b = (link["source_l"], link["record_id_l"]), (link["source_r"], link["record_id_r"])
        refusal = refused.get(f"{a[0]}/{a[1]} ~ {b[0]}/{b[1]}")
        if refusal is None:
            outcome = "joined"
        else:
            found = LIMIT_TYPE.search(refusal["detail"])
            outcome = f"refused by {found.group(1) if found else refusal['rule']}"
        out[outcome, "true" if person.get(a) == person.get(b) else "false"] += 1
    return out


def links_last(rules: IdentityRules) -> IdentityRules:
    """``rules`` with links ranked below every listed identifier type (the rules before)."""
    last = max(r.priority for t, r in rules.types.items() if t != LINKAGE) + 1
    return replace(rules, types={**rules.types, LINKAGE: TypeRule(LINKAGE, last, None)})


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
            no_links = replace(rules, linkage_min_probability=None)
            before = replace(links_last(rules), linkage_exempt_limits=frozenset())
            out: dict[str, Scores] = {}
            for name, variant, linked in (
                ("baseline (no rules, no links)", no_links.with_no_limits(), False),
                ("rules, no links", no_links, False),
                ("rules + links last, every limit", before, True),
                ("rules + links last, card/CRM limits exempt", links_last(rules), True),
                ("rules + links (shipped)", rules, True),
            ):
                if linked and not wh.table("record_links").count().to_pyarrow().as_py():
                    started = time.perf_counter()
                    linkage = run_linkage(warehouse=wh)
                    Console().print(
                        f"linkage: {linkage.links:,} links >= {linkage.threshold} written "
                        f"({linkage.skipped_shared:,} more shared an identifier) "
                        f"in {time.perf_counter() - started:.1f}s"
                    )
                started = time.perf_counter()
                resolve(wh, rules=variant, full=True)
                out[name] = score(wh, truth, time.perf_counter() - started)
                if linked and variant.linkage_min_probability is not None:
                    out[name].links = link_outcomes(wh, truth, variant.linkage_min_probability)
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
        "ids joining strangers: device / anon id / phone / link",
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
    outcomes = sorted({o for s in results.values() for o, _ in s.links}, key=_outcome_order)
    links = Table(title="Splink links >= the threshold: true (same person) / false")
    links.add_column("variant")
    for outcome in outcomes:
        links.add_column(outcome)
    for name, s in results.items():
        if s.links:
            links.add_row(
                name, *(f"{s.links[o, 'true']:,} / {s.links[o, 'false']:,}" for o in outcomes)
            )
    Console(width=200).print(links)


def _outcome_order(outcome: str) -> tuple[bool, str]:
    return (outcome != "joined", outcome)


if __name__ == "__main__":
    main()
