"""``omni ingest FILE``: load an export (CSV, JSONL, Parquet) through a source's mapping."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, progress_bars, rows_table
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.kinds import KINDS
from omnichannel.ingest.mapping import load_mapping, mapping_of_source, remember_mapping
from omnichannel.ingest.segment import Limits
from omnichannel.warehouse import open_warehouse


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
    settings = settings_of(ctx)
    settings.ensure_home()
    chosen = load_mapping(mapping) if mapping else mapping_of_source(settings.home, source, kind)
    with (
        open_warehouse(settings.resolved_warehouse_url) as wh,
        progress_bars(enabled=not as_json) as progress,
    ):
        report = ingest_file(
            wh,
            file,
            kind=kind,
            source=source,
            mapping=chosen,
            fmt=fmt,
            region=settings.default_region,
            currency=settings.default_currency,
            progress=progress,
            limits=Limits(max_future=settings.event_max_future, max_age=settings.event_max_age),
        )
    # Only a mapping that loaded becomes the source's; a failed load leaves the old one.
    if mapping and chosen is not None:
        remember_mapping(settings.home, source, chosen)
    if as_json:
        emit_json(report.as_dict())
        return
    tables = sorted(set(report.written) | set(report.already_stored))
    console.print(
        rows_table(
            f"{report.path}: {report.rows:,} rows read, {report.rejected:,} rejected, "
            f"{report.fields_nulled:,} fields nulled (mapping {report.mapping})",
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
