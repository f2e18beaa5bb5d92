"""Run the operational store's Alembic migrations from code: no alembic.ini for users.

Opening a store upgrades it to the newest revision this version ships. A store stamped
with a revision this version does not know was written by a newer Omnichannel; it is
refused (``SchemaVersionError``) rather than guessed at, because an older version would
write rows the newer schema no longer expects.

Developers add a revision with::

    python -m omnichannel.opstore.migrations revision "add consent expiry"

which autogenerates it against a scratch SQLite store built from the existing revisions.

A brand-new, empty database is not walked through every revision: it is created from
the models at head and stamped, as Alembic's cookbook recommends ("building an up to date
database from scratch"). Walking eighteen revisions cost a fresh store about 0.3 s of
CPU (batch table copies on SQLite), paid by every new home and by hundreds of tests;
creating from the models costs a fraction of that. The two are kept equal by
``tests/opstore/test_fresh_schema.py``, which builds a store both ways on SQLite and
PostgreSQL and compares every table, column, type, default, key, index and constraint.
Revisions therefore must not seed rows an empty store needs (none does: the data they
touch is existing rows); a revision that ever must, writes them in ``_create_fresh`` too.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, make_url, pool, text

from omnichannel.errors import SchemaVersionError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Revisions are numbered (0001, 0002, ...) so their order is obvious in a listing; the
# "rev" prefix keeps the file names importable module names for mypy and ruff.
FILE_TEMPLATE = "rev%%(rev)s_%%(slug)s"
# Any fixed 64-bit number: serialises concurrent upgrades of one PostgreSQL database.
_PG_LOCK_KEY = 0x0A11_C4A7_0057_0E00


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` built in code, pointing at the migrations in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", FILE_TEMPLATE)
    if url is not None:
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    # Parsing every revision file is most of what reopening a store costs; the shipped
    # revisions do not change while a process runs (make_revision clears the cache).
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this version of Omnichannel knows."""
    head = _script().get_current_head()
    if head is None:  # only if the package was shipped without its versions/ directory
        raise SchemaVersionError(f"no operational-store migrations found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _script().walk_revisions()}


def redacted(url: str) -> str:
    """The URL as it may appear in a message: password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).exists()


def revision_of(connection: Connection) -> str | None:
    """The revision stamped in an open database, or None if it has never been migrated."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if not heads:
        return None
    if len(heads) > 1:
        raise SchemaVersionError(
            f"operational store has several Alembic revisions stamped {sorted(heads)}; "
            f"this version expects one, at most {head_revision()!r}"
        )
    return heads[0]


def current_revision(url: str) -> str | None:
    """The revision of the store at ``url``, without creating or changing anything.

    ``None`` means the store does not exist yet or was never migrated (``omni status``).
    """
    if _sqlite_file_missing(url):
        return None
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def check_revision(found: str | None, *, url: str) -> None:
    """Refuse a store stamped with a revision this version does not ship."""
    if found is None or found in known_revisions():
        return
    raise SchemaVersionError(
        f"operational store {redacted(url)} is at schema revision {found!r}, which this "
        f"version of Omnichannel does not know (the newest it knows is {head_revision()!r}). "
        "It was probably written by a newer Omnichannel: upgrade omnichannel, or point "
        "OMNI_OPSTORE_URL at another database."
    )


def upgrade_to_head(
    connection: Connection, *, url: str, fresh_from_models: bool = True
) -> tuple[str | None, str]:
    """Migrate the database behind ``connection`` to head; return (found, now) revisions.

    The caller owns the transaction: on PostgreSQL every migration and the version stamp
    commit together, or not at all. An empty database is created from the models and
    stamped (see the module docstring) unless ``fresh_from_models`` is false.
    """
    if connection.dialect.name == "postgresql":
        # Two processes opening a fresh database at once would both try CREATE TABLE.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    found = revision_of(connection)
    check_revision(found, url=url)
    head = head_revision()
    if found is None and fresh_from_models and not inspect(connection).get_table_names():
        _create_fresh(connection)
    elif found != head:
        command.upgrade(alembic_config(connection=connection), "head")
    return found, head


def _create_fresh(connection: Connection) -> None:
    """Every table at head from the models, then the head stamp, in the caller's
    transaction."""
    from omnichannel.opstore import stock_available
    from omnichannel.opstore.models import Base

    Base.metadata.create_all(connection)
    # What the models cannot say: the triggers revisions create (none stored yet to sum).
    stock_available.create(connection, backfill=False)
    MigrationContext.configure(connection).stamp(_script(), "head")


def make_revision(message: str, *, autogenerate: bool = True) -> Path:
    """Write a new revision file; with autogenerate, diff the models against head."""
    _script.cache_clear()
    head = head_revision() if known_revisions() else None
    next_id = f"{int(head) + 1:04d}" if head and head.isdigit() else "0001"
    with tempfile.TemporaryDirectory(prefix="omni-revision-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'opstore.sqlite'}"
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.begin() as connection:
                if head is not None:
                    upgrade_to_head(connection, url=url, fresh_from_models=False)
                config = alembic_config(connection=connection)
                _add_ruff_hooks(config)
                script = command.revision(
                    config, message=message, autogenerate=autogenerate, rev_id=next_id
                )
        finally:
            engine.dispose()
    _script.cache_clear()
    scripts = script if isinstance(script, list) else [script]
    if not scripts or scripts[0] is None:
        raise SchemaVersionError(f"alembic did not write a revision for {message!r}")
    return Path(scripts[0].path)


def _add_ruff_hooks(config: Config) -> None:
    """Have Alembic lint and format a new revision, so it passes CI as written."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        return
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    for name, options in (
        ("ruff_fix", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
        ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
    ):
        config.set_section_option("post_write_hooks", f"{name}.type", "exec")
        config.set_section_option("post_write_hooks", f"{name}.executable", ruff)
        config.set_section_option("post_write_hooks", f"{name}.options", options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m omnichannel.opstore.migrations",
        description="Developer tools for the operational store's migrations.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="write a new revision (autogenerated)")
    revision.add_argument("message", help="what the revision changes, e.g. 'add consent expiry'")
    revision.add_argument("--empty", action="store_true", help="do not autogenerate")
    sub.add_parser("heads", help="print the newest revision")
    args = parser.parse_args(argv)
    if args.command == "revision":
        path = make_revision(args.message, autogenerate=not args.empty)
        sys.stdout.write(f"wrote {path}\n")
        return
    sys.stdout.write(f"{head_revision()}\n")
