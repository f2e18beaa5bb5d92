"""``omni events ...``: what the collector has stored, and loading its log by hand."""

from __future__ import annotations

from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.ingest.stats import event_stats
from omnichannel.warehouse import open_warehouse

app = typer.Typer(help="Collected events: counts, and loading the event log.", no_args_is_help=True)


@app.command("stats")
def stats(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Stored events by source and type, and dead letters by source and reason."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Any) -> dict[str, Any]:
        with platform.warehouse.reader() as wh:
            return event_stats(wh)

    result = on_installation(
        settings_of(ctx), local=local, remote=lambda server: server.get("/v1/events/stats")
    )
    if as_json:
        emit_json(result)
        return
    events = result["events"]
    console.print(
        rows_table(
            f"{events['total']:,} events",
            ["source", "type", "events", "last received"],
            [
                [r["source"], r["type"], int(r["events"]), r["last_received_at"]]
                for r in events["by_source_and_type"]
            ],
        )
    )
    letters = result["dead_letters"]
    console.print(
        rows_table(
            f"{letters['total']:,} dead letters",
            ["source", "kind", "field", "reason", "count"],
            [
                [r["source"], r["kind"], r["field"], r["reason"], int(r["dead_letters"])]
                for r in letters["by_source_and_reason"]
            ],
        )
    )


@app.command("drain")
def drain(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Load whatever the event logs hold into the warehouse (when the server is stopped):
    the event log, a collector process's log, and the bus when OMNI_BUS_URL is set."""
    from omnichannel.cli.remote import refuse_while_served
    from omnichannel.ingest.loader import DrainResult
    from omnichannel.ingest.runtime import drain_stopped

    settings = settings_of(ctx)
    refuse_while_served(settings, "the running server loads its event log itself")
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        drained = drain_stopped(settings, wh)
    result = DrainResult()
    for each in drained.values():
        result.add(each)
    if as_json:
        totals = {k: v for k, v in result.public().items() if k != "checkpoint"}
        emit_json({**totals, "logs": {name: r.public() for name, r in drained.items()}})
        return
    console.print(
        f"Loaded {result.records:,} log records from {', '.join(drained)}: "
        f"{result.events_stored:,} events stored, {result.duplicates:,} duplicates "
        f"skipped, {result.dead_letters:,} dead letters."
    )
