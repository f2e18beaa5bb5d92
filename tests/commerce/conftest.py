"""A small commerce installation, built once per test run (copied per test): five
products, five locations around Shanghai (two stores open at the test's clock, one
closed, a warehouse, a truck in transit) and the test's clock, 11:00 in Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.commerce.inventory import Movement
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
SKUS = ("LP-A", "LP-B", "LP-C", "LP-D", "LP-E")
# Nanjing Road's customer: Xujiahui is 5 km away, Kunshan's warehouse 50 km.
CUSTOMER = (31.236, 121.474)
LOCATIONS = {
    "st-nanjing": dict(
        kind="store",
        name="Nanjing Road",
        latitude=31.235,
        longitude=121.475,
        opens="10:00",
        closes="22:00",
        timezone="Asia/Shanghai",
        capacity_per_day=3,
        ship_cost=6.0,
        pickup=True,
    ),
    "st-xujiahui": dict(
        kind="store",
        name="Xujiahui",
        latitude=31.195,
        longitude=121.437,
        opens="10:00",
        closes="22:00",
        timezone="Asia/Shanghai",
        ship_cost=6.0,
        pickup=True,
    ),
    "st-pudong": dict(
        kind="store",
        name="Pudong night market",
        latitude=31.230,
        longitude=121.480,
        opens="18:00",
        closes="23:30",
        timezone="Asia/Shanghai",
        ship_cost=6.0,
        pickup=True,
    ),
    "wh-kunshan": dict(
        kind="warehouse", name="Kunshan DC", latitude=31.385, longitude=120.98, ship_cost=8.0
    ),
    "tr-truck": dict(kind="transit", name="Truck 7"),
}
STOCK = [
    ("st-nanjing", "LP-A", 5),
    ("st-nanjing", "LP-B", 2),
    ("st-xujiahui", "LP-A", 5),
    ("st-xujiahui", "LP-B", 1),
    ("st-pudong", "LP-A", 9),
    ("st-pudong", "LP-C", 4),
    ("wh-kunshan", "LP-A", 50),
    ("wh-kunshan", "LP-D", 20),
    ("tr-truck", "LP-C", 30),
]


def make_home(home: Path) -> None:
    settings = Settings(home=home)
    initialise(settings)
    with Platform(settings) as platform:
        with platform.warehouse.writer() as wh:
            wh.append(
                "products",
                pa.table(
                    {
                        "product_id": [f"p-{s}" for s in SKUS],
                        "sku": list(SKUS),
                        "name": [f"Product {s[-1]}" for s in SKUS],
                        "category": ["tea"] * len(SKUS),
                        "price": [88.0] * len(SKUS),
                        "currency": ["CNY"] * len(SKUS),
                    }
                ),
            )
        stock = platform.commerce.inventory
        for location_id, values in LOCATIONS.items():
            stock.put_location(location_id, **values)
        stock.stock.apply(
            [
                Movement(
                    f"seed:{lid}:{sku}", lid, sku, "receipt", n, occurred_at=NOW, source="seed"
                )
                for lid, sku, n in STOCK
            ]
        )


@pytest.fixture(scope="session")
def commerce_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("commerce") / "home"
    make_home(home)
    return home


@pytest.fixture
def platform(commerce_home: Path, tmp_path: Path) -> Iterator[Platform]:
    """A private copy of the module's home, opened, on the test's clock."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(commerce_home, home, ignore=shutil.ignore_patterns("server.json", "*.wal"))
    with Platform(Settings(home=home)) as opened:
        opened.commerce.clock = lambda: NOW
        yield opened


def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new operational store's URL for the fixture's param: a SQLite file, or a new
    database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('stock') / 'opstore.sqlite'}"
    import uuid

    from tests.support.postgres import create_database

    server: str = request.getfixturevalue("postgres_server_url")
    return create_database(server, f"omni_{uuid.uuid4().hex[:12]}").replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
