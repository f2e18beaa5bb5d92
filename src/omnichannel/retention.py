"""Retention: rows older than a period, per table, deleted by the daily ``retention`` job.

``OMNI_RETENTION`` names the tables and how long each keeps its rows, e.g.
``events=400d,dead_letters=90d,audit_log=730d``; a table not named keeps everything.
Each table's age is read from one column, chosen for what the row records: when an
event reached us (``received_at``), when an order was placed (``ordered_at``), when a
message was queued, an audit entry written, a job started. The tables offered are the
ones whose old rows nothing else depends on: not the stock ledger (a replayed stock file
is recognised by its movement keys), not consent evidence, not the journey steps that
keep an action from running twice, not master data (customers, products, stores).

Deleting is one ``DELETE ... WHERE column < cutoff`` per table: on DuckDB and PostgreSQL
for the warehouse (other engines are refused by name), on SQLite and PostgreSQL for the
operational store. Profiles, segments and models built earlier keep what they computed
until they are rebuilt from what is left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from omnichannel.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

# Table -> the column its rows' age is read from.
WAREHOUSE_TABLES = {
    "events": "received_at",
    "dead_letters": "received_at",
    "deliveries": "queued_at",
    "orders": "ordered_at",
    "order_lines": "loaded_at",
    "ad_spend": "loaded_at",
}
OPSTORE_TABLES = {
    "audit_log": "at",
    "outbox": "created_at",
    "job_runs": "started_at",
    "notifications": "created_at",
    "web_sessions": "created_at",
    "inbox_messages": "created_at",
}


def parse_retention(text_value: str) -> dict[str, timedelta]:
    """``OMNI_RETENTION`` read: table -> how long its rows are kept."""
    from omnichannel.jobs.registry import parse_period

    kept: dict[str, timedelta] = {}
    accepted = sorted(WAREHOUSE_TABLES) + sorted(OPSTORE_TABLES)
    for item in filter(None, (part.strip() for part in text_value.split(","))):
        name, sep, period = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(
                f"OMNI_RETENTION item {item!r} is not accepted: expected table=period, "
                "e.g. events=400d"
            )
        if name not in accepted:
            raise ConfigError(
                f"OMNI_RETENTION.{name} is not accepted: expected one of {', '.join(accepted)}"
            )
        every = parse_period(period, field_name=f"OMNI_RETENTION.{name}")
        if every is None:
            continue  # "off": kept for good, as when not named
        kept[name] = every
    return kept


def apply_retention(platform: Platform, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete each configured table's rows older than its period; returns, per table,
    the cutoff and the rows deleted."""
    kept = parse_retention(platform.settings.retention)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    done: dict[str, Any] = {}
    in_warehouse = {t: p for t, p in kept.items() if t in WAREHOUSE_TABLES}
    if in_warehouse:
        with platform.warehouse.writer() as wh:
            if wh.engine not in ("duckdb", "postgres"):
                raise ValidationError(
                    "OMNI_RETENTION",
                    ",".join(in_warehouse),
                    f"tables of the operational store only on a {wh.engine} warehouse "
                    "(its own retention settings delete there)",
                )
            for table, period in in_warehouse.items():
                cutoff = (now - period).replace(tzinfo=None)  # the warehouse keeps UTC, naive
                column = WAREHOUSE_TABLES[table]
                con = wh.con.con
                if wh.engine == "duckdb":
                    deleted = con.execute(
                        f'DELETE FROM "{table}" WHERE "{column}" < ?', [cutoff]
                    ).fetchone()[0]
                else:
                    with con.cursor() as cursor:
                        cursor.execute(f'DELETE FROM "{table}" WHERE "{column}" < %s', [cutoff])
                        deleted = cursor.rowcount
                    con.commit()
                done[table] = {"cutoff": cutoff.isoformat(), "deleted": int(deleted)}
    with platform.opstore.engine.begin() as con:
        for table, period in kept.items():
            if table not in OPSTORE_TABLES:
                continue
            cutoff = now - period
            result = con.execute(
                text(f'DELETE FROM "{table}" WHERE "{OPSTORE_TABLES[table]}" < :cutoff'),
                {"cutoff": cutoff},
            )
            done[table] = {"cutoff": cutoff.isoformat(), "deleted": int(result.rowcount)}
    return done
