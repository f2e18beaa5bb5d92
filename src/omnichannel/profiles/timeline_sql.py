"""Reads of one profile's stored timeline as hand-written SQL, for DuckDB and PostgreSQL.

Why not Ibis here: compiling an Ibis expression costs 50-200 ms in Python (more than the
query itself, which reads one or two row groups of ``profile_timeline``), and a Profile
API request would pay it several times. These statements are fixed text with
parameters; other engines use the Ibis path in ``timeline``.

Facts that arrived after the build (``StoredTimeline`` marks) are attributed here the
way the build attributes them: an event belongs to the profile holding its user id
(typed per source by the installation's rules), else to the one holding its anonymous id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.timeline_store import (
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    SCHEMA,
    TIMELINE_TABLE,
    StoredTimeline,
)
from omnichannel.profiles.traits.base import (
    CONTENT_EVENTS,
    NOT_TOUCH_DELIVERY_STATUSES,
    VOID_ORDER_STATUSES,
)
from omnichannel.warehouse import Warehouse

ENGINES = ("duckdb", "postgres")
Row = dict[str, Any]
_COLUMNS = ", ".join(f'"{c}"' for c in SCHEMA.names)


def _newest(where: str, order: str, limit: int) -> str:
    """The newest rows of one profile: filter in a fenced subquery, then sort and cut.

    ``OFFSET 0`` keeps the filter apart from the ``ORDER BY ... LIMIT``: fused, DuckDB's
    top-N reads every row group (40 ms at 7 million rows) instead of the one or two whose
    min/max statistics hold the profile id (1.5 ms).
    """
    return (
        f'SELECT * FROM (SELECT {_COLUMNS} FROM "{TIMELINE_TABLE}" WHERE {where} OFFSET 0) '
        f"AS mine ORDER BY {order} LIMIT {int(limit)}"
    )


def supported(wh: Warehouse) -> bool:
    return wh.engine in ENGINES


def query(wh: Warehouse, sql: str, params: Sequence[Any]) -> list[Row]:
    """Run one parameterised statement (``?`` placeholders) and return its rows."""
    if wh.engine == "duckdb":
        result = wh.con.con.execute(sql, list(params))
        return list(result.to_arrow_table().to_pylist())
    with wh.con.con.cursor() as cursor:
        cursor.execute(sql.replace("?", "%s"), list(params))
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def page(
    wh: Warehouse,
    profile_id: str,
    *,
    kinds: Sequence[str],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Row]:
    """Up to ``limit`` stored rows newest first, strictly after the cursor if one is given."""
    params: list[Any] = [profile_id, *kinds]
    where = f"profile_id = ? AND kind IN ({_marks(kinds)}) AND ts IS NOT NULL"
    if after is not None:
        where += " AND (ts < ? OR (ts = ? AND uid < ?))"
        params += [after[0], after[0], after[1]]
    return query(wh, _newest(where, "ts DESC, uid DESC", limit), params)


def orders(wh: Warehouse, profile_id: str, limit: int) -> list[Row]:
    """The profile's last ``limit`` purchases (void statuses left out), newest first."""
    where = (
        "profile_id = ? AND kind = ? AND (status IS NULL OR lower(status) NOT IN "
        f"({_marks(VOID_ORDER_STATUSES)}))"
    )
    sql = _newest(where, "ordered_at DESC, order_id DESC", limit)
    return query(wh, sql, [profile_id, "order", *VOID_ORDER_STATUSES])


def touches(wh: Warehouse, profile_id: str, start: datetime, end: datetime) -> list[Row]:
    """Stored events with a campaign or a content view, and sent deliveries, in [start, end)."""
    sql = (
        f'SELECT {_COLUMNS} FROM "{TIMELINE_TABLE}" WHERE profile_id = ? AND ts >= ? '
        "AND ts < ? AND ((kind = 'event' AND ((context_campaign_name IS NOT NULL AND "
        f"context_campaign_name <> '') OR event IN ({_marks(CONTENT_EVENTS)}))) OR "
        "(kind = 'delivery' AND (status IS NULL OR lower(status) NOT IN "
        f"({_marks(NOT_TOUCH_DELIVERY_STATUSES)}))))"
    )
    return query(wh, sql, [profile_id, start, end, *CONTENT_EVENTS, *NOT_TOUCH_DELIVERY_STATUSES])


def untouched_since_build(wh: Warehouse, profile_id: str, coverage: StoredTimeline) -> bool:
    """No resolution since the build re-resolved any record of this profile.

    Incremental resolution stamps ``resolved_at`` on the records it re-resolves only
    (merges and splits included), so an older stamp means the stored rows still hold.
    """
    if coverage.identity_current:
        return True
    mark = coverage.resolved_through
    if mark is None:
        return False
    rows = query(
        wh, "SELECT max(resolved_at) AS at FROM record_profiles WHERE profile_id = ?", [profile_id]
    )
    at = rows[0]["at"] if rows else None
    return at is not None and at <= mark


def campaign_names(wh: Warehouse) -> list[Row]:
    return query(wh, "SELECT campaign_id, name FROM campaigns", [])


# --- what arrived after the build -------------------------------------------------------


def arrived_since(wh: Warehouse, coverage: StoredTimeline) -> tuple[bool, bool]:
    """Whether any event was loaded, or any delivery sent, after the build.

    Events are appended in load order, so ``loaded_at > mark`` reads the newest row
    groups only; most requests stop here.
    """
    e_mark, d_mark = coverage.events_loaded_through, coverage.deliveries_through
    e_where = "loaded_at > ?" if e_mark is not None else "loaded_at IS NOT NULL"
    d_at = "COALESCE(sent_at, queued_at)"
    d_where = f"{d_at} > ?" if d_mark is not None else f"{d_at} IS NOT NULL"
    sql = (
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM events WHERE {e_where} LIMIT 1) e) AS e, "
        f"(SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE {d_where} LIMIT 1) d) AS d"
    )
    params = [m for m in (e_mark, d_mark) if m is not None]
    row = query(wh, sql, params)[0]
    return bool(row["e"]), bool(row["d"])


def late_rows(
    wh: Warehouse,
    profile_id: str,
    rules: IdentityRules,
    coverage: StoredTimeline,
    *,
    events: bool,
    deliveries: bool,
) -> list[Row]:
    """The profile's events loaded and deliveries sent after the build, as stored rows."""
    linked = query(
        wh,
        "SELECT id_type, id_value FROM profile_identifiers WHERE profile_id = ? AND status = ?",
        [profile_id, "linked"],
    )
    mine: dict[str, set[str]] = {}
    for r in linked:
        mine.setdefault(str(r["id_type"]), set()).add(str(r["id_value"]))
    found: list[Row] = []
    if events:
        found += _late_events(wh, profile_id, rules, coverage, mine)
    if deliveries:
        found += _late_deliveries(wh, profile_id, coverage, mine)
    if not found:
        return []
    # Rows the build already stored (it read them while the mark was being taken).
    uids = [r["uid"] for r in found]
    stored = query(
        wh,
        f'SELECT uid FROM "{TIMELINE_TABLE}" WHERE profile_id = ? AND uid IN ({_marks(uids)})',
        [profile_id, *uids],
    )
    seen = {r["uid"] for r in stored}
    return [r for r in found if r["uid"] not in seen]


def _type_of(rules: IdentityRules, source: str | None, column: str) -> str:
    return rules.source_id_types.get(source or "", {}).get(column, column)


def _readable_as(rules: IdentityRules, column: str) -> set[str]:
    return {column} | {m[column] for m in rules.source_id_types.values() if column in m}


def _late_events(
    wh: Warehouse,
    profile_id: str,
    rules: IdentityRules,
    coverage: StoredTimeline,
    mine: dict[str, set[str]],
) -> list[Row]:
    users = sorted({v for t in _readable_as(rules, "user_id") for v in mine.get(t, ())})
    anons = sorted({v for t in _readable_as(rules, "anonymous_id") for v in mine.get(t, ())})
    if not users and not anons:
        return []
    mark = coverage.events_loaded_through
    where = "loaded_at > ?" if mark is not None else "loaded_at IS NOT NULL"
    params: list[Any] = [mark] if mark is not None else []
    tests = []
    if users:
        tests.append(f"trim(user_id) IN ({_marks(users)})")
        params += users
    if anons:
        tests.append(f"trim(anonymous_id) IN ({_marks(anons)})")
        params += anons
    columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    rows = query(
        wh,
        f"SELECT {columns}, COALESCE(timestamp, original_timestamp, received_at) AS ts "
        f"FROM events WHERE {where} AND ({' OR '.join(tests)})",
        params,
    )
    owned, anon_only = [], []
    for r in rows:
        user = (r["user_id"] or "").strip()
        anon = (r["anonymous_id"] or "").strip()
        if user and user in mine.get(_type_of(rules, r["source"], "user_id"), ()):
            owned.append(r)
        elif anon and anon in mine.get(_type_of(rules, r["source"], "anonymous_id"), ()):
            anon_only.append(r)
    owned += _not_claimed_by_user(wh, profile_id, rules, anon_only)
    return [
        {**r, "kind": "event", "uid": f"event:{r['message_id']}"}
        for r in owned
        if r["ts"] is not None
    ]


def _not_claimed_by_user(
    wh: Warehouse, profile_id: str, rules: IdentityRules, rows: list[Row]
) -> list[Row]:
    """Cookie matches whose user id is not linked to another profile (the user id wins)."""
    users = sorted({(r["user_id"] or "").strip() for r in rows} - {""})
    if not users:
        return rows
    others = query(
        wh,
        "SELECT id_type, id_value FROM profile_identifiers WHERE status = ? "
        f"AND profile_id <> ? AND id_value IN ({_marks(users)})",
        ["linked", profile_id, *users],
    )
    claimed = {(str(r["id_type"]), str(r["id_value"])) for r in others}
    return [
        r
        for r in rows
        if (_type_of(rules, r["source"], "user_id"), (r["user_id"] or "").strip()) not in claimed
    ]


def _late_deliveries(
    wh: Warehouse, profile_id: str, coverage: StoredTimeline, mine: dict[str, set[str]]
) -> list[Row]:
    recipients = sorted({v for values in mine.values() for v in values})
    mark = coverage.deliveries_through
    at = "COALESCE(sent_at, queued_at)"
    where = f"{at} > ?" if mark is not None else f"{at} IS NOT NULL"
    params: list[Any] = [mark] if mark is not None else []
    test = "profile_id = ?"
    params.append(profile_id)
    if recipients:
        test += f" OR (profile_id IS NULL AND trim(recipient) IN ({_marks(recipients)}))"
        params += recipients
    columns = ", ".join(f'"{c}"' for c in DELIVERY_COLUMNS)
    rows = query(
        wh, f"SELECT {columns}, {at} AS ts FROM deliveries WHERE {where} AND ({test})", params
    )
    return [{**r, "kind": "delivery", "uid": f"delivery:{r['delivery_id']}"} for r in rows]
