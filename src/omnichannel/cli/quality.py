"""``omni quality``: volumes, reject rate, null rates, late and future events per source and day."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.ingest.quality import report
from omnichannel.warehouse import open_warehouse


def quality(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    days: int | None = typer.Option(None, "--days", min=1, help="Only the last N days."),
    late_hours: float = typer.Option(24.0, "--late-hours", help="An event is late after this."),
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
            ["source", "day", "rows", "rejected", "reject rate", "late events", "future events"],
            [
                [
                    r["source"],
                    r["day"] or "(no date)",
                    ", ".join(f"{t} {n:,}" for t, n in r["volumes"].items()) or "0",
                    r["rejected"],
                    f"{r['reject_rate']:.1%}",
                    r["late_events"],
                    r["future_events"],
                ]
                for r in rows
            ],
        )
    )
