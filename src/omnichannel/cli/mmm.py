"""``omni mmm``: fit the marketing-mix model on a CSV or the warehouse; show the fit in use.

Each command calls ``platform.mmm`` on the installation, or, while ``omni serve`` owns the
home, ``/api/mmm`` (a CSV is posted as the request body).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, errors, rows_table
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Marketing-mix model: ROI, marginal ROI, adstock and saturation per channel.",
    no_args_is_help=True,
)


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@app.command("fit")
def fit(
    ctx: typer.Context,
    data: Path | None = typer.Option(
        None, "--data", help="A CSV, one row per day (or week); without it, the warehouse."
    ),
    date_col: str | None = typer.Option(None, "--date-col", help="CSV: the date column."),
    target_col: str | None = typer.Option(
        None, "--target-col", help="CSV: the column to explain (sales, orders, conversions)."
    ),
    spend_cols: str | None = typer.Option(
        None, "--spend-cols", help="CSV: spend columns, comma-separated (one per channel)."
    ),
    control_cols: str | None = typer.Option(
        None, "--control-cols", help="CSV: controls (promotions, price...), comma-separated."
    ),
    target: str = typer.Option(
        "orders", "--target", help="Warehouse: orders (count per day) or revenue."
    ),
    period: str = typer.Option("day", "--period", help="day or week (daily rows summed)."),
    holdout_days: int | None = typer.Option(
        None, "--holdout-days", help="Days held out at the end to score it (default: 10%)."
    ),
    method: str = typer.Option("fast", "--method", help="fast, or bayes (omnichannel[bayes])."),
    bootstrap: int = typer.Option(30, "--bootstrap", help="Fast fit: refits for intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search and the bootstrap."),
    detail: bool = typer.Option(
        False, "--detail", help="--json: add response curves and contribution over time."
    ),
    store: bool = typer.Option(
        True,
        "--store/--no-store",
        help="Keep the fit as a version of the mmm model; --no-store with --data needs no home.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Fit adstock and saturation per channel; print spend, contribution, ROI, marginal ROI."""
    if data is not None and not data.is_file():
        raise ValidationError("data", str(data), "a CSV file that exists")
    if data is not None and not store:
        from omnichannel.mmm.service import fit_table

        shown = fit_table(
            data,
            date_col=date_col,
            target_col=target_col,
            spend_cols=_names(spend_cols),
            control_cols=_names(control_cols),
            period=period,
            detail=detail,
            method=method,
            holdout_days=holdout_days,
            bootstrap=bootstrap,
            seed=seed,
        )
        if as_json:
            emit_json(shown)
        else:
            _print(shown)
        return
    options: dict[str, Any] = {
        "date_col": date_col,
        "target_col": target_col,
        "spend_cols": _names(spend_cols),
        "control_cols": _names(control_cols),
        "target": target,
        "period": period,
        "method": method,
        "holdout_days": holdout_days,
        "bootstrap": bootstrap,
        "seed": seed,
        "detail": detail,
    }
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.mmm.fit(data, by="cli", **options)

    def remote(server: ServerClient) -> dict[str, Any]:
        params = {
            k: ",".join(v) if isinstance(v, list) else v
            for k, v in options.items()
            if v is not None and v != []
        }
        content = data.read_bytes() if data is not None else b""
        answer: dict[str, Any] = server.request(
            "POST",
            "/api/mmm/fit",
            params=params,
            content=content,
            headers={"content-type": "text/csv"},
        )
        return answer

    result = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(result)
        return
    _print(result)


@app.command("show")
def show(
    ctx: typer.Context,
    detail: bool = typer.Option(False, "--detail", help="--json: curves and time series too."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The fit in use: the one budget allocation plans with."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.mmm.latest_report(detail=detail)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get("/api/mmm/latest", detail=str(detail).lower())
        return answer

    result = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(result)
        return
    _print(result)


def _value(figure: dict[str, Any], fmt: str) -> str:
    value, (lo, hi) = figure["value"], figure["interval"]
    if value is None:
        return ""
    text = format(value, fmt)
    if lo is not None and hi is not None:
        text += f" [{format(lo, fmt)}, {format(hi, fmt)}]"
    return text


def _print(result: dict[str, Any]) -> None:
    data = result["data"]
    title = (
        f"{result['method']} marketing-mix fit of {result['target']} per {result['period']}"
        f" ({data['first']} to {data['last']}, {data['periods']} {result['period']}s)"
    )
    console.print(
        rows_table(
            title,
            ["channel", "spend", "contribution", "share", "ROI", "marginal ROI", "decay", "half"],
            [
                [
                    r["channel"],
                    f"{r['spend']:,.2f}",
                    _value(r["contribution"], ",.1f"),
                    _value(r["share"], ".1%"),
                    _value(r["roi"], ".4g"),
                    _value(r["marginal_roi"], ".4g"),
                    _value(r["decay"], ".2f"),
                    _value(r["half"], ",.0f"),
                ]
                for r in result["channels"]
            ],
        )
    )
    holdout = result["fit"]["holdout"]
    line = f"intervals: {result['interval']}"
    if holdout.get("periods"):
        mape = holdout.get("mape")
        line += (
            f"; held-out {holdout['periods']} {result['period']}s from {holdout['first']}: "
            + (f"MAPE {mape:.1%}, " if mape is not None else "")
            + f"RMSE {holdout['rmse']:,.3f}"
        )
    if "version" in result:
        line += f"; stored as mmm v{result['version']} ({result['status']})"
    console.print(Text(line))
    if result.get("promotion_refused"):
        errors.print(Text(f"not put in use: {result['promotion_refused']}"))
