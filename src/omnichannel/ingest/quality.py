"""The data-quality report: per source and arrival day, how much came in and how good it was.

For each source and day it gives the rows per table, the rows refused (dead letters
with action ``rejected``) and the reject rate, the fields stored empty because their
value was unreadable (``field_nulled`` letters), the share of NULL in each column, the
late rows (arrived more than ``late_hours`` after they happened) and the future rows
(stamped after they arrived, beyond a few minutes of clock skew) of events and orders,
identify traits that are not valid identifiers, and orders that need a look: negative
totals or quantities (returns and refunds) and totals that match neither their lines'
sum, nor that sum with shipping and tax, nor that less the order discount.

The day is always the arrival day: ``received_at`` for events, ``loaded_at`` for the
tables connectors write (rows loaded before schema version 2 have none and fall back
to when they happened), ``received_at`` for dead letters. So rows and their rejects
count on the same day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from omnichannel.ingest.normalize import EMAIL_PATTERN, PHONE_PATTERN
from omnichannel.warehouse import Warehouse

CLOCK_SKEW = timedelta(minutes=5)
CENT = 0.01

# table -> (arrival column, fallback day column, columns whose null rate is reported)
TABLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "events": (
        "received_at",
        "timestamp",
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
        "loaded_at",
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
        "loaded_at",
        "created_at",
        ("first_name", "last_name", "email", "phone", "city", "country", "birth_date"),
    ),
}
# table -> its event time, for late and future rows
EVENT_TIME = {"events": "timestamp", "orders": "ordered_at"}


def _per_day(
    t: ir.Table, day: ir.Value, columns: tuple[str, ...], since: date | None, extra: dict[str, Any]
) -> list[dict[str, Any]]:
    t = t.mutate(day=day.cast("date"))
    if since is not None:
        t = t.filter(t.day >= since)
    metrics: dict[str, ir.Value] = {"rows": t.count()}
    metrics.update({f"null__{c}": t[c].isnull().sum() for c in columns})
    metrics.update({name: t[name].sum() for name in extra})
    return t.group_by(["source", "day"]).agg(**metrics).to_pyarrow().to_pylist()


def _flags(wh: Warehouse, name: str, t: ir.Table, late_hours: float) -> dict[str, ir.Value]:
    """0/1 columns counted per day: late and future rows, invalid traits, odd orders."""
    out: dict[str, ir.Value] = {}
    if name in EVENT_TIME:
        happened = t[EVENT_TIME[name]]
        arrived = t[TABLES[name][0]]
        late = arrived > happened + ibis.interval(seconds=int(late_hours * 3600))
        future = happened > arrived + ibis.interval(seconds=int(CLOCK_SKEW.total_seconds()))
        out["late"] = late.ifelse(1, 0).fill_null(0)
        out["future"] = future.ifelse(1, 0).fill_null(0)
    if name == "events":
        traits = t.traits.cast("json")
        email, phone = traits["email"].str, traits["phone"].str
        bad = (email.notnull() & ~email.strip().lower().re_search(f"^{EMAIL_PATTERN}$")) | (
            phone.notnull() & ~phone.strip().re_search(PHONE_PATTERN)
        )
        out["invalid_identifiers"] = bad.ifelse(1, 0).fill_null(0)
    if name == "orders":
        lines = wh.table("order_lines")
        sums = lines.group_by(["source", "order_id"]).agg(
            lines_total=lines.line_total.sum(), negative_lines=(lines.quantity < 0).sum()
        )
        joined = t.left_join(sums, ["source", "order_id"]).select(
            t, "lines_total", "negative_lines"
        )
        extras = joined.shipping.fill_null(0) + joined.tax.fill_null(0)
        # A total may be its lines alone, with shipping and tax, or also less an order
        # discount the lines do not already carry; matching none of them is inconsistent.
        candidates = (
            joined.lines_total,
            joined.lines_total + extras,
            joined.lines_total + extras - joined.discount.fill_null(0),
        )
        inconsistent = joined.lines_total.notnull() & joined.total.notnull()
        for candidate in candidates:
            inconsistent = inconsistent & ((joined.total - candidate).abs() > CENT)
        negative = (joined.total < 0) | (joined.negative_lines.fill_null(0) > 0)
        return {
            **out,
            "__t": joined,
            "inconsistent_totals": inconsistent.ifelse(1, 0).fill_null(0),
            "returns": negative.ifelse(1, 0).fill_null(0),
        }
    return out


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
                "fields_nulled": 0,
                "late_events": 0,
                "future_events": 0,
                "late_rows": {},
                "future_rows": {},
                "invalid_identifiers": 0,
                "inconsistent_totals": 0,
                "returns": 0,
                "null_rate": {},
            },
        )

    for name, (arrival, fallback, columns) in TABLES.items():
        t = wh.table(name)
        if source is not None:
            t = t.filter(t.source == source)
        flags = _flags(wh, name, t, late_hours)
        t = flags.pop("__t", t)
        t = t.mutate(**flags)
        day = t[arrival].coalesce(t[fallback])
        for row in _per_day(t, day, columns, since, flags):
            item = entry(row["source"], row["day"])
            rows = int(row["rows"])
            item["volumes"][name] = rows
            for column in columns:
                item["null_rate"][f"{name}.{column}"] = (
                    round(int(row[f"null__{column}"] or 0) / rows, 4) if rows else 0.0
                )
            if name in EVENT_TIME:
                item["late_rows"][name] = int(row["late"] or 0)
                item["future_rows"][name] = int(row["future"] or 0)
            for flag in ("invalid_identifiers", "inconsistent_totals", "returns"):
                item[flag] += int(row.get(flag) or 0)
    letters = wh.table("dead_letters")
    if source is not None:
        letters = letters.filter(letters.source == source)
    nulled = (letters.action == "field_nulled").fill_null(False)
    letters = letters.mutate(refused=nulled.ifelse(0, 1), nulled=nulled.ifelse(1, 0))
    for row in _per_day(letters, letters.received_at, (), since, {"refused": 0, "nulled": 0}):
        item = entry(row["source"], row["day"])
        item["rejected"] = int(row["refused"] or 0)
        item["fields_nulled"] = int(row["nulled"] or 0)
    for item in out.values():
        item["late_events"] = item["late_rows"].get("events", 0)
        item["future_events"] = item["future_rows"].get("events", 0)
        accepted = sum(item["volumes"].values())
        total = accepted + item["rejected"]
        item["reject_rate"] = round(item["rejected"] / total, 4) if total else 0.0
    return sorted(out.values(), key=lambda r: (r["day"] or date.min, r["source"]), reverse=True)
