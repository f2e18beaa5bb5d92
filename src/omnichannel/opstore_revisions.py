"""The operational store's revisions, read from the migration files and the store itself
without importing SQLAlchemy or Alembic (about a second of imports that ``omni status``
would otherwise pay for two strings).

It lives beside the ``opstore`` package, not in it, because importing anything inside
``omnichannel.opstore`` runs its ``__init__``, which imports SQLAlchemy.
``omnichannel.opstore.migrate`` stays the authority: tests check that these answers equal
``migrate.head_revision()`` and ``migrate.current_revision()``.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

VERSIONS_DIR = Path(__file__).resolve().parent / "opstore" / "migrations" / "versions"


def _assigned_strings(path: Path) -> dict[str, str | None]:
    """Module-level ``revision`` and ``down_revision`` of one migration file, unexecuted."""
    found: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and target.id in ("revision", "down_revision")
            and isinstance(value, ast.Constant)
            and (value.value is None or isinstance(value.value, str))
        ):
            found[target.id] = value.value
    return found


def head_revision_from_files(versions_dir: Path = VERSIONS_DIR) -> str | None:
    """The one revision no other revision builds on; None when it is not exactly one
    (no files, a branch, or a ``down_revision`` that is not a plain string), so the
    caller falls back to Alembic, which explains such cases."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions_dir.glob("*.py")):
        if path.name == "__init__.py":
            continue
        assigned = _assigned_strings(path)
        revision = assigned.get("revision")
        if revision is None or "down_revision" not in assigned:
            return None
        revisions.add(revision)
        parent = assigned["down_revision"]
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL; None for anything else (in-memory,
    ``file:`` URIs, query options, other engines), which the caller leaves to SQLAlchemy."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    database = url[len(prefix) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot create, upgrade or write the store."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def stamped_revisions(connection: sqlite3.Connection) -> list[str]:
    """The revisions stamped in ``alembic_version``; empty when never migrated."""
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if has_table is None:
        return []
    return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
