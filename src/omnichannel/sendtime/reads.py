"""Reading the stored model for a list of people: one parameterised statement.

A journey step asks for a few hundred people at once. Compiled through Ibis, a filter
``profile_id IN (500 literals)`` took over a second to compile (sqlglot walks every
literal) before the engine read anything; on DuckDB and PostgreSQL the list is instead
one bound array parameter of one statement written once (``= ANY(?)`` / ``IN (SELECT
unnest(?))``), so its cost is the engine's. Other engines (Spark, ClickHouse) take the
Ibis path.
"""

from __future__ import annotations

from typing import Any

import ibis

from omnichannel.profiles.timeline_sql import query
from omnichannel.sendtime.evidence import ACTIVITY
from omnichannel.warehouse import Warehouse

Row = dict[str, Any]
# Profiles wanted: DuckDB binds a list as a LIST, PostgreSQL as an array.
_WANTED = {
    "duckdb": "IN (SELECT unnest(?::VARCHAR[]))",
    "postgres": "= ANY(?)",
}


def evidence_rows(wh: Warehouse, ids: list[str], channel: str | None) -> list[Row]:
    """Each wanted profile's zone (its ``send_times`` row) and the counts it was fitted on
    (``channel`` and activity; every channel when None); a profile without a row is absent."""
    row_channel = channel or "email"  # the zone is the same on every channel's row
    channels = [channel, ACTIVITY] if channel is not None else None
    wanted = _WANTED.get(wh.engine)
    if wanted is None:
        return _evidence_ibis(wh, ids, row_channel, channels)
    hours_filter = ' AND h."channel" IN (?, ?)' if channels else ""
    sql = (
        'SELECT s."profile_id", s."timezone", h."channel", h."hour_of_week", h."observations" '
        'FROM (SELECT "profile_id", "timezone" FROM "send_times" '
        f'WHERE "channel" = ? AND "profile_id" {wanted}) AS s '
        'LEFT JOIN "send_time_hours" AS h ON h."profile_id" = s."profile_id"' + hours_filter
    )
    return query(wh, sql, [row_channel, ids, *(channels or [])])


def peak_rows(wh: Warehouse, channel: str | None) -> list[Row]:
    """``channel, hour_of_week, share, prior_strength`` of one channel (every one when None)."""
    if wh.engine not in _WANTED:
        peaks = wh.table("send_time_peaks")
        if channel is not None:
            peaks = peaks.filter(peaks.channel == channel)
        return list(peaks.order_by(["channel", "hour_of_week"]).to_pyarrow().to_pylist())
    where = ' WHERE "channel" = ?' if channel is not None else ""
    sql = (
        'SELECT "channel", "hour_of_week", "share", "prior_strength" FROM "send_time_peaks"'
        f'{where} ORDER BY "channel", "hour_of_week"'
    )
    return query(wh, sql, [channel] if channel is not None else [])


def _evidence_ibis(
    wh: Warehouse, ids: list[str], row_channel: str, channels: list[str] | None
) -> list[Row]:
    import pyarrow as pa

    wanted = ibis.memtable(pa.table({"profile_id": pa.array(ids, pa.string())}))
    st = wh.table("send_times").semi_join(wanted, "profile_id")
    hours = wh.table("send_time_hours").semi_join(wanted, "profile_id")
    st = st.filter(st.channel == row_channel)
    if channels is not None:
        hours = hours.filter(hours.channel.isin(channels))
    mine = st.select("profile_id", "timezone")
    joined = mine.left_join(hours, mine.profile_id == hours.profile_id)
    selected = joined.select(
        mine.profile_id, mine.timezone, hours.channel, hours.hour_of_week, hours.observations
    )
    return list(selected.to_pyarrow().to_pylist())
