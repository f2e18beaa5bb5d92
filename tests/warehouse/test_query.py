"""Ad-hoc SQL: reads run, writes are refused with a clear reason."""

from __future__ import annotations

import pyarrow as pa
import pytest

from omnichannel.errors import ValidationError
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.query import run_sql


def test_select_runs_and_writes_are_refused(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.append("stores", pa.table({"store_id": ["s1", "s2"], "city": ["Shanghai", "Hangzhou"]}))
        result = run_sql(wh, "SELECT city FROM stores ORDER BY city", limit=1)
        assert result.to_pylist() == [{"city": "Hangzhou"}]
        with pytest.raises(ValidationError) as raised:
            run_sql(wh, "DELETE FROM stores")
        assert "read-only SELECT" in str(raised.value)
        with pytest.raises(ValidationError):
            run_sql(wh, "SELECT 1; DROP TABLE stores")
        assert wh.counts()["stores"] == 2
