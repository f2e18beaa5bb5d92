"""Fixtures shared by the ingestion tests: an empty warehouse on each engine, a sample load.

``wh`` (and ``warehouse_url`` from tests/conftest.py) runs a test on DuckDB and on
PostgreSQL (the ``postgres`` marker; the leg is skipped, saying why, where no PostgreSQL
can start): the loader's dedupe and numbering, file connectors, updates and upserts, the
events file, replay and quality. A PostgreSQL gap is declared where it shows, as a strict
xfail naming the error (NUL in text: test_loader.py, test_events_file.py).

DuckDB only, on purpose: the server and CLI tests (test_collector_server.py,
test_dlq_cli.py, the printed report in test_quality.py) run ``omni`` on a home, whose
warehouse is the embedded DuckDB file; the HTTP-shape tests (test_collector*.py) answer
before anything is stored; the fuzz tests (test_collector_fuzz.py) search inputs, and
one engine keeps their time small (the events-file rules are the same scratch DuckDB
query on every engine).
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
