"""Probabilistic linkage on the demo retailer, scored on its ground truth.

Run: ``.venv/bin/python evaluations/linkage_demo.py [--people 5000] [--days 60] [--seed 7]``

Generates the demo into a temporary DuckDB, trains and runs the shipped linkage model,
and scores pairwise precision, recall and F1 on two populations of record pairs that
share no identifier (the only pairs ``record_links`` is for):

- **linkage records**: pairs involving one of the demo's linkage records (a second CRM
  contact or loyalty card with none of the person's identifiers, only typo'd details);
- **all no-shared-identifier pairs**: every same-person pair of named customer records
  that shares no identifier directly (it adds e.g. a loyalty card carrying a family
  phone next to the member's CRM contact).

Beside Splink at several thresholds it prints the deterministic result (connected
components over shared identifiers, which cannot reach a record with no identifier in
common: recall 0 on the first population by construction) and a naive exact match on
(first_name, last_name, birth_date) after the same normalisation.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.identity.linkage import prepare_records, run_linkage
from omnichannel.identity.linkage_config import load_config
from omnichannel.identity.linkage_eval import (
    IdentifierIndex,
    Pair,
    Scores,
    TruthPairs,
    component_pairs,
    exact_key_pairs,
    pair_of,
    score,
)
from omnichannel.warehouse.store import open_warehouse

THRESHOLDS = (0.2, 0.5, 0.65, 0.8, 0.9, 0.95, 0.99)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    config = load_config()

    with tempfile.TemporaryDirectory() as tmp, open_warehouse(f"duckdb:///{tmp}/demo.duckdb") as wh:
        demo = DemoConfig(seed=args.seed, people=args.people, days=args.days)
        run_demo(warehouse=wh, truth_dir=Path(tmp) / "truth", config=demo)
        truth_table = pq.read_table(Path(tmp) / "truth" / "records.parquet")
        records = prepare_records(wh, config)
        identifiers = wh.table("identifiers").to_pyarrow()

        started = time.perf_counter()
        result = run_linkage(warehouse=wh, config=config, threshold=min(THRESHOLDS), write=False)
        seconds = time.perf_counter() - started

    named = set(
        zip(
            records.column("source").to_pylist(),
            records.column("record_id").to_pylist(),
            strict=True,
        )
    )
    linkage_records = {
        (s, r)
        for s, r, flag in zip(
            truth_table.column("source").to_pylist(),
            truth_table.column("record_id").to_pylist(),
            truth_table.column("is_linkage_record").to_pylist(),
            strict=True,
        )
        if flag
    }
    truth = TruthPairs.from_table(truth_table, keep=lambda key: key in named)
    index = IdentifierIndex(identifiers)

    def involves_linkage(p: Pair) -> bool:
        return p[0] in linkage_records or p[1] in linkage_records

    def unshared(p: Pair) -> bool:
        return not index.share(p)

    populations = {
        "linkage records": lambda p: unshared(p) and involves_linkage(p),
        "all no-shared-identifier pairs": unshared,
    }
    truths = {name: truth.pairs_where(cond) for name, cond in populations.items()}

    links = result.links_table
    probability = {
        pair_of((sl, rl), (sr, rr)): p
        for sl, rl, sr, rr, p in zip(
            links.column("source_l").to_pylist(),
            links.column("record_id_l").to_pylist(),
            links.column("source_r").to_pylist(),
            links.column("record_id_r").to_pylist(),
            links.column("match_probability").to_pylist(),
            strict=True,
        )
    }
    deterministic = component_pairs(index.components(named))
    naive = exact_key_pairs(records, ("first_name", "last_name", "birth_date"))

    rows: list[tuple[str, dict[str, Scores]]] = [
        ("deterministic (shared identifiers)", _scores(deterministic, populations, truths)),
        ("exact first+last name+birth date", _scores(naive, populations, truths)),
    ]
    for t in THRESHOLDS:
        chosen = {pair for pair, p in probability.items() if p >= t}
        marker = " (default)" if t == config.threshold else ""
        rows.append((f"splink, p >= {t:g}{marker}", _scores(chosen, populations, truths)))

    console.print(
        f"Demo: {args.people:,} people, {args.days} days, seed {args.seed}; "
        f"{len(named):,} named customer records ({len(linkage_records):,} linkage records); "
        f"true pairs: " + ", ".join(f"{name} {len(pairs):,}" for name, pairs in truths.items())
    )
    console.print(
        f"Splink ({result.backend}): trained and scored in {seconds:.1f} s; prior "
        f"{result.prior:.2e}; {result.above_threshold:,} pairs >= {min(THRESHOLDS)}, "
        f"{result.skipped_shared:,} of them sharing an identifier (left to the graph)."
    )
    for name in populations:
        table = Table(title=f"Pairwise scores: {name}", title_justify="left")
        for column in ("method", "precision", "recall", "F1", "TP", "FP", "FN"):
            table.add_column(column)
        for label, by_population in rows:
            s = by_population[name]
            table.add_row(
                label,
                _fmt(s.precision),
                _fmt(s.recall),
                _fmt(s.f1),
                f"{s.true_positives:,}",
                f"{s.false_positives:,}",
                f"{s.false_negatives:,}",
            )
        console.print(table)


def _scores(
    predicted: set[Pair], populations: dict[str, object], truths: dict[str, set[Pair]]
) -> dict[str, Scores]:
    out = {}
    for name, condition in populations.items():
        assert callable(condition)
        out[name] = score({p for p in predicted if condition(p)}, truths[name])
    return out


if __name__ == "__main__":
    main()
