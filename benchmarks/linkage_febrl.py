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

Each is run ``--repeat`` times; the best of each is compared. Then, as whole processes
(start and imports included), the command ``omni linkage run --json`` against a Python
process that reads the prepared records from Parquet and runs the same Splink model
with nothing of Omnichannel imported.
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
    BlockRule,
    LinkageConfig,
    load_config,
    splink_rule,
    splink_settings,
)
from omnichannel.identity.linkage_febrl import load_febrl
from omnichannel.warehouse import open_warehouse

SOURCES = {"febrl4a": "dataset4a", "febrl4b": "dataset4b", "febrl3": "dataset3"}
TARGET = 2.0

# Splink alone in a fresh process: the settings and training rules arrive as JSON.
SPLINK_PROCESS = """
import json, sys
import duckdb, pyarrow.parquet as pq
from splink import DuckDBAPI, Linker
job = json.load(open(sys.argv[1]))
api = DuckDBAPI(connection=duckdb.connect(":memory:"))
records = pq.read_table(job["records"])
linker = Linker(api.register(records, table_name="records"), job["settings"], log_level="ERROR")
training = linker.training
training.estimate_probability_two_random_records_match(job["prior_rules"], recall=job["recall"])
training.estimate_u_using_random_sampling(max_pairs=job["u_max_pairs"], seed=job["seed"])
for rule in job["em_blocking"]:
    training.estimate_parameters_using_expectation_maximisation(rule)
pairs = linker.inference.predict(threshold_match_probability=job["threshold"])
print(pairs.as_pyarrow_table().num_rows)
"""


def splink_job(records: pa.Table, config: LinkageConfig, work_dir: Path) -> Path:
    """The Parquet records and a JSON job for ``SPLINK_PROCESS``: the same model as ``config``."""
    import pyarrow.parquet as pq

    def sql(rule: BlockRule) -> str:
        return str(splink_rule(rule).get_blocking_rule("duckdb").blocking_rule_sql)

    pq.write_table(records, work_dir / "records.parquet")
    job = {
        "records": str(work_dir / "records.parquet"),
        "settings": splink_settings(config).get_settings("duckdb").as_dict(),
        "prior_rules": [sql(r) for r in config.training.prior_rules],
        "recall": config.training.prior_recall,
        "u_max_pairs": config.training.u_max_pairs,
        "seed": config.training.seed,
        "em_blocking": [sql(r) for r in config.training.em_blocking],
        "threshold": config.threshold,
    }
    path = work_dir / "splink_job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    return path


def timed_process(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, done.stdout


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
        job = splink_job(records, config, Path(tmp))
        splink_process_s, splink_out = timed_process(
            [sys.executable, "-c", SPLINK_PROCESS, str(job)], env
        )
        cli_s, cli_out = timed_process(
            [sys.executable, "-m", "omnichannel", "--home", str(home), "linkage", "run", "--json"],
            env,
        )
        cli_links = json.loads(cli_out)["links"]

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
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"ratio omni / Splink direct: {ratio:.2f}x ({verdict} the {TARGET:g}x target)")
    print("As whole processes (start and imports included), once each:")
    print(
        f"{'Splink direct (python process)':32} {splink_process_s:8.2f}  "
        f"({int(splink_out.strip()):,} pairs)"
    )
    print(f"{'omni linkage run --json':32} {cli_s:8.2f}  ({cli_links:,} links)")
    process_ratio = cli_s / splink_process_s
    verdict = "meets" if process_ratio <= TARGET else "misses"
    print(
        f"ratio command / Splink process: {process_ratio:.2f}x ({verdict} the {TARGET:g}x target)"
    )


if __name__ == "__main__":
    main()
