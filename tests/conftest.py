"""Shared fixtures: the backend matrix (DuckDB always, PostgreSQL when it can run here).

Also the run order (tests/support/run_order.py): modules holding ``slow`` tests first, the
longest estimate first, dealt over the workers, so under ``pytest -n 2 --dist worksteal``
(``make test``) the long ones start early on both workers and the two finish together
instead of one waiting on a long test started last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.opstore import OpStore, open_opstore
from tests.support.postgres import PostgresUnavailable, create_database, postgres_server
from tests.support.run_order import run_order, workers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first, spread over the workers; each module's tests stay in order."""
    items[:] = run_order(items, workers())


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One private redis-server for the session (AOF, fsync per write), or a skip saying
    why there is none; tests share it by using streams of their own."""
    from tests.support.redis_server import RedisUnavailable, redis_server

    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as server:
            yield server.url
    except RedisUnavailable as exc:
        pytest.skip(f"Redis bus tests skipped: {exc}")
