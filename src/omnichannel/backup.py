"""``omni backup DIR`` and ``omni restore DIR``: a consistent copy of an installation.

On the embedded default (DuckDB warehouse, SQLite operational store, the file event log)
a backup is taken while ``omni serve`` runs (it is the ``backup`` job, so beside a server
it runs there), in an order that makes the copies agree on restore:

1. the operational store first, with SQLite's ``VACUUM INTO`` (a transactionally
   consistent copy while others write): its consumer checkpoints then point at most as
   far as the warehouse copied after it, so after a restore a consumer may see an event
   again (they are idempotent) but never skips one;
2. then, holding the warehouse's write path (the loader and every writer wait; readers
   go on), the warehouse with DuckDB's ``COPY FROM DATABASE`` into a new file (one
   snapshot), and the event logs (the home's and a collector process's: segments and
   ``checkpoint.json``): with the loader paused the checkpoint is the warehouse's, and
   what was acknowledged but not loaded yet is in the copied segments, stored on the
   first start after a restore (de-duplicated on ``messageId``);
3. the home's own files (configuration, the privacy keys), with their modes.

``manifest.json`` lists every table's row count in both copies; ``restore`` checks the
restored files against it. Other engines have their own tools (``pg_dump``, ClickHouse
``BACKUP``, the Spark catalogue's storage): this refuses them, naming the setting. The
bus (``OMNI_BUS_URL``) keeps its entries in Redis's own AOF, which is not copied.
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
from omnichannel.errors import OmniError, ValidationError
from omnichannel.ingest.collector_process import collector_log_dir
from omnichannel.ingest.log import CHECKPOINT, SUFFIX

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

MANIFEST = "manifest.json"
WAREHOUSE_FILE = "omni.duckdb"
OPSTORE_FILE = "opstore.sqlite"
# Not copied from the home as files: the stores and the logs (the collector process's is
# inside ``log``; all copied their own way), a running server's runtime file, and the
# stores' side files.
SKIPPED = {WAREHOUSE_FILE, OPSTORE_FILE, "server.json", "log"}
SKIPPED_SUFFIXES = (".wal", "-wal", "-shm", "-journal", ".tmp")


class BackupError(OmniError):
    """A backup or restore that cannot be made as asked (the message says why)."""


def _path_of(url: str, scheme: str, setting: str, tool: str) -> Path:
    prefix = f"{scheme}:///"
    if not url.startswith(prefix):
        raise ValidationError(
            setting, url.split("@")[-1], f"a {scheme} file (back up this engine with {tool})"
        )
    return Path(url[len(prefix) :])


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


def backup(platform: Platform, directory: Path) -> dict[str, Any]:
    """Copy the installation into ``directory`` (new or empty); returns the manifest."""
    settings = platform.settings
    # Checked first: the copies below are DuckDB's and SQLite's own.
    _path_of(settings.resolved_warehouse_url, "duckdb", "OMNI_WAREHOUSE_URL", "its own tools")
    _path_of(settings.resolved_opstore_url, "sqlite", "OMNI_OPSTORE_URL", "pg_dump")
    target = _directory(directory)
    began = datetime.now(UTC)
    # 1. The operational store: consistent on its own, and older than the warehouse copy.
    raw = platform.opstore.engine.raw_connection()
    try:
        raw.cursor().execute("VACUUM INTO ?", (str(target / OPSTORE_FILE),))
    finally:
        raw.close()
    # 2. The warehouse and the logs, with the loader and every other writer waiting.
    logs: dict[str, list[str]] = {}
    alias = f"omni_backup_{uuid.uuid4().hex[:8]}"
    with platform.warehouse.writer() as wh:
        con = wh.con.con
        current = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH '{target / WAREHOUSE_FILE}' AS {alias}")
        try:
            con.execute(f'COPY FROM DATABASE "{current}" TO {alias}')
        finally:
            con.execute(f"DETACH {alias}")
        logs["log"] = _copy_log(settings.log_dir, target / "log")
        logs["collector-log"] = _copy_log(collector_log_dir(settings), target / "collector-log")
    # 3. The home's own files, modes kept (the keys stay readable by their owner only).
    files = []
    for path in _home_files(settings.home):
        relative = path.relative_to(settings.home)
        (target / "home" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / "home" / relative)
        files.append(str(relative))
    manifest = {
        "omnichannel": __version__,
        "started_at": began.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "home": str(settings.home.resolve()),
        "warehouse": _duckdb_counts(target / WAREHOUSE_FILE),
        "opstore": _sqlite_counts(target / OPSTORE_FILE),
        "logs": {name: copied for name, copied in logs.items() if copied},
        "files": files,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {**manifest, "directory": str(target)}


def restore(settings: Settings, directory: Path, *, replace: bool = False) -> dict[str, Any]:
    """Put a backup in place as ``settings``' home; returns what was restored, checked
    table by table against the backup's manifest. Refuses a home that holds data unless
    ``replace`` (the server must not be running: the CLI checks)."""
    source = directory.resolve()
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        accepted = f"a directory written by omni backup ({exc})"
        raise ValidationError("directory", str(source), accepted) from None
    home = settings.home.resolve()
    warehouse = _path_of(settings.resolved_warehouse_url, "duckdb", "OMNI_WAREHOUSE_URL", "-")
    opstore = _path_of(settings.resolved_opstore_url, "sqlite", "OMNI_OPSTORE_URL", "-")
    held = [p for p in (warehouse, opstore) if p.exists()]
    if held and not replace:
        raise ValidationError(
            "home", str(home), f"a home without data (it holds {held[0].name}; --replace)"
        )
    home.mkdir(parents=True, exist_ok=True)
    for side in (warehouse, opstore):  # with the journals of what was there
        for suffix in ("", ".wal", "-wal", "-shm", "-journal"):
            Path(f"{side}{suffix}").unlink(missing_ok=True)
    shutil.copy2(source / WAREHOUSE_FILE, warehouse)
    shutil.copy2(source / OPSTORE_FILE, opstore)
    for name, target in (("log", settings.log_dir), ("collector-log", collector_log_dir(settings))):
        shutil.rmtree(target, ignore_errors=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, target)
    if (source / "home").is_dir():
        shutil.copytree(source / "home", home, dirs_exist_ok=True)
    found = {"warehouse": _duckdb_counts(warehouse), "opstore": _sqlite_counts(opstore)}
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
        "warehouse_rows": sum(found["warehouse"].values()),
        "opstore_rows": sum(found["opstore"].values()),
        "logs": manifest["logs"],
        "files": len(manifest["files"]),
    }
