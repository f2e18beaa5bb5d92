"""Probabilistic linkage on the public FEBRL benchmark, scored on its true matches.

Run: ``.venv/bin/python evaluations/linkage_febrl.py``

FEBRL dataset 4a and 4b (5,000 records each, every 4a person with exactly one 4b
duplicate) and dataset 3 (5,000 records, originals with 0-5 duplicates) are loaded
through the CRM file connector with the shipped ``febrl`` mapping into a temporary
DuckDB warehouse, as a user would load them. Then, scored pairwise against the true
pairs of the files (a record the connector refused would count as missed):

- **FEBRL4 link-only**: the shipped model with ``link_type: link_only`` on 4a + 4b;
- **FEBRL3 dedupe**: the shipped model on dataset 3 alone;
- **all three at once**: the shipped model unchanged (``omni linkage run``), scored on
  both populations, plus the pairs it makes between data sets or inside 4a / 4b (all
  false by construction).

Baselines: exact (first name, last name, birth date) after the same normalisation, and
Splink's own published FEBRL4 example ("detailed model", which also compares
``soc_sec_id`` and street number) run directly with Splink on the raw files.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from omnichannel.identity.linkage import prepare_records, run_linkage
from omnichannel.identity.linkage_config import DEFAULT_CONFIG, parse_config
from omnichannel.identity.linkage_eval import (
    Pair,
    Scores,
    exact_key_pairs,
    pair_of,
    score,
)
from omnichannel.identity.linkage_febrl import febrl_file, febrl_truth, load_febrl
from omnichannel.warehouse.store import Warehouse, open_warehouse

SOURCES = {"febrl4a": "dataset4a", "febrl4b": "dataset4b", "febrl3": "dataset3"}
THRESHOLDS = (0.5, 0.8, 0.9, 0.99)
SHIPPED_THRESHOLD = 0.8


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _config(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    doc.update(changes)
    return doc


def _cross_febrl4(p: Pair) -> bool:
    return {p[0][0], p[1][0]} == {"febrl4a", "febrl4b"}


def _inside_febrl3(p: Pair) -> bool:
    return p[0][0] == p[1][0] == "febrl3"


def _probabilities(links: Any) -> dict[Pair, float]:
    return {
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


def _omni(wh: Warehouse, doc: dict[str, Any]) -> tuple[dict[Pair, float], float, dict[str, int]]:
    started = time.perf_counter()
    result = run_linkage(
        warehouse=wh, config=parse_config(doc), threshold=min(THRESHOLDS), write=False
    )
    return _probabilities(result.links_table), time.perf_counter() - started, result.records


def _splink_febrl4_example() -> tuple[dict[Pair, float], float]:
    """Splink's docs example "Linking the febrl4 datasets", detailed model, as published."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.blocking_rule_library import CustomRule
    from splink.internals.blocking_rule_creator import BlockingRuleCreator

    def prepare(path: Path, source: str) -> pd.DataFrame:
        data = pd.read_csv(path, dtype=str, skipinitialspace=True)
        data = data.rename(columns=lambda x: x.strip())
        data["source_dataset"] = source
        return data

    frames = [prepare(febrl_file(d), s) for s, d in SOURCES.items() if s != "febrl3"]
    blocking: list[BlockingRuleCreator | dict[str, Any]] = [
        block_on("given_name", "surname"),
        CustomRule("l.given_name = r.surname and l.surname = r.given_name"),
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
    )
    started = time.perf_counter()
    db_api = DuckDBAPI()
    linker = Linker([db_api.register(f) for f in frames], settings, log_level="ERROR")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in ("date_of_birth", "postcode"):
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(rule), estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=min(THRESHOLDS))
    table = predictions.as_pyarrow_table()
    seconds = time.perf_counter() - started
    return {
        pair_of((sl, rl), (sr, rr)): p
        for sl, rl, sr, rr, p in zip(
            table.column("source_dataset_l").to_pylist(),
            table.column("rec_id_l").to_pylist(),
            table.column("source_dataset_r").to_pylist(),
            table.column("rec_id_r").to_pylist(),
            table.column("match_probability").to_pylist(),
            strict=True,
        )
    }, seconds


def _sweep(
    label: str, probabilities: dict[Pair, float], truth: set[Pair], keep: Callable[[Pair], bool]
) -> list[tuple[str, Scores]]:
    rows = []
    for t in THRESHOLDS:
        chosen = {p for p, prob in probabilities.items() if prob >= t and keep(p)}
        marker = " (omni default)" if t == SHIPPED_THRESHOLD else ""
        rows.append((f"{label}, p >= {t:g}{marker}", score(chosen, truth)))
    return rows


def _print(console: Console, title: str, rows: list[tuple[str, Scores]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("method", "precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(column)
    for label, s in rows:
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


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    console = Console(width=120)
    truth = febrl_truth(SOURCES)
    truth4 = truth.pairs_where(_cross_febrl4)
    truth3 = truth.pairs_where(_inside_febrl3)

    with (
        tempfile.TemporaryDirectory() as tmp,
        open_warehouse(f"duckdb:///{tmp}/febrl.duckdb") as wh,
    ):
        loaded = {
            s: load_febrl(wh, d, source=s, work_dir=Path(tmp)).as_dict() for s, d in SOURCES.items()
        }
        records = prepare_records(wh, parse_config(_config()))
        four, four_s, _ = _omni(
            wh, _config(link_type="link_only", sources={"febrl4a": "all", "febrl4b": "all"})
        )
        three, three_s, _ = _omni(wh, _config(sources={"febrl3": "all"}))
        every, every_s, counts = _omni(wh, _config())
    splink4, splink_s = _splink_febrl4_example()

    console.print(
        "Loaded through the CRM connector (febrl mapping): "
        + ", ".join(
            f"{s} {r['written'].get('customer_records', 0):,} records, "
            f"{r['rejected']:,} refused, {r.get('fields_nulled', 0):,} values set aside "
            f"(dead letters {r['written'].get('dead_letters', 0):,}: impossible birth dates)"
            for s, r in loaded.items()
        )
    )
    console.print(
        f"True pairs: FEBRL4 {len(truth4):,}, FEBRL3 {len(truth3):,}. Run times (train + "
        f"score, this machine): FEBRL4 link-only {four_s:.1f} s, FEBRL3 {three_s:.1f} s, "
        f"all three {every_s:.1f} s ({sum(counts.values()):,} records); Splink's FEBRL4 "
        f"example {splink_s:.1f} s."
    )
    naive = exact_key_pairs(records, ("first_name", "last_name", "birth_date"))
    _print(
        console,
        "FEBRL4 (4a x 4b), link-only",
        [
            ("exact first+last name+birth date", score(set(filter(_cross_febrl4, naive)), truth4)),
            *_sweep("Splink FEBRL4 example (direct)", splink4, truth4, _cross_febrl4),
            *_sweep("omni link_only", four, truth4, _cross_febrl4),
            *_sweep("omni, all three (link_and_dedupe)", every, truth4, _cross_febrl4),
        ],
    )
    _print(
        console,
        "FEBRL3, dedupe",
        [
            ("exact first+last name+birth date", score(set(filter(_inside_febrl3, naive)), truth3)),
            *_sweep("omni on dataset 3", three, truth3, _inside_febrl3),
            *_sweep("omni, all three (link_and_dedupe)", every, truth3, _inside_febrl3),
        ],
    )
    wrong = [
        p
        for p, prob in every.items()
        if prob >= SHIPPED_THRESHOLD and not (_cross_febrl4(p) or _inside_febrl3(p))
    ]
    console.print(
        f"All three at once, p >= {SHIPPED_THRESHOLD}: {len(wrong):,} pairs between data sets "
        "or inside 4a / 4b (each one false)."
    )


if __name__ == "__main__":
    main()
