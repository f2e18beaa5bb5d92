"""Demo businesses generated once per test run, then copied into each test that needs one.

Every test that only needs a demo's data (identity, profiles, the Profile API...) asks
``demo_warehouse`` for one: the first caller of a given ``DemoConfig`` generates it
through ``run_demo`` (the real ingestion paths) into the run's shared cache, later callers
copy its DuckDB file and truth directory. ``tests/demo`` checks ``run_demo`` itself and
still calls it directly.

On another engine than DuckDB (the PostgreSQL legs) the cached tables are appended to the
test's empty warehouse: the code those tests check (resolution, profiles) runs on that
engine; loading through the ingestion paths on PostgreSQL is the tests/ingest matrix's job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.warehouse import ALL_TABLES, Warehouse
from tests.support.cache import built_once

DUCKDB_FILE = "omni.duckdb"
# The linkage tests' business: tests/identity/test_linkage.py and the `omni linkage` CLI test.
LINKAGE_DEMO = DemoConfig(people=1_500, days=14)


def cached_demo(factory: pytest.TempPathFactory, config: DemoConfig) -> Path:
    """The directory holding ``omni.duckdb`` and ``truth/`` for ``config``: read, never write."""

    def generate(directory: Path) -> None:
        with Warehouse.open(f"duckdb:///{directory / DUCKDB_FILE}") as wh:
            run_demo(warehouse=wh, truth_dir=directory / "truth", config=config)

    key = f"demo-seed{config.seed}-people{config.people}-days{config.days}-{config.start}"
    return built_once(factory, key, generate)[0]


def demo_warehouse(
    factory: pytest.TempPathFactory, config: DemoConfig, url: str, truth_dir: Path
) -> None:
    """Fill the empty warehouse at ``url`` with the demo business, its truth in ``truth_dir``.

    A DuckDB URL gets a copy of the cached file (open the warehouse after this returns);
    another engine gets the cached tables appended.
    """
    cached = cached_demo(factory, config)
    shutil.copytree(cached / "truth", truth_dir)
    if url.startswith("duckdb://"):
        target = Path(url.removeprefix("duckdb://"))  # duckdb:///abs/path -> /abs/path
        if target.exists():
            raise AssertionError(f"demo_warehouse wants an empty place, {target} exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached / DUCKDB_FILE, target)
        return
    with Warehouse.open(url) as wh:
        append_tables(cached, wh)


def fill_with_demo(
    factory: pytest.TempPathFactory, config: DemoConfig, wh: Warehouse, truth_dir: Path
) -> None:
    """Append the demo business to the open, empty warehouse ``wh``; its truth to ``truth_dir``."""
    cached = cached_demo(factory, config)
    shutil.copytree(cached / "truth", truth_dir)
    append_tables(cached, wh)


def append_tables(cached: Path, wh: Warehouse) -> None:
    """Every non-empty table of the cached demo, appended as it is (load_seq included)."""
    with duckdb.connect(str(cached / DUCKDB_FILE), read_only=True) as source:
        for spec in ALL_TABLES:
            rows = source.sql(f'SELECT * FROM "{spec.name}"').to_arrow_table()
            if rows.num_rows:
                wh.append(spec.name, rows)
