"""Which Spark settings get the embedded metastore (no JVM is started here).

``tests/engines/test_serve.py`` shows what it is for: ``omni init`` and then ``omni
serve``, two processes, on one Spark warehouse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.warehouse.backends import single_process_reason
from omnichannel.warehouse.spark_catalog import with_local_metastore


def test_local_tables_get_a_derby_metastore_beside_them(tmp_path: Path) -> None:
    tables = tmp_path / "spark-warehouse"
    given = {
        "spark.sql.warehouse.dir": str(tables),
        "spark.driver.extraJavaOptions": "-XX:+UseSerialGC",
    }
    settings = with_local_metastore(given)
    assert settings["spark.sql.catalogImplementation"] == "hive"
    assert settings["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={tables / '_omni_metastore'};create=true"
    )
    assert settings["spark.driver.extraJavaOptions"] == (
        f"-XX:+UseSerialGC -Dderby.system.home={tables}"
    )


def test_a_relative_warehouse_dir_is_made_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = with_local_metastore({})
    assert settings["spark.sql.warehouse.dir"] == str(tmp_path / "spark-warehouse")


def test_a_named_catalog_or_remote_tables_are_left_as_they_are() -> None:
    named = {"spark.sql.catalogImplementation": "in-memory"}
    assert with_local_metastore(named) == named
    remote = {"spark.sql.warehouse.dir": "s3a://bucket/warehouse"}
    assert with_local_metastore(remote) == remote


def test_only_warehouses_that_admit_one_process_are_said_to() -> None:
    local = "pyspark://local[2]?spark.sql.warehouse.dir=/srv/tables"
    assert "embedded Derby" in str(single_process_reason(local))
    assert "DuckDB" in str(single_process_reason("duckdb:///srv/omni.duckdb"))
    shared = (
        "pyspark://local[2]?spark.sql.catalogImplementation=hive"
        "&spark.hadoop.hive.metastore.uris=thrift://meta:9083"
    )
    for many in (
        shared,
        "pyspark://local[2]?spark.sql.warehouse.dir=s3a://bucket/tables",
        "pyspark://spark://master:7077?spark.sql.catalogImplementation=hive",
        "postgres://omni@db/omni",
    ):
        assert single_process_reason(many) is None, many
