"""``omni clv fit`` as a user runs it (in this process, on real files), and its input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv import TransactionColumns, fit_clv

# The command runs in this process: what it does is under test, not process start-up.
from tests.cli.run import omni_in_process as omni
from tests.profiles.test_clv_models import CALIBRATION_END, HOLDOUT_END, cdnow_raw, write_cdnow_csv

COLUMNS = TransactionColumns("customer_id", "date", "amount")


def fit_args(path: Path, *extra: str) -> list[str]:
    return [
        "clv",
        "fit",
        "--transactions",
        str(path),
        "--customer-col",
        "customer_id",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
        "--calibration-end",
        CALIBRATION_END,
        *extra,
    ]


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cdnow_csv(tmp_path_factory.mktemp("cdnow") / "cdnow.csv")


def test_cli_json_prints_the_published_parameters(cdnow_csv: Path, tmp_path: Path) -> None:
    output = tmp_path / "clv.parquet"
    args = fit_args(cdnow_csv, "--holdout-end", HOLDOUT_END, "--output", str(output), "--json")
    report = json.loads(omni(*args).stdout)
    bg, gg = report["bgnbd"], report["gamma_gamma"]
    assert [round(bg[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert [round(gg[k], 2) for k in ("p", "q", "gamma")] == [6.25, 3.74, 15.44]
    assert report["customers"] == 2357 and report["repeat_buyers"] == 946
    holdout = report["holdout"]
    assert holdout["actual"] == 1882
    assert [b["bucket"] for b in holdout["buckets"]][-1] == "7+"
    table = pd.read_parquet(output)
    assert len(table) == report["output"]["rows"] == 2357
    assert {"customer", "p_alive", "expected_purchases", "expected_average_value", "clv"} <= set(
        table.columns
    )
    # Customer ids keep their leading zeros from the CSV.
    assert table["customer"].iloc[0] == "0001"


def test_cli_tables_for_people(cdnow_csv: Path) -> None:
    out = omni(*fit_args(cdnow_csv, "--holdout-end", HOLDOUT_END)).stdout
    assert "BG/NBD" in out and "Gamma-Gamma" in out and "0.2426" in out and "7+" in out


def test_parquet_with_timestamps_and_daily_periods(tmp_path: Path) -> None:
    raw = cdnow_raw()
    frame = pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "date": pd.to_datetime(raw["date"], format="%Y%m%d") + pd.Timedelta(hours=13),
            "amount": raw["amount"].astype(float),
        }
    )
    path = tmp_path / "cdnow.parquet"
    frame.to_parquet(path)
    daily = fit_clv(path, COLUMNS, calibration_end=CALIBRATION_END, freq="D")
    # Days instead of weeks: alpha scales by 7, the shape parameters do not change.
    assert daily.bgnbd.r == pytest.approx(0.243, abs=0.001)
    assert daily.bgnbd.alpha == pytest.approx(4.414 * 7, rel=0.001)
    assert daily.bgnbd.b == pytest.approx(2.426, abs=0.002)
    assert daily.holdout is None


def test_cli_error_is_one_clear_line(cdnow_csv: Path) -> None:
    args = fit_args(cdnow_csv)
    args[args.index("amount")] = "price"
    result = omni(*args, check=False)
    assert result.returncode == 1
    assert "--amount-col='price'" in result.stderr
    assert "master_id, customer_id, date, cds, amount" in result.stderr
    assert "Traceback" not in result.stderr


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    return path


GOOD = [
    ("a", "2024-01-01", "10"),
    ("a", "2024-02-01", "12"),
    ("b", "2024-01-05", "8"),
    ("b", "2024-03-01", "9"),
]


@pytest.mark.parametrize(
    ("rows", "calibration_end", "field", "message"),
    [
        ([*GOOD, ("c", "2024-02-30", "5")], "2024-02-15", "date", "2024-02-30"),
        ([*GOOD, ("c", "2024-02-03", "n/a")], "2024-02-15", "amount", "'n/a'"),
        (GOOD, "2023-12-01", "--calibration-end", "2024-01-01 to 2024-03-01"),
        (GOOD, "2024-13-01", "--calibration-end", "YYYY-MM-DD"),
        (GOOD, "2024-01-20", "frequency", "no repeat buyers"),
    ],
)
def test_bad_inputs_name_the_problem(
    tmp_path: Path,
    rows: list[tuple[str, str, str]],
    calibration_end: str,
    field: str,
    message: str,
) -> None:
    path = write_csv(tmp_path / "tx.csv", rows)
    with pytest.raises(ValidationError) as caught:
        fit_clv(path, COLUMNS, calibration_end=calibration_end)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_missing_file_wrong_suffix_and_bad_holdout(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="existing CSV or Parquet"):
        fit_clv(tmp_path / "nope.csv", COLUMNS, calibration_end="2024-02-15")
    odd = tmp_path / "tx.xlsx"
    odd.write_text("x")
    with pytest.raises(ValidationError, match=r"\.parquet"):
        fit_clv(odd, COLUMNS, calibration_end="2024-02-15")
    path = write_csv(tmp_path / "tx.csv", GOOD)
    with pytest.raises(ValidationError, match="a date after 2024-02-15"):
        fit_clv(path, COLUMNS, calibration_end="2024-02-15", holdout_end="2024-02-01")
    with pytest.raises(ValidationError) as caught:
        fit_clv(path, COLUMNS, calibration_end="2024-03-01", holdout_end="2024-04-01")
    assert caught.value.field == "--calibration-end"
