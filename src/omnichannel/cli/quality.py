"""``omni quality``: every figure of the data-quality report, per source and day."""

from __future__ import annotations

from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.ingest.quality import report
from omnichannel.warehouse import open_warehouse


def _day(r: dict[str, Any]) -> object:
    return r["day"] or "(no date)"


def quality(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    days: int | None = typer.Option(None, "--days", min=1, help="Only the last N days."),
    late_hours: float = typer.Option(24.0, "--late-hours", help="A row is late after this."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The data-quality report per source and day."""
    with open_warehouse(settings_of(ctx).resolved_warehouse_url) as wh:
        rows = report(wh, source=source, days=days, late_hours=late_hours)
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            "Data quality per source and day",
            ["source", "day", "rows", "rejected", "reject rate", "fields nulled"],
            [
                [
                    r["source"],
                    _day(r),
                    ", ".join(f"{t} {n:,}" for t, n in r["volumes"].items()) or "0",
                    r["rejected"],
                    f"{r['reject_rate']:.1%}",
                    r["fields_nulled"],
                ]
                for r in rows
            ],
        )
    )
    # A second table, so every figure the report computes is on screen without one
    # row wrapping past a terminal's width.
    console.print(
        rows_table(
            "Rows to look at per source and day",
            [
                "source",
                "day",
                "late events",
                "future events",
                "late orders",
                "future orders",
                "invalid identifiers",
                "returns",
                "inconsistent totals",
            ],
            [
                [
                    r["source"],
                    _day(r),
                    r["late_rows"].get("events", 0),
                    r["future_rows"].get("events", 0),
                    r["late_rows"].get("orders", 0),
                    r["future_rows"].get("orders", 0),
                    r["invalid_identifiers"],
                    r["returns"],
                    r["inconsistent_totals"],
                ]
                for r in rows
            ],
        )
    )
    console.print(
        rows_table(
            "Share of empty values per source and day (fields with any)",
            ["source", "day", "field", "null rate"],
            [
                [r["source"], _day(r), field, f"{rate:.1%}"]
                for r in rows
                for field, rate in r["null_rate"].items()
                if rate
            ],
        )
    )
