"""``omni linkage run|explain``: probabilistic record linkage (Splink) of customer records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    escape,
    key_value_table,
    progress_bars,
    rows_table,
)
from omnichannel.errors import ValidationError
from omnichannel.warehouse import open_warehouse

app = typer.Typer(
    help="Probabilistic record linkage (Splink) for customer records that share no identifier.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="Linkage YAML (default: the shipped linkage_default.yaml)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Keep links with match probability >= P (overrides the config)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Train the model, score blocked pairs, replace this model's rows in record_links."""
    # Imported here so `omni --help` does not pay for Splink.
    from omnichannel.identity.linkage import run_linkage
    from omnichannel.identity.linkage_config import load_config

    linkage_config = load_config(config)
    settings = settings_of(ctx)
    with (
        open_warehouse(settings.resolved_warehouse_url) as wh,
        progress_bars(enabled=not as_json) as progress,
    ):
        result = run_linkage(
            warehouse=wh, config=linkage_config, threshold=threshold, progress=progress
        )
    report = result.as_dict()
    report["config"] = linkage_config.origin
    if as_json:
        emit_json(report)
        return
    _print_run(report)


@app.command("explain")
def explain(
    ctx: typer.Context,
    record: str = typer.Argument(..., help="The record as SOURCE:RECORD_ID, e.g. pos:LOY-500123."),
    model: str | None = typer.Option(None, "--model", help="Only links of this model."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Show one record's links, each with the evidence of every compared field."""
    from omnichannel.identity.linkage import links_of

    source, sep, record_id = record.partition(":")
    if not sep or not source or not record_id:
        raise ValidationError("record", record, "SOURCE:RECORD_ID, e.g. pos:LOY-500123")
    with open_warehouse(settings_of(ctx).resolved_warehouse_url) as wh:
        links = links_of(warehouse=wh, source=source, record_id=record_id, model=model)
    if as_json:
        emit_json(links)
        return
    if not links:
        console.print(f"No probabilistic links for {escape(record)}.")
        return
    for link in links:
        console.print(
            rows_table(
                f"{link['record']} -> {link['linked_to']}: match probability "
                f"{link['match_probability']:.4f}, weight {link['match_weight']:.2f} "
                f"({link['model']})",
                ["field", "level", "match weight", "Bayes factor"],
                [
                    [name, e["level"], f"{e['match_weight']:+.2f}", f"{e['bayes_factor']:.3g}"]
                    for name, e in link["explanation"].items()
                ],
            )
        )


def _print_run(report: dict[str, Any]) -> None:
    records = report["records"]
    console.print(
        key_value_table(
            f"Linkage model {report['model']} ({report['backend']}, {report['seconds']} s)",
            {
                "config": report["config"],
                "link type": report["link_type"],
                "records compared": report["records_total"],
                "by source": ", ".join(f"{s} {n:,}" for s, n in records.items()),
                "prior (P two random records match)": f"{report['prior']:.3g}",
                "threshold": report["threshold"],
                "pairs at or above threshold": report["above_threshold"],
                "of which share an identifier (left to the graph)": report["skipped_shared"],
                "links written": report["links"] if report["written"] else "0 (not written)",
                "links by sources": ", ".join(
                    f"{k} {v:,}" for k, v in report["links_by_sources"].items()
                )
                or "-",
            },
        )
    )
    console.print(
        rows_table(
            "Trained model: match weight of each level (log2 m/u)",
            ["field", "levels"],
            [
                [
                    p["field"],
                    "; ".join(
                        f"{lv['level']} {lv['match_weight']:+.1f}"
                        for lv in p["levels"]
                        if lv["match_weight"] is not None
                    ),
                ]
                for p in report["parameters"]
            ],
        )
    )
    if report["top_links"]:
        console.print(
            rows_table(
                "Top links",
                ["left", "right", "names", "probability", "weight"],
                [
                    [
                        t["left"],
                        t["right"],
                        f"{t['name_left']} / {t['name_right']}",
                        f"{t['match_probability']:.4f}",
                        f"{t['match_weight']:.2f}",
                    ]
                    for t in report["top_links"]
                ],
            )
        )
