"""``omni linkage run`` on FEBRL 3 + 4 (15,000 records) against Splink run directly.

FEBRL dataset 4a, 4b and 3 are loaded through the CRM connector (``febrl`` mapping) into
a DuckDB warehouse in the home directory of a fresh installation (not timed). Then, in
one process, alternately:

- **omni**: ``run_linkage`` with the shipped model, which is what ``omni linkage run``
  calls: records normalised by Ibis in the warehouse, Splink on a private DuckDB,
  pairs sharing an identifier dropped, explanations built, ``record_links`` replaced;
- **Splink direct**: the same prepared records already in memory, the same Splink
  settings (comparisons, blocking), the same training calls (prior, u by random
  sampling, the EM passes) and ``predict`` at the same threshold, on DuckDB, results as
  Arrow: the floor any wrapper of Splink pays.

Each is run ``--repeat`` times; the best of each is compared. Then ``omni linkage run
--json`` itself runs once as a command (process start and imports included).
Run: ``python benchmarks/linkage_febrl.py [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.identity.linkage import prepare_records, run_linkage
from omnichannel.identity.linkage_config import (
    LinkageConfig,
    load_config,
    splink_rule,
    splink_settings,
)
from omnichannel.identity.linkage_febrl import load_febrl
from omnichannel.warehouse import open_warehouse

SOURCES = {"febrl4a": "dataset4a", "febrl4b": "dataset4b", "febrl3": "dataset3"}
TARGET = 2.0


def splink_direct(records: pa.Table, config: LinkageConfig) -> tuple[float, int]:
    """Splink alone on the prepared records: the same model, trained and run the same way."""
    from splink import DuckDBAPI, Linker

    started = time.perf_counter()
    api = DuckDBAPI(connection=duckdb.connect(":memory:"))
    linker = Linker(
        api.register(records, table_name="records"), splink_settings(config), log_level="ERROR"
    )
    training = config.training
    linker.training.estimate_probability_two_random_records_match(
        [splink_rule(r) for r in training.prior_rules], recall=training.prior_recall
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=training.u_max_pairs, seed=training.seed
    )
    for rule in training.em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(splink_rule(rule))
    pairs = linker.inference.predict(threshold_match_probability=config.threshold)
    found = pairs.as_pyarrow_table().num_rows
    return time.perf_counter() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    config = load_config()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        url = f"duckdb:///{home / 'omni.duckdb'}"
        with open_warehouse(url) as wh:
            for source, dataset in SOURCES.items():
                load_febrl(wh, dataset, source=source, work_dir=Path(tmp))
            records = prepare_records(wh, config)
            omni_s: list[float] = []
            direct_s: list[float] = []
            for _ in range(args.repeat):
                seconds, direct_pairs = splink_direct(records, config)
                direct_s.append(seconds)
                started = time.perf_counter()
                result = run_linkage(warehouse=wh, config=config)
                omni_s.append(time.perf_counter() - started)

        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
        started = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "omnichannel", "--home", str(home), "linkage", "run", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        cli_s = time.perf_counter() - started
        cli_links = json.loads(cli.stdout)["links"]

    best_omni, best_direct = min(omni_s), min(direct_s)
    ratio = best_omni / best_direct
    print(
        f"FEBRL 3 + 4 through the CRM connector: {records.num_rows:,} records "
        f"({', '.join(f'{s} {n:,}' for s, n in result.records.items())})"
    )
    print(f"{'':32} {'best s':>8}  runs")
    print(
        f"{'Splink direct (same model)':32} {best_direct:8.2f}  "
        + ", ".join(f"{s:.2f}" for s in direct_s)
        + f"  ({direct_pairs:,} pairs >= {config.threshold})"
    )
    print(
        f"{'omni run_linkage':32} {best_omni:8.2f}  "
        + ", ".join(f"{s:.2f}" for s in omni_s)
        + f"  ({result.above_threshold:,} pairs, {result.links:,} links written)"
    )
    print(f"{'omni linkage run --json (CLI)':32} {cli_s:8.2f}  ({cli_links:,} links)")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"ratio omni / Splink direct: {ratio:.2f}x ({verdict} the {TARGET:g}x target)")


if __name__ == "__main__":
    main()
