"""``omni clv fit``: customer lifetime value from any transaction file."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    escape,
    key_value_table,
    rows_table,
)
from omnichannel.errors import ValidationError

app = typer.Typer(
    help="Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, holdout check.",
    no_args_is_help=True,
)

PERIODS_PER_YEAR = {"D": 365, "W": 52}


@app.command("fit")
def fit(
    transactions: Path = typer.Option(
        ..., "--transactions", help="CSV (with a header) or Parquet file, one row per order."
    ),
    customer_col: str = typer.Option(..., "--customer-col", help="Column with the customer id."),
    date_col: str = typer.Option(
        ..., "--date-col", help="Column with the order date (ISO 8601, YYYYMMDD or a date type)."
    ),
    amount_col: str = typer.Option(..., "--amount-col", help="Column with the order value."),
    calibration_end: str = typer.Option(
        ..., "--calibration-end", help="Last day (inclusive) the models are fitted on, YYYY-MM-DD."
    ),
    holdout_end: str | None = typer.Option(
        None, "--holdout-end", help="Last day of the holdout period to check predictions on."
    ),
    freq: str = typer.Option("W", "--freq", help="Time unit of the parameters: D (days) or W."),
    output: Path | None = typer.Option(
        None, "--output", help="Write per-customer predictions to this .csv or .parquet file."
    ),
    horizon: float | None = typer.Option(
        None, "--horizon", help="Periods ahead for --output predictions and CLV (default: a year)."
    ),
    discount_rate: float = typer.Option(
        0.10, "--discount-rate", help="Annual discount rate for CLV, e.g. 0.10 for 10 %."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Fit BG/NBD and Gamma-Gamma on a transaction file; print parameters and a holdout check."""
    # Imported here so `omni --help` does not pay for scipy.
    from omnichannel.profiles.clv import TransactionColumns, customer_values, fit_clv, write_table

    freq = freq.upper()
    if freq not in PERIODS_PER_YEAR:
        raise ValidationError("--freq", freq, "D (days) or W (weeks)")
    result = fit_clv(
        transactions,
        TransactionColumns(customer_col, date_col, amount_col),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        freq="D" if freq == "D" else "W",
    )
    report = result.as_dict()
    if output is not None:
        periods = horizon if horizon is not None else float(PERIODS_PER_YEAR[freq])
        table = customer_values(result, horizon=periods, discount_rate=discount_rate)
        written = write_table(table, output)
        report["output"] = {
            "path": written,
            "rows": len(table),
            "horizon": periods,
            "discount_rate": discount_rate,
            "total_clv": float(table["clv"].sum()),
        }
    if as_json:
        emit_json(report)
        return
    _print_report(report)


def _print_report(report: dict[str, object]) -> None:
    bg = report["bgnbd"]
    gg = report["gamma_gamma"]
    assert isinstance(bg, dict) and isinstance(gg, dict)
    unit = "days" if report["freq"] == "D" else "weeks"
    console.print(
        key_value_table(
            f"Data (times in {unit})",
            {
                "purchases": f"{report['data_start']} to {report['data_end']}",
                "calibration end": report["calibration_end"],
                "holdout end": report["holdout_end"] or "-",
                "customers": report["customers"],
                "repeat buyers": report["repeat_buyers"],
            },
        )
    )
    console.print(
        key_value_table(
            "BG/NBD (purchases)",
            {k: f"{v:.4f}" if k != "log_likelihood" else f"{v:.2f}" for k, v in bg.items()},
        )
    )
    console.print(
        key_value_table(
            "Gamma-Gamma (spend)",
            {k: f"{v:.4f}" if k != "log_likelihood" else f"{v:.2f}" for k, v in gg.items()},
        )
    )
    holdout = report["holdout"]
    if isinstance(holdout, dict):
        console.print(
            rows_table(
                f"Holdout: repeat purchases in the {holdout['length']:g} {unit} after calibration",
                ["calibration frequency", "customers", "actual (mean)", "predicted (mean)"],
                [
                    [
                        b["bucket"],
                        b["customers"],
                        f"{b['actual_mean']:.3f}",
                        f"{b['predicted_mean']:.3f}",
                    ]
                    for b in holdout["buckets"]
                ],
            )
        )
        console.print(
            key_value_table(
                "Holdout totals",
                {
                    "actual": holdout["actual"],
                    "predicted": f"{holdout['predicted']:.1f} ({holdout['relative_error']:+.1%})",
                    "cumulative actual (calibration + holdout)": holdout["cumulative_actual"],
                    "cumulative predicted": f"{holdout['cumulative_predicted']:.1f} "
                    f"({holdout['cumulative_relative_error']:+.1%})",
                    "MAE per customer, model": f"{holdout['mae']:.3f}",
                    "MAE per customer, calibration-rate baseline": f"{holdout['mae_baseline']:.3f}",
                },
            )
        )
    written = report.get("output")
    if isinstance(written, dict):
        console.print(
            f"Wrote {written['rows']:,} customers to {escape(str(written['path']))} "
            f"(horizon {written['horizon']:g} {unit}, total CLV {written['total_clv']:,.2f})."
        )
