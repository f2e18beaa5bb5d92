"""``omni backup`` and ``omni restore`` of installations whose stores are on PostgreSQL
(``pg_dump``/``pg_restore``, real ones against the suite's real server): a backup taken
while ``omni serve`` collects restores every acknowledged event once into fresh
databases, the mixed installations (one store on PostgreSQL, the other embedded) round
trip with the manifest's counts, and the refusals are one line that names what to do."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from omnichannel.backup_postgres import PostgresStore
from omnichannel.ingest.sources import create_source
from omnichannel.opstore import open_opstore
from tests.cli.run import omni_in_process
from tests.support.backup import backup_while_collecting
from tests.support.postgres import create_database

pytestmark = pytest.mark.postgres


def _database(server_url: str) -> str:
    return create_database(server_url, f"omni_{uuid.uuid4().hex[:12]}")


def _env(*, opstore: str | None = None, warehouse: str | None = None) -> dict[str, str]:
    """The settings naming a PostgreSQL store (``postgresql://`` from the fixture)."""
    env = {}
    if opstore:
        env["OMNI_OPSTORE_URL"] = opstore.replace("postgresql://", "postgresql+psycopg://", 1)
    if warehouse:
        env["OMNI_WAREHOUSE_URL"] = warehouse.replace("postgresql://", "postgres://", 1)
    return env


def _write_key(env: dict[str, str], home: Path) -> str:
    url = env.get("OMNI_OPSTORE_URL", f"sqlite:///{home / 'opstore.sqlite'}")
    with open_opstore(url) as store, store.session() as session:
        key = create_source(session, name="web", kind="http", actor="test").write_key
    assert key is not None
    return key


def _message_ids(database: str) -> list[str]:
    with psycopg.connect(database) as con:
        return [r[0] for r in con.execute("SELECT message_id FROM events").fetchall()]


def _failure(*args: str, home: Path, env: dict[str, str]) -> str:
    """The one line a refused command prints (no traceback)."""
    done = omni_in_process(*args, home=home, env=env, check=False)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0 and "Traceback" not in output, output
    return output


def test_a_backup_of_postgres_stores_taken_while_collecting_restores_every_event_once(
    tmp_path: Path, postgres_server_url: str
) -> None:
    home, copy, restored = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    source = _env(opstore=_database(postgres_server_url), warehouse=_database(postgres_server_url))
    target_warehouse = _database(postgres_server_url)
    target = _env(opstore=_database(postgres_server_url), warehouse=target_warehouse)
    omni_in_process("init", home=home, env=source)
    taken = backup_while_collecting(home, copy, _write_key(source, home), env=source)
    made, before, during = taken.made, taken.before, taken.during
    assert made["engines"] == {"opstore": "postgres", "warehouse": "postgres"}
    assert made["warehouse"]["events"] >= 100 and made["opstore"]["sources"] == 1
    assert not (copy / "omni.duckdb").exists() and (copy / "warehouse.pgdump").is_file()

    done = json.loads(
        omni_in_process("restore", str(copy), "--json", home=restored, env=target).stdout
    )
    assert done["warehouse_rows"] == sum(made["warehouse"].values())
    assert done["opstore_rows"] == sum(made["opstore"].values())
    omni_in_process("events", "drain", home=restored, env=target)  # the log's unloaded events
    ids = _message_ids(target_warehouse.replace("postgres://", "postgresql://", 1))
    assert len(ids) == len(set(ids)), "an event was restored twice"
    assert set(before) <= set(ids), "an event acknowledged before the backup is missing"
    assert set(ids) - set(before) <= set(during)

    refused = _failure("restore", str(copy), home=tmp_path / "other", env=target)
    where = target["OMNI_OPSTORE_URL"].split("@", 1)[1]
    assert (
        f"OMNI_OPSTORE_URL='{where}' is not accepted: expected a database without tables "
        "(it holds admin_tokens; --replace)"
    ) in refused
    omni_in_process("restore", str(copy), "--replace", home=restored, env=target)


def _ingest_events(home: Path, env: dict[str, str], count: int) -> None:
    lines = [
        {"type": "track", "userId": f"u-{i}", "event": "Viewed", "messageId": f"m-{i}"}
        for i in range(count)
    ]
    path = home.parent / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    omni_in_process("ingest", str(path), "--kind", "events", "--source", "app", home=home, env=env)


def _stores(server_url: str, on_postgres: str) -> dict[str, str]:
    """``on_postgres``: opstore, warehouse, or shared (both in one database)."""
    if on_postgres == "shared":
        database = _database(server_url)
        return _env(opstore=database, warehouse=database)
    return _env(**{on_postgres: _database(server_url)})


@pytest.mark.parametrize("on_postgres", ["opstore", "warehouse", "shared"])
def test_a_mixed_installation_round_trips_with_the_manifests_counts(
    tmp_path: Path, postgres_server_url: str, on_postgres: str
) -> None:
    home, copy, restored = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    source = _stores(postgres_server_url, on_postgres)
    omni_in_process("init", home=home, env=source)
    _ingest_events(home, source, 50)
    made = json.loads(omni_in_process("backup", str(copy), "--json", home=home, env=source).stdout)
    engines = {"opstore": "sqlite", "warehouse": "duckdb"}
    for store in ("opstore", "warehouse"):
        if on_postgres in (store, "shared"):
            engines[store] = "postgres"
    assert made["engines"] == engines
    assert made["warehouse"]["events"] == 50 and made["opstore"]["alembic_version"] == 1
    assert not set(made["opstore"]) & set(made["warehouse"]), "a table in both stores' dumps"

    target = _stores(postgres_server_url, on_postgres)
    done = json.loads(
        omni_in_process("restore", str(copy), "--json", home=restored, env=target).stdout
    )
    assert done["warehouse_rows"] == sum(made["warehouse"].values())
    assert done["opstore_rows"] == sum(made["opstore"].values())
    # Into the embedded default instead: the backup's engine is named, not guessed at.
    refused = _failure("restore", str(copy), home=tmp_path / "embedded", env={})
    store = "warehouse" if on_postgres == "warehouse" else "opstore"
    assert f"OMNI_{store.upper()}_URL='" in refused
    assert (
        f"is not accepted: expected a PostgreSQL URL (the backup's {store} is on PostgreSQL)"
        in refused
    )


def test_a_password_reaches_the_tools_only_through_their_environment() -> None:
    url = "postgresql+psycopg://omni:s%40cret@db.example:5433/omni?sslmode=require"
    store = PostgresStore.of("opstore", "OMNI_OPSTORE_URL", url, None)
    assert store.conninfo == "postgresql://omni@db.example:5433/omni?sslmode=require"
    assert store.password == "s@cret" and store.where == "db.example:5433/omni"


def _server_version(server_url: str) -> str:
    with psycopg.connect(server_url) as con:
        return str(con.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]


def test_a_missing_or_older_pg_dump_is_refused_in_one_line(
    tmp_path: Path, postgres_server_url: str
) -> None:
    home = tmp_path / "home"
    database = _database(postgres_server_url)
    env = _env(opstore=database)
    omni_in_process("init", home=home, env=env)
    version, where = _server_version(postgres_server_url), database.split("@", 1)[1]
    major = version.split(".")[0]
    tools = tmp_path / "bin"
    tools.mkdir()
    without = _failure("backup", str(tmp_path / "b1"), home=home, env={**env, "PATH": str(tools)})
    assert (
        f"pg_dump is not installed (not on PATH); OMNI_OPSTORE_URL is PostgreSQL {version} at "
        f"{where}: install pg_dump {major} or newer (Debian: postgresql-client-{major})"
    ) in without
    assert not (tmp_path / "b1").exists(), "the backup began before its tool was checked"
    # Only the version line of an older pg_dump is read before it is refused.
    older = tools / "pg_dump"
    older.write_text(f"#!/bin/sh\necho 'pg_dump (PostgreSQL) {int(major) - 1}.4'\n")
    older.chmod(0o755)
    refused = _failure("backup", str(tmp_path / "b2"), home=home, env={"PATH": str(tools), **env})
    assert (
        f"pg_dump {int(major) - 1}.4 ({older}) is older than the PostgreSQL server {version} "
        f"at {where} (OMNI_OPSTORE_URL): put pg_dump {major} or newer on PATH"
    ) in refused
