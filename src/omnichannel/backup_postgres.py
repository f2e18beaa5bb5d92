"""The PostgreSQL half of ``omni backup``: ``pg_dump`` of one store, ``pg_restore`` back.

The warehouse's dump holds the tables it owns and nothing else of its database; the
operational store's holds its database (its functions and triggers too) but for the
warehouse's tables when they share it, so the two may share one database. The dump is
taken from a snapshot exported by a transaction of ours that first locks those tables
(``ACCESS SHARE``: writers go on, no table can be dropped or swapped under the dump),
and the manifest's row counts are counted in that same
snapshot, so they are exactly the dump's even while the server writes.

The tools must be at least the server's major version (``pg_dump`` cannot read a newer
server's catalogue, ``pg_restore`` a newer ``pg_dump``'s archive); that is checked
first, so a mismatch is one line naming both versions. A password in the URL reaches a
tool only through ``PGPASSWORD`` in that child's environment, never its command line.

Example::

    store = PostgresStore.of("warehouse", "OMNI_WAREHOUSE_URL", url, warehouse_tables())
    info = store.dump(Path("backup/warehouse.pgdump"))   # {"counts": ..., "schema": ...}
    held, tool = store.check(info)        # refuse here when held and not --replace
    store.restore(Path("backup/warehouse.pgdump"), info, tool=tool, clean=bool(held))
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from omnichannel.errors import OmniError, ValidationError

# A queued table swap (DROP + RENAME, ACCESS EXCLUSIVE) waits on our lock, and pg_dump's
# own lock would queue behind it for ever: fail instead, naming the lock, and the
# swap goes on once our transaction ends.
LOCK_WAIT = "10s"
_VERSION = re.compile(r"\b(\d+)(?:\.(\d+))?")


class BackupError(OmniError):
    """A backup or restore that cannot be made as asked (the message says why)."""


def warehouse_tables() -> frozenset[str]:
    from omnichannel.warehouse.tables import BY_NAME, META_TABLE

    return frozenset(BY_NAME) | {META_TABLE}


def _major(version: str) -> int:
    found = _VERSION.search(version)
    return int(found.group(1)) if found else 0


@dataclass(frozen=True)
class PostgresStore:
    """One store on PostgreSQL: where it is (without its password) and what it owns."""

    store: str  # "opstore" or "warehouse", as in the manifest
    setting: str
    conninfo: str  # a libpq URL without the password
    password: str | None
    # The tables this store owns in its schema, or None: the whole database (functions,
    # triggers and sequences too) but for ``excluded``, another store's tables there.
    owned: frozenset[str] | None
    excluded: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        store: str,
        setting: str,
        url: str,
        owned: Iterable[str] | None,
        excluded: Iterable[str] = (),
    ) -> PostgresStore:
        """From a SQLAlchemy (``postgresql+psycopg://``) or Ibis (``postgres://``) URL."""
        parts = urlsplit(url)
        password = unquote(parts.password) if parts.password else None
        query = []
        for key, value in parse_qsl(parts.query):
            if key == "password":
                password = value
            else:
                query.append((key, value))
        user = f"{parts.username}@" if parts.username else ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        conninfo = urlunsplit(
            ("postgresql", f"{user}{host}{port}", parts.path, urlencode(query), "")
        )
        kept = None if owned is None else frozenset(owned)
        return cls(store, setting, conninfo, password, kept, frozenset(excluded))

    @property
    def where(self) -> str:
        """host:port/database, for messages (no user, no password)."""
        parts = urlsplit(self.conninfo)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    def _connect(self, **options: Any) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.conninfo, password=self.password, **options)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackupError(f"{self.setting}: cannot connect to {self.where}: {first}") from None

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def _server(self, con: Any) -> tuple[str, str]:
        """The server's version and this connection's current schema."""
        version, schema = con.execute(
            "SELECT current_setting('server_version'), current_schema()"
        ).fetchone()
        return str(version).split()[0], str(schema)

    def _present(self, con: Any, schema: str) -> list[str]:
        """The store's tables there: names in ``schema``, or ``other.name`` elsewhere."""
        rows = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
            "('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%'"
        ).fetchall()
        found = []
        for where, name in rows:
            if self.owned is not None:
                keep = where == schema and name in self.owned
            else:
                keep = not (where == schema and name in self.excluded)
            if keep:
                found.append(name if where == schema else f"{where}.{name}")
        return sorted(found)

    @staticmethod
    def _qualified(schema: str, table: str) -> str:
        where, _, name = table.rpartition(".")
        return f'"{where or schema}"."{name}"'

    def _tool(self, name: str, needs: str, why: str) -> tuple[str, str]:
        """The tool's path and version, refused in one line when absent or too old."""
        path = shutil.which(name)
        if path is None:
            raise BackupError(
                f"{name} is not installed (not on PATH); {self.setting} is PostgreSQL "
                f"{needs} at {self.where}: install {name} {_major(needs)} or newer "
                f"(Debian: postgresql-client-{_major(needs)})"
            )
        answer = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        found = _VERSION.search(answer.stdout)
        version = found.group(0) if found else answer.stdout.strip() or "unknown"
        if _major(version) < _major(needs):
            raise BackupError(
                f"{name} {version} ({path}) is older than {why} {needs} at {self.where} "
                f"({self.setting}): put {name} {_major(needs)} or newer on PATH"
            )
        return path, version

    def _run(self, command: list[str], action: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, env=self._child_env())
        if done.returncode != 0:
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            # The tool's own "error:" line, not the statement it quotes after it.
            errors = [line for line in lines if line.startswith(f"{action}: error:")]
            cause = (errors or lines or [f"exit status {done.returncode}"])[-1]
            raise BackupError(f"{action} of the {self.store} at {self.where} failed: {cause}")

    def plan(self) -> tuple[str, str, str, str, list[str]]:
        """What a dump needs, checked: ``pg_dump``'s path and version, the server's
        version, the schema and the tables to dump."""
        with self._connect(autocommit=True) as con:
            server, schema = self._server(con)
            tables = self._present(con, schema)
        tool, version = self._tool("pg_dump", server, "the PostgreSQL server")
        if not tables:
            raise BackupError(f"the {self.store} at {self.where} has no tables in {schema}")
        return tool, version, server, schema, tables

    def dump(self, path: Path) -> dict[str, Any]:
        """``pg_dump --format=custom`` of the store into ``path``; returns the row counts
        in the dump's snapshot, the schema, and both versions."""
        import psycopg

        tool, version, server, schema, tables = self.plan()
        qualified = [self._qualified(schema, t) for t in tables]
        if self.owned is not None:
            scope = [f"--table={q}" for q in qualified]
        else:
            scope = [f"--exclude-table={self._qualified(schema, t)}" for t in self.excluded]
        with self._connect() as con:
            con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            con.read_only = True
            # Before anything that takes the snapshot: a table locked now is the same
            # table in the snapshot, counted and dumped (the LOCK TABLE documentation).
            con.execute(f"LOCK TABLE {', '.join(qualified)} IN ACCESS SHARE MODE")
            snapshot = con.execute("SELECT pg_export_snapshot()").fetchone()[0]
            counts = {
                t: int(con.execute(f"SELECT count(*) FROM {q}").fetchone()[0])
                for t, q in zip(tables, qualified, strict=True)
            }
            self._run(
                [
                    tool,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--lock-wait-timeout={LOCK_WAIT}",
                    "--no-owner",
                    "--no-acl",
                    "--strict-names",
                    f"--file={path}",
                    *scope,
                    f"--dbname={self.conninfo}",
                ],
                "pg_dump",
            )
            con.rollback()
        return {"schema": schema, "server": server, "pg_dump": version, "counts": counts}

    def check(self, info: dict[str, Any]) -> tuple[list[str], str]:
        """The owned tables the target database holds already, and the ``pg_restore`` to
        use; refuses a target whose current schema is not the backup's, or a tool older
        than the server or than the backup's ``pg_dump`` (whose archive it must read)."""
        with self._connect(autocommit=True) as con:
            server, schema = self._server(con)
            present = self._present(con, info["schema"])
        if schema != info["schema"]:
            raise ValidationError(
                self.setting,
                self.where,
                f"a database whose current schema is {info['schema']} (the backup's; "
                f"this one's is {schema})",
            )
        if _major(info["pg_dump"]) > _major(server):
            tool, _ = self._tool("pg_restore", info["pg_dump"], "the backup's pg_dump")
        else:
            tool, _ = self._tool("pg_restore", server, "the PostgreSQL server")
        return present, tool

    def restore(
        self, path: Path, info: dict[str, Any], *, tool: str, clean: bool
    ) -> dict[str, int]:
        """``pg_restore`` the dump in one transaction; returns the restored row counts.

        ``clean`` (the caller's ``--replace`` over tables there already): ``--clean
        --if-exists`` drops each table the dump holds just before making it again,
        inside the one transaction, so a failed restore leaves the database as it was;
        tables the dump does not hold stay.
        """
        self._run(
            [
                tool,
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-acl",
                *(["--clean", "--if-exists"] if clean else []),
                f"--dbname={self.conninfo}",
                str(path),
            ],
            "pg_restore",
        )
        return self.counts(info["schema"])

    def counts(self, schema: str) -> dict[str, int]:
        with self._connect(autocommit=True) as con:
            return {
                t: int(
                    con.execute(f"SELECT count(*) FROM {self._qualified(schema, t)}").fetchone()[0]
                )
                for t in self._present(con, schema)
            }
