"""A fresh store created from the models is the store the revisions build, exactly.

``open_opstore`` creates an empty database from the models and stamps it at head instead
of walking every revision (opstore/migrate.py says why); this is what keeps that honest:
the same tables, columns, types, nullability, server defaults, keys, indexes, unique and
check constraints (and on PostgreSQL the enum types), on both databases of the matrix.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text

from omnichannel.opstore.database import create_opstore_engine
from omnichannel.opstore.migrate import current_revision, head_revision, upgrade_to_head
from tests.support.postgres import create_database


def _schema(connection: Connection) -> dict[str, Any]:
    """Everything about the schema a row's fate depends on, in a comparable form."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        columns = {
            column["name"]: (
                str(column["type"]),
                column["nullable"],
                None if column.get("default") is None else str(column["default"]),
            )
            for column in inspector.get_columns(table)
        }
        tables[table] = {
            "columns": columns,
            "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    str(sorted((fk.get("options") or {}).items())),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(unique["column_names"]) for unique in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                " ".join(str(check["sqltext"]).split())
                for check in inspector.get_check_constraints(table)
            ),
        }
    schema: dict[str, Any] = {"tables": tables}
    # Triggers (the kept stock sums, opstore/stock_available.py): their names and tables.
    if connection.dialect.name == "postgresql":
        triggers = connection.execute(
            text(
                "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
                " WHERE NOT tgisinternal ORDER BY 1"
            )
        ).all()
    else:
        triggers = connection.execute(
            text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1")
        ).all()
    schema["triggers"] = [tuple(row) for row in triggers]
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"
                " ORDER BY t.typname, e.enumsortorder"
            )
        ).all()
        enums: dict[str, list[str]] = {}
        for name, label in rows:
            enums.setdefault(name, []).append(label)
        schema["enums"] = enums
    return schema


def _built(url: str, *, from_models: bool) -> dict[str, Any]:
    engine = create_opstore_engine(url)
    try:
        with engine.begin() as connection:
            found, head = upgrade_to_head(connection, url=url, fresh_from_models=from_models)
            assert (found, head) == (None, head_revision())
        assert current_revision(url) == head_revision()
        with engine.connect() as connection:
            return _schema(connection)
    finally:
        engine.dispose()


def _pair_sqlite(tmp_path: Path) -> tuple[str, str]:
    return (f"sqlite:///{tmp_path / 'walked.sqlite'}", f"sqlite:///{tmp_path / 'fresh.sqlite'}")


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_fresh_store_from_the_models_equals_one_built_by_every_revision(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "sqlite":
        walked_url, fresh_url = _pair_sqlite(tmp_path)
    else:
        server: str = request.getfixturevalue("postgres_server_url")
        walked_url, fresh_url = (
            create_database(server, f"omni_{side}_{uuid.uuid4().hex[:8]}").replace(
                "postgresql://", "postgresql+psycopg://", 1
            )
            for side in ("walked", "fresh")
        )
    walked = _built(walked_url, from_models=False)
    fresh = _built(fresh_url, from_models=True)
    assert len(walked["tables"]) > 30
    for table in sorted(set(walked["tables"]) | set(fresh["tables"])):
        assert fresh["tables"].get(table) == walked["tables"].get(table), table
    assert fresh.get("enums") == walked.get("enums")
    assert fresh["triggers"] == walked["triggers"] and len(fresh["triggers"]) >= 3
