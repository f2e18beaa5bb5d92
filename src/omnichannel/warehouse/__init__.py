"""The analytics store: canonical tables on Ibis (DuckDB default; PostgreSQL, Spark, ClickHouse)."""

from __future__ import annotations

from omnichannel.warehouse.store import Warehouse, open_warehouse
from omnichannel.warehouse.tables import ALL_TABLES, SCHEMA_VERSION

__all__ = ["ALL_TABLES", "SCHEMA_VERSION", "Warehouse", "open_warehouse"]
