"""Ad-hoc SQL: reads run, writes are refused with a clear reason, the total is never lost."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.query import run_sql

CITIES = ["Shanghai", "Hangzhou", "Suzhou", "Nanjing", "Ningbo"]


def _stores(wh: Warehouse) -> None:
    wh.append(
        "stores",
        pa.table({"store_id": [f"s{i}" for i in range(len(CITIES))], "city": CITIES}),
    )


def test_select_runs_and_writes_are_refused(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        _stores(wh)
        result = run_sql(wh, "SELECT city FROM stores ORDER BY city", limit=1)
        assert result.table.to_pylist() == [{"city": "Hangzhou"}]
        with pytest.raises(ValidationError) as raised:
            run_sql(wh, "DELETE FROM stores")
        assert "read-only SELECT" in str(raised.value)
        with pytest.raises(ValidationError):
            run_sql(wh, "SELECT 1; DROP TABLE stores")
        assert wh.counts()["stores"] == len(CITIES)


def test_a_limited_result_reports_the_total_it_cut(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        _stores(wh)
        cut = run_sql(wh, "SELECT city FROM stores ORDER BY city", limit=2)
        assert cut.table.num_rows == 2 and cut.total == len(CITIES) and cut.truncated
        whole = run_sql(wh, "SELECT city FROM stores;", limit=10)
        assert whole.table.num_rows == whole.total == len(CITIES) and not whole.truncated


def test_repeated_and_unaliased_columns_each_get_a_distinct_name(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        _stores(wh)
        both = run_sql(wh, "SELECT count(*), count(*) FROM stores")
        assert len(set(both.columns)) == 2
        assert list(both.table.to_pylist()[0].values()) == [len(CITIES), len(CITIES)]
        same = run_sql(wh, "SELECT city, city, upper(city) FROM stores WHERE store_id = 's0'")
        assert same.columns[:2] == ["city", "city_2"]
        assert list(same.table.to_pylist()[0].values()) == ["Shanghai", "Shanghai", "SHANGHAI"]


def test_an_unaliased_json_extract_runs_on_duckdb(tmp_path: Path) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path}/omni.duckdb") as wh:
        result = run_sql(wh, "SELECT json_extract('{\"a\": {\"b\": 2}}', '$.a.b')")
        assert list(result.table.to_pylist()[0].values()) == ["2"]


def test_a_syntax_error_is_plain_text_with_line_and_column(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, pytest.raises(ValidationError) as raised:
        run_sql(wh, "SELECT city FROM stores WHERE (")
    message = str(raised.value)
    assert "\x1b" not in message
    assert "line 1, column" in message and "SELECT statement" in message


def test_a_star_over_a_join_with_repeated_names_says_what_to_alias(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, pytest.raises(WarehouseError) as raised:
        _stores(wh)
        run_sql(wh, "SELECT * FROM stores a, stores b")
    message = str(raised.value)
    assert "several columns named 'store_id'" in message and "alias" in message
