"""Where a message to a profile goes on a channel, and what else is known of the person.

A profile's address on a channel is its most recently seen *linked* identifier of one
of the adapter's ``address_types`` (an email, a phone, a WeChat OpenID, an app user id),
from the identity graph (``profile_identifiers``). An adapter whose addresses live
elsewhere (push tokens come from events' ``context.device.token``) defines
``lookup_addresses(wh, profile_ids) -> {profile_id: address}``, which is called instead.
An adapter may define ``default_address(settings)``: the address of a message that names
none (the webhook channel's default endpoint).

The same read also gives every identifier of the person, which the consent check needs
(a decision captured on an email address before the person was stitched counts), and
the person's time zone for quiet hours (the latest ``context.timezone`` their events
carried). One query each for a whole batch of profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnichannel.warehouse import Warehouse

# Identifier types an event carries as its userId / anonymousId (identity rules' names).
EVENT_ID_TYPES = {"user_id": "user_id", "anonymous_id": "anonymous_id"}
_CHUNK = 500


def _rows(wh: Warehouse, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """One parameterised statement on DuckDB / PostgreSQL (compiling Ibis costs more than
    the query for a few hundred profiles)."""
    from omnichannel.profiles.timeline_sql import query

    return query(wh, sql, params)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def identifiers_of(wh: Warehouse, profile_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Per profile, its linked ``(id_type, id_value)``, most recently seen first."""
    found: dict[str, list[tuple[str, str]]] = {pid: [] for pid in profile_ids}
    ids = sorted(set(profile_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        if wh.engine in ("duckdb", "postgres"):
            rows = _rows(
                wh,
                "SELECT profile_id, id_type, id_value FROM profile_identifiers "
                f"WHERE status = 'linked' AND profile_id IN ({_marks(chunk)}) "
                "ORDER BY profile_id, last_seen DESC NULLS LAST, id_value",
                chunk,
            )
        else:
            pi = wh.table("profile_identifiers")
            expr = pi.filter(pi.status == "linked", pi.profile_id.isin(chunk))
            expr = expr.order_by([pi.profile_id, pi.last_seen.desc(), pi.id_value])
            rows = wh.query(expr.select("profile_id", "id_type", "id_value")).to_pylist()
        for row in rows:
            found[row["profile_id"]].append((row["id_type"], row["id_value"]))
    return found


def addresses_from(
    identifiers: dict[str, list[tuple[str, str]]], address_types: Sequence[str]
) -> dict[str, str]:
    """Per profile, the first identifier of the best type in ``address_types``."""
    chosen: dict[str, str] = {}
    for pid, pairs in identifiers.items():
        for wanted in address_types:
            value = next((v for t, v in pairs if t == wanted), None)
            if value is not None:
                chosen[pid] = value
                break
    return chosen


def timezones_of(wh: Warehouse, identifiers: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Per profile, the time zone of its latest event that said one (none: left out)."""
    owner: dict[tuple[str, str], str] = {}
    for pid, pairs in identifiers.items():
        for id_type, value in pairs:
            column = EVENT_ID_TYPES.get(id_type)
            if column is not None:
                owner.setdefault((column, value), pid)
    if not owner or wh.engine not in ("duckdb", "postgres"):
        return {}
    latest: dict[str, tuple[Any, str]] = {}
    for column in EVENT_ID_TYPES.values():
        values = sorted(v for c, v in owner if c == column)
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            rows = _rows(
                wh,
                f'SELECT "{column}" AS id, max("timestamp") AS at, '
                'arg_max(context_timezone, "timestamp") AS tz FROM events '
                f'WHERE "{column}" IN ({_marks(chunk)}) AND context_timezone IS NOT NULL '
                "AND context_timezone <> '' GROUP BY 1"
                if wh.engine == "duckdb"
                else f'SELECT DISTINCT ON ("{column}") "{column}" AS id, "timestamp" AS at, '
                f'context_timezone AS tz FROM events WHERE "{column}" IN ({_marks(chunk)}) '
                "AND context_timezone IS NOT NULL AND context_timezone <> '' "
                f'ORDER BY "{column}", "timestamp" DESC',
                chunk,
            )
            for row in rows:
                pid = owner[(column, row["id"])]
                if pid not in latest or (row["at"] and row["at"] > latest[pid][0]):
                    latest[pid] = (row["at"], row["tz"])
    return {pid: tz for pid, (_, tz) in latest.items()}
