"""Open the operational store: engine, migrations to head, and sessions.

Example::

    store = open_opstore("sqlite:///omni-home/opstore.sqlite")
    with store.session() as session:
        session.add(Source(name="web", kind="http"))
    # committed here; an exception inside the block rolls back instead
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, pool
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from omnichannel.errors import OmniError
from omnichannel.opstore.migrate import redacted, upgrade_to_head
from omnichannel.opstore.sealed import Sealer, attach


class OpStoreError(OmniError):
    """The operational store could not be opened."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the API read while the scheduler writes; busy_timeout makes a writer
        # wait for another instead of failing at once with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def create_opstore_engine(url: str) -> Engine:
    """An engine configured for the store: SQLite pragmas, pre-ping for servers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        options: dict[str, Any] = {}
        if database in ("", ":memory:"):
            # Every new connection to :memory: is a new, empty database; share one.
            options = {"poolclass": pool.StaticPool, "connect_args": {"check_same_thread": False}}
        elif not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: a long-running server outlives PostgreSQL restarts and idle timeouts.
    return create_engine(url, pool_pre_ping=True)


@dataclass
class OpStore:
    """An open operational store. ``session()`` is the way in; the engine is for tools."""

    url: str
    engine: Engine
    revision: str
    # The revision found before opening: None for a new store; differs from
    # ``revision`` when opening upgraded it.
    found_revision: str | None

    def __post_init__(self) -> None:
        # expire_on_commit=False: objects returned from a committed session stay readable
        # (API handlers serialise them after the block ends).
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def upgraded(self) -> bool:
        return self.found_revision is not None and self.found_revision != self.revision

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> OpStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_opstore(url: str, *, sealer: Sealer | None = None) -> OpStore:
    """Open (creating if needed) the store at ``url`` and migrate it to head.

    ``sealer`` gives the installation's keyring, called when a sealed column (the
    outbox's address and content, the inbox, the audit log: ``opstore/sealed.py``) is
    first written or read; without it those are written in clear.

    Raises ``SchemaVersionError`` if the store was written by a newer Omnichannel and
    ``OpStoreError`` if the database cannot be reached.
    """
    engine = create_opstore_engine(url)
    attach(engine, sealer)
    try:
        with engine.begin() as connection:
            found, head = upgrade_to_head(connection, url=url)
    except OperationalError as exc:
        engine.dispose()
        raise OpStoreError(
            f"cannot open operational store {redacted(url)}: {exc.orig or exc}"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return OpStore(url=url, engine=engine, revision=head, found_revision=found)
