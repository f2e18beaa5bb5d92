"""``omni backup DIR`` and ``omni restore DIR``: a consistent copy of an installation.

A backup is taken while ``omni serve`` runs (it is the ``backup`` job, so beside a server
it runs there), in an order that makes the copies agree on restore:

1. the operational store first, as one consistent snapshot taken while others write
   (SQLite's ``VACUUM INTO``, or ``pg_dump``): its consumer checkpoints then point at
   most as far as the warehouse copied after it, so after a restore a consumer may see
   an event again (they are idempotent) but never skips one;
2. then, holding the warehouse's write path (the loader and every writer wait; readers
   go on), the warehouse as one snapshot (DuckDB's ``COPY FROM DATABASE`` into a new
   file, or ``pg_dump`` of the tables the warehouse owns), and the event logs (the
   home's and a collector process's: segments and ``checkpoint.json``): with the loader
   paused the checkpoint is the warehouse's, and what was acknowledged but not loaded
   yet is in the copied segments, stored on the first start after a restore
   (de-duplicated on ``messageId``);
3. the home's own files (configuration, the privacy keys), with their modes.

``manifest.json`` lists every table's row count in both copies; ``restore`` checks the
restored stores against it. A PostgreSQL store is dumped by ``pg_dump`` from a snapshot
this module exports, in which it also counts the rows, so the counts are the dump's
(``backup_postgres.py``). ClickHouse and Spark have their own tools (``BACKUP``, the
catalogue's storage): this refuses them, naming the setting. The bus (``OMNI_BUS_URL``)
keeps its entries in Redis's own AOF, which is not copied.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel import __version__
from omnichannel.backup_postgres import BackupError, PostgresStore, warehouse_tables
from omnichannel.errors import ValidationError
from omnichannel.ingest.collector_process import collector_log_dir
from omnichannel.ingest.log import CHECKPOINT, SUFFIX
from omnichannel.warehouse.backends import engine_of, redact
from omnichannel.warehouse.replace import SIDE_SUFFIX

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

__all__ = ["BackupError", "backup", "restore"]

MANIFEST = "manifest.json"
WAREHOUSE_FILE = "omni.duckdb"
OPSTORE_FILE = "opstore.sqlite"
DUMPS = {"opstore": "opstore.pgdump", "warehouse": "warehouse.pgdump"}
# Not copied from the home as files: the stores and the logs (the collector process's is
# inside ``log``; all copied their own way), a running server's runtime file, and the
# stores' side files.
SKIPPED = {WAREHOUSE_FILE, OPSTORE_FILE, "server.json", "log"}
SKIPPED_SUFFIXES = (".wal", "-wal", "-shm", "-journal", ".tmp")
WAREHOUSE_ACCEPTED = (
    "duckdb:///path/omni.duckdb or postgres://user@host:port/db (back up ClickHouse with "
    "its BACKUP statement, Spark with its catalogue's storage)"
)
ENGINE_NAMES = {"duckdb": "DuckDB", "sqlite": "SQLite", "postgres": "PostgreSQL"}
OPSTORE_ACCEPTED = "sqlite:///path/opstore.sqlite or postgresql+psycopg://user@host:port/db"


def _engines(settings: Settings) -> dict[str, str]:
    """Each store's engine, as the manifest records it: refuses the engines not covered."""
    from sqlalchemy import make_url

    warehouse = engine_of(settings.resolved_warehouse_url)
    if warehouse not in ("duckdb", "postgres"):
        shown = redact(settings.resolved_warehouse_url)
        raise ValidationError("OMNI_WAREHOUSE_URL", shown, WAREHOUSE_ACCEPTED)
    backend = make_url(settings.resolved_opstore_url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        shown = redact(settings.resolved_opstore_url)
        raise ValidationError("OMNI_OPSTORE_URL", shown, OPSTORE_ACCEPTED)
    return {"opstore": "postgres" if backend == "postgresql" else "sqlite", "warehouse": warehouse}


def _postgres(settings: Settings, store: str) -> PostgresStore:
    """A store on PostgreSQL: the warehouse its own tables; the operational store its
    database (with its functions and triggers) but the warehouse's tables there."""
    warehouse = PostgresStore.of(
        "warehouse", "OMNI_WAREHOUSE_URL", settings.resolved_warehouse_url, warehouse_tables()
    )
    if store == "warehouse":
        return warehouse
    opstore = PostgresStore.of("opstore", "OMNI_OPSTORE_URL", settings.resolved_opstore_url, None)
    if (
        engine_of(settings.resolved_warehouse_url) == "postgres"
        and warehouse.where == opstore.where
    ):
        shared = warehouse_tables() | {f"{t}{SIDE_SUFFIX}" for t in warehouse_tables()}
        return PostgresStore.of(
            "opstore", opstore.setting, settings.resolved_opstore_url, None, shared
        )
    return opstore


def _path_of(url: str, scheme: str) -> Path:
    return Path(url[len(f"{scheme}:///") :])


def _directory(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        raise ValidationError("directory", str(directory), "a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # it holds the privacy keys and everyone's data
    return directory


def _sqlite_counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    finally:
        con.close()


def _duckdb_counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {
            n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])  # type: ignore[index]
            for n in sorted(names)
        }
    finally:
        con.close()


def _copy_log(source: Path, target: Path) -> list[str]:
    """The segments and checkpoint of one event log (not its lock file)."""
    if not source.is_dir():
        return []
    target.mkdir(parents=True)
    copied = []
    for path in sorted(source.iterdir()):
        if path.suffix == SUFFIX or path.name == CHECKPOINT:
            shutil.copy2(path, target / path.name)
            copied.append(path.name)
    return copied


def _home_files(home: Path) -> Iterator[Path]:
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file() or relative.parts[0] in SKIPPED:
            continue
        if path.name.endswith(SKIPPED_SUFFIXES) or relative.parts[0].startswith("."):
            continue
        yield path


def _copy_duckdb(con: Any, target: Path) -> None:
    alias = f"omni_backup_{uuid.uuid4().hex[:8]}"
    current = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f"ATTACH '{target}' AS {alias}")
    try:
        con.execute(f'COPY FROM DATABASE "{current}" TO {alias}')
    finally:
        con.execute(f"DETACH {alias}")


def backup(platform: Platform, directory: Path) -> dict[str, Any]:
    """Copy the installation into ``directory`` (new or empty); returns the manifest."""
    settings = platform.settings
    engines = _engines(settings)  # before anything is made
    for store in (s for s, engine in engines.items() if engine == "postgres"):
        _postgres(settings, store).plan()  # its tool and server, before anything is made
    target = _directory(directory)
    began = datetime.now(UTC)
    counts: dict[str, dict[str, int]] = {}
    dumps: dict[str, dict[str, Any]] = {}
    # 1. The operational store: consistent on its own, and older than the warehouse copy.
    if engines["opstore"] == "postgres":
        dumps["opstore"] = _postgres(settings, "opstore").dump(target / DUMPS["opstore"])
    else:
        raw = platform.opstore.engine.raw_connection()
        try:
            raw.cursor().execute("VACUUM INTO ?", (str(target / OPSTORE_FILE),))
        finally:
            raw.close()
        counts["opstore"] = _sqlite_counts(target / OPSTORE_FILE)
    # 2. The warehouse and the logs, with the loader and every other writer waiting.
    logs: dict[str, list[str]] = {}
    with platform.warehouse.writer() as wh:
        if engines["warehouse"] == "postgres":
            database = _postgres(settings, "warehouse")
            dumps["warehouse"] = database.dump(target / DUMPS["warehouse"])
        else:
            _copy_duckdb(wh.con.con, target / WAREHOUSE_FILE)
        logs["log"] = _copy_log(settings.log_dir, target / "log")
        logs["collector-log"] = _copy_log(collector_log_dir(settings), target / "collector-log")
    if engines["warehouse"] == "duckdb":
        counts["warehouse"] = _duckdb_counts(target / WAREHOUSE_FILE)
    # 3. The home's own files, modes kept (the keys stay readable by their owner only).
    files = []
    for path in _home_files(settings.home):
        relative = path.relative_to(settings.home)
        (target / "home" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / "home" / relative)
        files.append(str(relative))
    for store, info in dumps.items():
        counts[store] = info.pop("counts")
        info["file"] = DUMPS[store]
    manifest = {
        "omnichannel": __version__,
        "started_at": began.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "home": str(settings.home.resolve()),
        "engines": engines,
        "postgres": dumps,
        "warehouse": counts["warehouse"],
        "opstore": counts["opstore"],
        "logs": {name: copied for name, copied in logs.items() if copied},
        "files": files,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {**manifest, "directory": str(target)}


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        accepted = f"a directory written by omni backup ({exc})"
        raise ValidationError("directory", str(source), accepted) from None
    # Written before PostgreSQL stores were covered: the embedded default.
    manifest.setdefault("engines", {"opstore": "sqlite", "warehouse": "duckdb"})
    manifest.setdefault("postgres", {})
    return manifest


def restore(settings: Settings, directory: Path, *, replace: bool = False) -> dict[str, Any]:
    """Put a backup in place as ``settings``' home; returns what was restored, checked
    table by table against the backup's manifest. Refuses a home or database that holds
    data unless ``replace`` (the server must not be running: the CLI checks). Everything
    is checked before anything is replaced."""
    source = directory.resolve()
    manifest = _read_manifest(source)
    home = settings.home.resolve()
    engines = _engines(settings)
    urls = {"opstore": settings.resolved_opstore_url, "warehouse": settings.resolved_warehouse_url}
    for store, engine in manifest["engines"].items():
        if engines[store] != engine:
            setting, named = f"OMNI_{store.upper()}_URL", ENGINE_NAMES[engine]
            accepted = f"a {named} URL (the backup's {store} is on {named})"
            raise ValidationError(setting, redact(urls[store]), accepted)
    files: dict[str, Path] = {}
    databases: dict[str, tuple[PostgresStore, str, bool]] = {}
    for store, engine in engines.items():
        if engine == "postgres":
            database = _postgres(settings, store)
            held, tool = database.check(manifest["postgres"][store])
            if held and not replace:
                whose = "tables" if database.owned is None else f"the {store}'s tables"
                accepted = f"a database without {whose} (it holds {held[0]}; --replace)"
                raise ValidationError(database.setting, database.where, accepted)
            databases[store] = (database, tool, bool(held))
        elif engine == "duckdb":
            files[store] = _path_of(settings.resolved_warehouse_url, "duckdb")
        else:
            files[store] = _path_of(settings.resolved_opstore_url, "sqlite")
    held_files = [p for p in files.values() if p.exists()]
    if held_files and not replace:
        raise ValidationError(
            "home", str(home), f"a home without data (it holds {held_files[0].name}; --replace)"
        )
    home.mkdir(parents=True, exist_ok=True)
    for side in files.values():  # with the journals of what was there
        for suffix in ("", ".wal", "-wal", "-shm", "-journal"):
            Path(f"{side}{suffix}").unlink(missing_ok=True)
    found: dict[str, dict[str, int]] = {}
    # The order of the backup. Each PostgreSQL store's restore is one transaction; if the
    # warehouse's fails, the operational store restored before it stays (run it again).
    for store in ("opstore", "warehouse"):
        if store in databases:
            database, tool, clean = databases[store]
            info = manifest["postgres"][store]
            found[store] = database.restore(source / info["file"], info, tool=tool, clean=clean)
        elif store == "warehouse":
            shutil.copy2(source / WAREHOUSE_FILE, files[store])
            found[store] = _duckdb_counts(files[store])
        else:
            shutil.copy2(source / OPSTORE_FILE, files[store])
            found[store] = _sqlite_counts(files[store])
    for name, target in (("log", settings.log_dir), ("collector-log", collector_log_dir(settings))):
        shutil.rmtree(target, ignore_errors=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, target)
    if (source / "home").is_dir():
        shutil.copytree(source / "home", home, dirs_exist_ok=True)
    differ = {
        f"{store}.{table}": (manifest[store].get(table), found[store].get(table))
        for store in found
        for table in set(manifest[store]) | set(found[store])
        if manifest[store].get(table) != found[store].get(table)
    }
    if differ:
        raise BackupError(f"the restored copy differs from the backup's manifest: {differ}")
    return {
        "home": str(home),
        "from": str(source),
        "backed_up_at": manifest["started_at"],
        "engines": engines,
        "warehouse_rows": sum(found["warehouse"].values()),
        "opstore_rows": sum(found["opstore"].values()),
        "logs": manifest["logs"],
        "files": len(manifest["files"]),
    }
