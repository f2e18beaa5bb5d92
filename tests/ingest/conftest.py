"""Fixtures shared by the ingestion tests: an empty warehouse on each engine, a sample load.

``wh`` runs a test on DuckDB and on PostgreSQL (the ``postgres`` marker; the leg is
skipped, saying why, where no PostgreSQL can start). Tests about the shape of HTTP
answers or of the DuckDB file itself open a DuckDB warehouse of their own instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse

DATA = Path(__file__).parent / "data"


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    """An empty warehouse for one test, on each engine of the matrix."""
    with Warehouse.open(warehouse_url) as warehouse:
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
