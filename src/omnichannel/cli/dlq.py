"""``omni dlq list|replay``: see refused records and re-load them once the cause is fixed."""

from __future__ import annotations

from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    FORMAT_OPTION_HELP,
    JSON_OPTION_HELP,
    console,
    emit_json,
    emit_listing,
    output_format,
    progress_bars,
    rows_table,
)
from omnichannel.ingest.mapping import Mapping, load_mapping, mapping_of_source
from omnichannel.ingest.replay import count_pending, pending, replay
from omnichannel.ingest.segment import Limits
from omnichannel.warehouse import open_warehouse

app = typer.Typer(
    help="Dead letters: records refused on the way in, with the reason.", no_args_is_help=True
)

LETTER_COLUMNS = ["source", "kind", "origin", "field", "value", "reason", "attempts", "status"]


@app.command("list")
def list_letters(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    include_accepted: bool = typer.Option(
        False, "--all", help="Also those a replay accepted, and nulled-field flags."
    ),
    limit: int = typer.Option(
        100, "--limit", min=1, help="Letters to show at most; the total is always reported."
    ),
    fmt: str | None = typer.Option(None, "--format", help=FORMAT_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Dead letters still pending (not accepted by a replay), newest first."""
    from omnichannel.cli.remote import on_installation

    chosen = output_format(fmt, as_json)

    def local(platform: Any) -> dict[str, Any]:
        with platform.warehouse.reader() as wh:
            return {
                "rows": pending(wh, source=source, include_accepted=include_accepted, limit=limit),
                "total": count_pending(wh, source=source, include_accepted=include_accepted),
            }

    page = on_installation(
        settings_of(ctx),
        local=local,
        remote=lambda server: server.get(
            "/v1/dead-letters", source=source, all=include_accepted, limit=limit
        ),
    )
    rows, total = page["rows"], page["total"]
    emit_listing(
        noun="dead letter",
        columns=LETTER_COLUMNS if chosen == "table" else list(rows[0]) if rows else LETTER_COLUMNS,
        rows=rows,
        total=total,
        limit=limit,
        fmt=chosen,
    )


@app.command("replay")
def replay_letters(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help="Fixed mapping (YAML file or shipped name) for its kind; "
        "default: the mapping each source was last loaded with.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Re-load pending dead letters; each attempt is recorded, accepted ones leave the list."""
    settings = settings_of(ctx)
    fixed = load_mapping(mapping) if mapping else None

    def mapping_for(letter_source: str, kind: str) -> Mapping | None:
        # Not remembered: re-load with `omni ingest --mapping` to make it the source's.
        if fixed is not None and fixed.kind.name == kind:
            return fixed
        return mapping_of_source(settings.home, letter_source, kind)

    with (
        open_warehouse(settings.resolved_warehouse_url) as wh,
        progress_bars(enabled=not as_json) as progress,
    ):
        report = replay(
            wh,
            mapping_for=mapping_for,
            source=source,
            region=settings.default_region,
            currency=settings.default_currency,
            progress=progress,
            # The installation's time bounds, for file rows and the collector's calls alike.
            limits=Limits(max_future=settings.event_max_future, max_age=settings.event_max_age),
        )
    if as_json:
        emit_json(
            {"accepted": report.accepted, "rejected": report.rejected, "groups": report.groups}
        )
        return
    console.print(
        rows_table(
            f"replayed: {report.accepted} accepted, {report.rejected} still rejected",
            ["source", "kind", "pending", "accepted", "rejected", "note"],
            [
                [
                    g["source"],
                    g["kind"],
                    g["pending"],
                    g["accepted"],
                    g["rejected"],
                    g.get("skipped") or g.get("mapping", ""),
                ]
                for g in report.groups
            ],
        )
    )
