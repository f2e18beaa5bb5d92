"""Fixtures shared by the membership, refresh and real-time tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.opstore import OpStore, open_opstore
from omnichannel.warehouse.access import WarehouseAccess


@pytest.fixture
def access(warehouse_url: str) -> Iterator[WarehouseAccess]:
    """The warehouse of each engine of the matrix, opened with concurrent access."""
    opened = WarehouseAccess.open(warehouse_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def opstore(tmp_path: Path) -> Iterator[OpStore]:
    """An operational store (SQLite) for segment definitions and checkpoints."""
    opened = open_opstore(f"sqlite:///{tmp_path / 'opstore.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()
