"""Fixtures shared by the ingestion tests: an empty DuckDB warehouse and a sample load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse

DATA = Path(__file__).parent / "data"


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    """An empty DuckDB warehouse for one test."""
    with Warehouse.open(f"duckdb:///{tmp_path / 'w.duckdb'}") as warehouse:
        yield warehouse


def load_shopify_sample(wh: Warehouse) -> object:
    """Load the sample Shopify orders export (it has deliberately bad rows) as shipped."""
    return ingest_file(
        wh,
        DATA / "shopify_orders.csv",
        kind="orders",
        source="shopify",
        mapping=load_mapping("shopify-orders"),
    )
