"""The engine matrix of the shared engine suite: DuckDB, PostgreSQL and Spark.

Each module builds one warehouse per engine (module scope) and its tests share it: on
Spark a fresh warehouse costs some thirty ``CREATE TABLE`` jobs, so a warehouse per test
would cost minutes. The process starts Spark once (``local[2]``, two shuffle partitions,
no UI, no Hive; the first warehouse pays the JVM's start) and each warehouse is a Spark
database of its own. An engine's known gaps are declared in ``gaps.py``; a test that
meets one is an expected failure (strict: it fails the run once the gap is closed).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.postgres import create_database

ENGINES = [
    "duckdb",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("pyspark", marks=pytest.mark.spark),
]

# Small local Spark: tiny tables want few partitions, and a C1-only JIT and the serial
# collector start the JVM sooner on a busy two-core machine.
SPARK_CONFIG = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


@pytest.fixture(scope="session")
def spark_warehouse_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test process's Spark keeps its tables (one directory per process)."""
    if shutil.which("java") is None:
        pytest.skip("Spark leg skipped: no java (scripts/ensure-test-services.sh installs it)")
    return tmp_path_factory.mktemp("spark-warehouse")


def spark_config(warehouse_dir: Path) -> dict[str, str]:
    """Spark's settings for this process; whoever starts Spark first uses them all."""
    return {**SPARK_CONFIG, "spark.sql.warehouse.dir": str(warehouse_dir)}


def spark_url(warehouse_dir: Path, database: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in spark_config(warehouse_dir).items())
    return f"pyspark://local[2]?database={database}&{query}"


@pytest.fixture(scope="module", params=ENGINES)
def engine_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL of an empty warehouse on each engine, one per module and engine."""
    name = f"omni_{uuid.uuid4().hex[:12]}"
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path_factory.mktemp('duckdb') / 'omni.duckdb'}"
    if request.param == "postgres":
        server: str = request.getfixturevalue("postgres_server_url")
        return create_database(server, name).replace("postgresql://", "postgres://", 1)
    return spark_url(request.getfixturevalue("spark_warehouse_dir"), name)
