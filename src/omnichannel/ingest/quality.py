"""The data-quality report: per source and day, how much came in and how good it was.

For each source and day it gives the rows per table, the rows refused (dead letters)
and the reject rate, the share of NULL in each column, and for events the late ones
(received more than ``late_hours`` after they happened) and the future ones (stamped
after they were received, beyond a few minutes of clock skew).

The day is when a record arrived where the table records arrival (events:
``received_at``; dead letters: ``received_at``) and when it happened otherwise (orders:
``ordered_at``; customer records: ``created_at``), because those tables keep no load
time. So a file of last year's orders shows under last year's days, while its rejected
rows show under today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from omnichannel.warehouse import Warehouse

CLOCK_SKEW = timedelta(minutes=5)

# table -> (day column, columns whose null rate is reported)
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "events": (
        "received_at",
        (
            "event",
            "user_id",
            "anonymous_id",
            "timestamp",
            "context_device_id",
            "context_campaign_name",
            "context_page_url",
        ),
    ),
    "orders": (
        "ordered_at",
        (
            "customer_record_id",
            "user_id",
            "ordered_at",
            "status",
            "currency",
            "total",
            "store_id",
            "campaign_id",
        ),
    ),
    "customer_records": (
        "created_at",
        ("first_name", "last_name", "email", "phone", "city", "country", "birth_date"),
    ),
}


def _per_day(
    t: ir.Table,
    day_column: str,
    columns: tuple[str, ...],
    since: date | None,
    extra: dict[str, ir.Value],
) -> list[dict[str, Any]]:
    day = t[day_column].cast("date").name("day")
    t = t.mutate(day=day)
    if since is not None:
        t = t.filter(t.day >= since)
    metrics: dict[str, ir.Value] = {"rows": t.count()}
    metrics.update({f"null__{c}": t[c].isnull().sum() for c in columns})
    metrics.update(
        {
            name: value.resolve(t) if hasattr(value, "resolve") else value
            for name, value in extra.items()
        }
    )
    return t.group_by(["source", "day"]).agg(**metrics).to_pyarrow().to_pylist()


def report(
    wh: Warehouse,
    *,
    source: str | None = None,
    days: int | None = None,
    today: date | None = None,
    late_hours: float = 24.0,
) -> list[dict[str, Any]]:
    """One dict per source and day, newest day first (see the module docstring)."""
    since = None if days is None else (today or date.today()) - timedelta(days=days - 1)
    out: dict[tuple[str, date | None], dict[str, Any]] = {}

    def entry(src: str, day: date | None) -> dict[str, Any]:
        return out.setdefault(
            (src, day),
            {
                "source": src,
                "day": day,
                "volumes": {},
                "rejected": 0,
                "reject_rate": 0.0,
                "late_events": 0,
                "future_events": 0,
                "null_rate": {},
            },
        )

    for name, (day_column, columns) in TABLES.items():
        t = wh.table(name)
        if source is not None:
            t = t.filter(t.source == source)
        extra: dict[str, ir.Value] = {}
        if name == "events":
            late = t.received_at > t.timestamp + ibis.interval(seconds=int(late_hours * 3600))
            future = t.timestamp > t.received_at + ibis.interval(seconds=CLOCK_SKEW.seconds)
            t = t.mutate(late=late.ifelse(1, 0), future=future.ifelse(1, 0))
            extra = {"late": t.late.sum(), "future": t.future.sum()}
        for row in _per_day(t, day_column, columns, since, extra):
            item = entry(row["source"], row["day"])
            rows = int(row["rows"])
            item["volumes"][name] = rows
            for column in columns:
                item["null_rate"][f"{name}.{column}"] = (
                    round(int(row[f"null__{column}"] or 0) / rows, 4) if rows else 0.0
                )
            item["late_events"] += int(row.get("late") or 0)
            item["future_events"] += int(row.get("future") or 0)
    letters = wh.table("dead_letters")
    if source is not None:
        letters = letters.filter(letters.source == source)
    for row in _per_day(letters, "received_at", (), since, {}):
        entry(row["source"], row["day"])["rejected"] = int(row["rows"])
    for item in out.values():
        accepted = sum(item["volumes"].values())
        total = accepted + item["rejected"]
        item["reject_rate"] = round(item["rejected"] / total, 4) if total else 0.0
    return sorted(out.values(), key=lambda r: (r["day"] or date.min, r["source"]), reverse=True)
