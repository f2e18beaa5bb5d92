"""``omni profiles``: build the 360° profile table (traits, CLV, rule tags)."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    key_value_table,
    rows_table,
)
from omnichannel.profiles.tags import TAGS_FILE_NAME
from omnichannel.profiles.traits.hours import DEFAULT_TIMEZONE
from omnichannel.warehouse import open_warehouse

app = typer.Typer(
    help="Profiles: one row per person with traits, CLV and rule tags.", no_args_is_help=True
)

TAGS_HELP = (
    f"YAML tag rules replacing the shipped ones (default: HOME/{TAGS_FILE_NAME} if it exists)."
)


@app.command("build")
def build_command(
    ctx: typer.Context,
    tags_file: Path | None = typer.Option(None, "--tags", help=TAGS_HELP),
    timezone: str = typer.Option(
        DEFAULT_TIMEZONE,
        "--timezone",
        envvar="OMNI_PROFILE_TIMEZONE",
        help="Time zone for events without context.timezone (IANA name).",
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Clock for recency and CLV (default: the latest event or order)."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if no input changed."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Build every profile: identifiers, presence, consent, RFM, channels, hours, CLV, tags."""
    from omnichannel.cli.jobs import run_as_job
    from omnichannel.jobs.builtin import parse_as_of

    settings = settings_of(ctx)
    # Checked here too, so a bad clock is refused naming the flag before any job starts.
    when = parse_as_of(as_of, field_name="--as-of")
    options = {
        "tags": str(tags_file.resolve()) if tags_file else None,
        "timezone": timezone,
        "as_of": when.isoformat() if when else None,
        "force": force,
    }
    # The `profiles-build` job, here or on the server that owns the home.
    data = run_as_job(settings, "profiles-build", options, show_progress=not as_json)["detail"]
    if as_json:
        emit_json(data)
        return
    summary = {
        k: data[k] for k in ("status", "profiles", "as_of", "timezone", "consent_rows", "seconds")
    }
    clv = data["clv"]
    if clv:
        summary["clv"] = (
            clv["error"] or f"{clv['customers']:,} buyers, {clv['repeat_buyers']:,} repeat"
        )
    console.print(key_value_table("Profiles", summary))
    if data["segments"]:
        console.print(
            rows_table("RFM segments", ["segment", "profiles"], list(data["segments"].items()))
        )
    if data["tags"]:
        console.print(rows_table("Tags", ["tag", "profiles"], list(data["tags"].items())))


@app.command("export")
def export_command(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", help="Directory to write the two files into."),
    fmt: str = typer.Option("parquet", "--format", help="csv or parquet."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Write identifiers.<fmt> (one row per profile and identifier) and traits.<fmt>."""
    from omnichannel.profiles.export import export_profiles

    settings = settings_of(ctx)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        report = export_profiles(wh, output, fmt=fmt)
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    rows = [(name, f"{report.rows[name]:,}", str(path)) for name, path in report.files.items()]
    console.print(rows_table(f"Profiles exported ({fmt})", ["file", "rows", "path"], rows))
