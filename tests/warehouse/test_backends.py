"""Choosing an engine by URL, and what a user is told when it cannot be used."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from omnichannel.errors import ConfigError
from omnichannel.warehouse.backends import connect, engine_of, redact


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("duckdb:///tmp/omni.duckdb", "duckdb"),
        ("postgres://u:p@db:5432/omni", "postgres"),
        ("postgresql://u@db/omni", "postgres"),
        ("clickhouse://default@ch:8123/omni", "clickhouse"),
        ("pyspark://local[2]", "pyspark"),
    ],
)
def test_engine_is_read_from_the_url(url: str, engine: str) -> None:
    assert engine_of(url) == engine


def test_unknown_engine_names_the_url_and_the_accepted_forms() -> None:
    with pytest.raises(ConfigError) as raised:
        engine_of("mysql://u@db/omni")
    message = str(raised.value)
    assert "warehouse_url='mysql://u@db/omni'" in message
    assert "duckdb:///" in message and "postgres://" in message


def test_password_is_hidden_in_messages() -> None:
    assert redact("postgres://omni:s3cret@db:5432/w") == "postgres://omni:***@db:5432/w"


def test_duckdb_file_is_created_with_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "omni.duckdb"
    con = connect(f"duckdb:///{path}")
    con.disconnect()
    assert path.exists()


@pytest.mark.skipif(
    importlib.util.find_spec("clickhouse_connect") is not None,
    reason="clickhouse extra installed; this checks the message when it is not",
)
def test_missing_clickhouse_extra_says_how_to_install_it() -> None:
    with pytest.raises(ConfigError) as raised:
        connect("clickhouse://default@127.0.0.1:1/omni")
    assert "pip install 'omnichannel[clickhouse]'" in str(raised.value)


def test_missing_spark_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # pyspark is in the dev extra, so its absence is made: None in sys.modules fails import.
    for module in ("pyspark", "pyspark.sql", "omnichannel.warehouse.engine_spark"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigError) as raised:
        connect("pyspark://local[1]")
    assert "pip install 'omnichannel[spark]'" in str(raised.value)


def test_a_spark_database_name_that_is_no_identifier_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError) as raised:
        connect("pyspark://local[1]?database=omni;drop")
    assert "database='omni;drop'" in str(raised.value)
    assert "letters, digits and underscores" in str(raised.value)
