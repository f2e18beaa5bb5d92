"""``omni backup DIR`` and ``omni restore DIR``: a consistent copy of an installation."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json


def backup(
    ctx: typer.Context,
    directory: Path = typer.Argument(..., help="A new or empty directory to copy into."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Copy the warehouse, operational store, event log and home files, while serving."""
    from omnichannel.cli.jobs import run_as_job

    options = {"directory": str(directory.resolve())}
    # The `backup` job, here or on the server that owns the home (it holds the files).
    done = run_as_job(settings_of(ctx), "backup", options, show_progress=not as_json)["detail"]
    if as_json:
        emit_json(done)
        return
    console.print(
        f"Backed up to {done['directory']}: {sum(done['warehouse'].values()):,} warehouse "
        f"rows in {len(done['warehouse'])} tables, {sum(done['opstore'].values()):,} "
        f"operational-store rows, {sum(len(s) for s in done['logs'].values())} log files, "
        f"{len(done['files'])} home files."
    )


def restore(
    ctx: typer.Context,
    directory: Path = typer.Argument(..., help="A directory written by omni backup."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a home that holds data."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Put a backup in place as this home, checked table by table against its manifest."""
    from omnichannel.backup import restore as restore_backup
    from omnichannel.cli.remote import refuse_while_served

    settings = settings_of(ctx, needs_installation=False)  # it makes one
    refuse_while_served(settings, "a restore replaces the files the server holds open")
    done = restore_backup(settings, directory, replace=replace)
    if as_json:
        emit_json(done)
        return
    console.print(
        f"Restored {done['home']} from {done['from']} (taken {done['backed_up_at']}): "
        f"{done['warehouse_rows']:,} warehouse rows and {done['opstore_rows']:,} "
        "operational-store rows, as the manifest lists. Events acknowledged but not yet "
        "loaded at the backup are in the restored log; the next omni serve stores them."
    )
