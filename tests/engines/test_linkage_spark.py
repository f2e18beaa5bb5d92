"""Splink's Spark backend links a few hundred records into the clusters DuckDB's does.

Both backends train and predict the same model on the same prepared records (the
warehouse is DuckDB: which engine holds the records is not the question here).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from omnichannel.identity.linkage import run_linkage
from omnichannel.identity.linkage_config import DEFAULT_CONFIG, LinkageConfig, parse_config
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.engine_spark import spark_session
from tests.engines.conftest import spark_config

pytestmark = [pytest.mark.spark, pytest.mark.slow(seconds=90)]

FIRST = ["wei", "fang", "jun", "li", "min", "hui", "lei", "yan", "tao", "xin", "ying", "bo"]
LAST = ["wang", "li", "zhang", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu", "sun"]
STREETS = ["huaihai road", "nanjing road", "changan avenue", "renmin road", "jiefang road"]


def _people(n: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    people = []
    for i in range(n):
        people.append(
            {
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "birth_date": date(1960, 1, 1) + timedelta(days=rng.randrange(15_000)),
                "postcode": f"{rng.randrange(100000, 999999)}",
                "address": f"no. {rng.randrange(1, 400)} {rng.choice(STREETS)}",
                "person": i,
            }
        )
    return people


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _records(n: int) -> pa.Table:
    """Each person's CRM record; most also have a POS record, some with a typo."""
    rng = random.Random(11)
    rows = []
    for p in _people(n):
        rows.append({**p, "source": "crm", "record_id": f"c{p['person']}"})
        if rng.random() < 0.8:
            copy = {**p, "source": "pos", "record_id": f"p{p['person']}"}
            if rng.random() < 0.3:
                copy["last_name"] = _typo(str(p["last_name"]), rng)
            if rng.random() < 0.3:
                copy["address"] = None
            rows.append(copy)
    for r in rows:
        del r["person"]
    return pa.Table.from_pylist(rows)


def _config(backend: str) -> LinkageConfig:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["backend"] = backend
    raw["training"]["u_max_pairs"] = 50_000  # a few hundred records: all their pairs
    return parse_config(raw, origin=f"test ({backend})")


def _clusters(links: pa.Table) -> set[frozenset[str]]:
    """The records joined by the links, as sets (connected components)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for row in links.to_pylist():
        a = f"{row['source_l']}:{row['record_id_l']}"
        b = f"{row['source_r']}:{row['record_id_r']}"
        parent[root(a)] = root(b)
    groups: dict[str, set[str]] = {}
    for x in parent:
        groups.setdefault(root(x), set()).add(x)
    return {frozenset(g) for g in groups.values()}


def test_splinks_spark_backend_finds_the_clusters_duckdbs_does(
    tmp_path: Path, spark_warehouse_dir: Path
) -> None:
    spark_session("local[2]", spark_config(spark_warehouse_dir))
    records = _records(160)
    assert 250 <= records.num_rows <= 320
    with Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        wh.append("customer_records", records)
        on_duckdb = run_linkage(warehouse=wh, config=_config("duckdb"), write=False)
        on_spark = run_linkage(warehouse=wh, config=_config("spark"), write=False)
    assert on_spark.backend == "spark"
    assert on_duckdb.links > 100  # most CRM records find their POS record
    assert _clusters(on_spark.links_table) == _clusters(on_duckdb.links_table)
