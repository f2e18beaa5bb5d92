"""``omni operations``: the backups taken and the retention in force (``platform.operations``)."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(no_args_is_help=True, help="Upkeep: the backups taken, the retention in force.")


@app.command("backups")
def backups(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Newest N backups."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The backups taken (the backup job's runs), newest first, with what each copied."""
    from omnichannel.cli.remote import on_installation

    rows = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.operations.backups(limit=limit),
        remote=lambda server: server.get("/api/operations/backups", limit=limit),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            f"{len(rows)} backups (omni backup DIR takes one)",
            ["run", "status", "started", "seconds", "directory", "warehouse rows", "opstore rows"],
            [
                [
                    b["run"],
                    b["status"] if not b["error"] else f"{b['status']}: {b['error']}",
                    b["started_at"][:19],
                    "" if b["seconds"] is None else f"{b['seconds']:.1f}",
                    b["directory"] or "",
                    "" if b["warehouse_rows"] is None else f"{b['warehouse_rows']:,}",
                    "" if b["opstore_rows"] is None else f"{b['opstore_rows']:,}",
                ]
                for b in rows
            ],
        )
    )


@app.command("retention")
def retention(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """How long each table keeps its rows (OMNI_RETENTION) and what the last run deleted."""
    from omnichannel.cli.remote import on_installation

    found = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.operations.retention(),
        remote=lambda server: server.get("/api/operations/retention"),
    )
    if as_json:
        emit_json(found)
        return
    last = found["last_run"]
    when = "never run" if last is None else f"last run {last['started_at'][:19]} {last['status']}"
    console.print(
        rows_table(
            f"retention: {found['setting'] or 'nothing set (every table keeps its rows)'}; {when}",
            ["table", "store", "age by", "kept", "last cutoff", "last deleted"],
            [
                [
                    t["table"],
                    t["store"],
                    t["column"],
                    "for good" if t["days"] is None else f"{t['days']:g} days",
                    (t["last_cutoff"] or "")[:19],
                    "" if t["last_deleted"] is None else f"{t['last_deleted']:,}",
                ]
                for t in found["tables"]
            ],
        )
    )
