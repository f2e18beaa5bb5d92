"""``omni attribution``: which channels get the credit for conversions, by a chosen model.

With ``--paths FILE`` it reads a CSV of path counts and needs no installation; otherwise
it attributes the warehouse's person-level paths through ``platform.attribution`` (or,
while ``omni serve`` owns the home, ``GET /api/analytics/attribution``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, errors, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

MODEL_HELP = (
    "first_touch, last_touch, last_non_direct, linear, time_decay, position_based, "
    "markov or shapley (docs/attribution.md defines each)."
)


def attribution(
    ctx: typer.Context,
    model: str = typer.Option("markov", "--model", "-m", help=MODEL_HELP),
    paths: Path | None = typer.Option(
        None,
        "--paths",
        help='A CSV of path counts: columns path ("a > b > c"), conversions, value, nulls.',
    ),
    sep: str | None = typer.Option(
        None, "--sep", help="The separator between channels in a path (default: detected)."
    ),
    lookback_days: float = typer.Option(
        30.0, "--lookback-days", help="Touches count up to this many days before a conversion."
    ),
    since: datetime | None = typer.Option(None, "--since", help="Conversions from (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="Conversions before (UTC)."),
    order: int = typer.Option(1, "--order", help="Markov chain order, 1 to 3."),
    half_life: float = typer.Option(
        7.0, "--half-life", help="time_decay: days (touches, on a path file) to halve a weight."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Credit conversions to channels: heuristics, Markov removal effect or Shapley value."""
    if paths is not None:
        from omnichannel.analytics.attribution.service import attribute_file

        result = attribute_file(paths, model, sep=sep, order=order, half_life=half_life)
    else:
        result = _on_warehouse(ctx, model, lookback_days, since, until, order, half_life)
    if as_json:
        emit_json(result)
        return
    _print(result)


def _on_warehouse(
    ctx: typer.Context,
    model: str,
    lookback_days: float,
    since: datetime | None,
    until: datetime | None,
    order: int,
    half_life: float,
) -> dict[str, Any]:
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.attribution.run(
            model,
            lookback_days=lookback_days,
            since=since,
            until=until,
            order=order,
            half_life=half_life,
        )

    def remote(server: ServerClient) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": model,
            "lookback_days": lookback_days,
            "order": order,
            "half_life": half_life,
        }
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        answer: dict[str, Any] = server.get("/api/analytics/attribution", **params)
        return answer

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _print(result: dict[str, Any]) -> None:
    parameters = ", ".join(f"{k}={v}" for k, v in result["parameters"].items() if v is not None)
    title = f"{result['model']} attribution" + (f" ({parameters})" if parameters else "")
    console.print(
        rows_table(
            title,
            ["channel", "conversions", "share", "value", "spend", "ROAS", "CPA"],
            [
                [
                    r["channel"],
                    f"{r['conversions']:,.2f}",
                    f"{r['share']:.1%}",
                    f"{r['value']:,.2f}",
                    "" if r["spend"] is None else f"{r['spend']:,.2f}",
                    "" if r["roas"] is None else f"{r['roas']:.2f}",
                    "" if r["cpa"] is None else f"{r['cpa']:,.2f}",
                ]
                for r in result["channels"]
            ],
        )
    )
    console.print(
        Text(
            f"{result['paths']:,} paths ({result['converting_paths']:,} converting), "
            f"{result['conversions']:,.0f} conversions worth {result['value']:,.2f}, "
            f"{result['nulls']:,.0f} nulls"
            + (
                f"; {result['conversions_without_touch']:,} conversions had no touch"
                " in the lookback"
                if result.get("conversions_without_touch")
                else ""
            )
        )
    )
    for r in result.get("rejected", []):
        errors.print(
            Text(f"line {r['line']} left out: {r['field']}={r['value']!r}, expected {r['reason']}")
        )
