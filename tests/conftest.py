"""Shared fixtures: the backend matrix (DuckDB always, PostgreSQL when it can run here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.opstore import OpStore, open_opstore
from tests.support.postgres import PostgresUnavailable, create_database, postgres_server


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One private PostgreSQL cluster for the session, or a skip saying why there is none."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL leg skipped: {exc}")


@pytest.fixture
def postgres_database(postgres_server_url: str) -> str:
    """A fresh, empty database on the session's server (postgresql://... URL)."""
    return create_database(postgres_server_url, f"omni_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty warehouse on each engine of the matrix."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'omni.duckdb'}"
    url: str = request.getfixturevalue("postgres_database")
    return url.replace("postgresql://", "postgres://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opstore_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL of an empty operational store on each database of the matrix."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opstore.sqlite'}"
    url: str = request.getfixturevalue("postgres_database")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def store(opstore_url: str) -> Iterator[OpStore]:
    """A freshly created and migrated operational store on each database, closed after."""
    opened = open_opstore(opstore_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def omni_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty installation home, set as OMNI_HOME for code that reads settings."""
    home = tmp_path / "home"
    monkeypatch.setenv("OMNI_HOME", str(home))
    for name in ("OMNI_WAREHOUSE_URL", "OMNI_OPSTORE_URL"):
        monkeypatch.delenv(name, raising=False)
    return home
