"""``omni ingest FILE``: load an export (CSV, JSONL, Parquet) through a source's mapping."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.ingest.connectors import IngestReport
from omnichannel.ingest.kinds import KINDS


def ingest(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The export to load: .csv, .jsonl or .parquet."),
    kind: str = typer.Option(..., "--kind", help=f"What the file holds: {'|'.join(KINDS)}."),
    source: str = typer.Option(..., "--source", help="Name of the source system, e.g. shopify."),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help="Mapping YAML file or shipped mapping name (default: the source's last mapping, "
        "else columns already named like the target fields).",
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="csv|jsonl|parquet (default: by extension)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Load one file; refused rows go to dead letters (see `omni dlq list`)."""
    from omnichannel.cli.jobs import run_as_job

    settings = settings_of(ctx)
    settings.ensure_home()
    options = {
        # Paths as the server sees them: it runs on this machine (its runtime file is here).
        "path": str(file.resolve()),
        "kind": kind,
        "source": source,
        "mapping": str(Path(mapping).resolve()) if mapping and Path(mapping).is_file() else mapping,
        "format": fmt,
    }
    # The `ingest` job, here or on the server that owns the home: same load, same report.
    report = IngestReport(
        **run_as_job(settings, "ingest", options, show_progress=not as_json)["detail"]
    )
    if as_json:
        emit_json(report.as_dict())
        return
    tables = sorted(set(report.written) | set(report.already_stored))
    console.print(
        rows_table(
            f"{report.path}: {report.rows:,} rows read, {report.rejected:,} rejected, "
            f"{report.fields_nulled:,} fields nulled"
            + (f", {report.erased:,} dropped (erased people)" if report.erased else "")
            + f" (mapping {report.mapping})",
            # new + updated = written; unchanged + older = already stored (see --json).
            ["table", "new", "updated", "unchanged", "older"],
            [
                [
                    t,
                    report.written.get(t, 0) - report.updated.get(t, 0),
                    report.updated.get(t, 0),
                    report.already_stored.get(t, 0) - report.older.get(t, 0),
                    report.older.get(t, 0),
                ]
                for t in tables
            ],
        )
    )
