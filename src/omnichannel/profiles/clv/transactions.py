"""Read a transaction file (CSV or Parquet) into clean ``customer, date, amount`` columns.

Every problem a user can fix is raised as a ``ValidationError`` naming the column, the
offending value and what would be accepted, so ``omni clv fit`` fails with one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class TransactionColumns:
    """Which columns of the file hold the customer id, the purchase date and the amount."""

    customer: str
    date: str
    amount: str


def _relation(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return con.read_parquet(str(path))
    if name.endswith(CSV_SUFFIXES):
        # Everything as text: customer ids keep their leading zeros and we parse dates and
        # amounts ourselves, so a bad value is reported by row instead of a sniffing error.
        return con.read_csv(str(path), header=True, all_varchar=True)
    raise ValidationError(
        "transactions", str(path), "a file ending in " + ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
    )


def read_transactions(path: Path | str, columns: TransactionColumns) -> pd.DataFrame:
    """The file's rows as ``customer`` (str), ``date`` (datetime64, day) and ``amount`` (float).

    Example::

        tx = read_transactions("orders.csv", TransactionColumns("user_id", "ts", "total"))
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError("transactions", str(path), "an existing CSV or Parquet file")
    con = duckdb.connect()
    try:
        try:
            relation = _relation(con, path)
            available = list(relation.columns)
        except duckdb.Error as exc:
            raise ValidationError(
                "transactions", str(path), f"a readable CSV (with a header) or Parquet file ({exc})"
            ) from exc
        for option, column in (
            ("--customer-col", columns.customer),
            ("--date-col", columns.date),
            ("--amount-col", columns.amount),
        ):
            if column not in available:
                raise ValidationError(
                    option, column, "one of the file's columns: " + ", ".join(available)
                )
        selected = relation.select(
            *(duckdb.ColumnExpression(c) for c in (columns.customer, columns.date, columns.amount))
        )
        frame = selected.df()
    finally:
        con.close()
    frame.columns = pd.Index(["customer", "date", "amount"])
    return clean_transactions(frame, columns)


def clean_transactions(frame: pd.DataFrame, columns: TransactionColumns) -> pd.DataFrame:
    """Validate and convert raw ``customer, date, amount`` columns (names as in the file)."""
    if frame.empty:
        raise ValidationError("transactions", "0 rows", "at least one transaction")
    missing_customer = frame["customer"].isna()
    if missing_customer.any():
        row = int(missing_customer.to_numpy().nonzero()[0][0])
        raise ValidationError(columns.customer, None, f"a customer id on every row (row {row + 1})")
    return pd.DataFrame(
        {
            "customer": frame["customer"].astype(str).to_numpy(),
            "date": parse_dates(frame["date"], columns.date).to_numpy(),
            "amount": parse_amounts(frame["amount"], columns.amount).to_numpy(),
        }
    )


def parse_dates(values: pd.Series, column: str) -> pd.Series:
    """Dates or timestamps (ISO 8601 text, ``YYYYMMDD`` numbers) truncated to the day."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        text = values.astype("string").str.strip()
        # Eight digits is how CDNOW and many exports write a date (19970101); pandas'
        # ISO 8601 parser would reject it, so it gets its own format.
        compact = text.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        if compact.any():
            parsed[compact] = pd.to_datetime(text[compact], format="%Y%m%d", errors="coerce")
        if (~compact).any():
            iso = pd.to_datetime(text[~compact], format="ISO8601", errors="coerce", utc=True)
            parsed[~compact] = iso.dt.tz_localize(None)
    bad = parsed.isna()
    if bad.any():
        first = values[bad].iloc[0]
        raise ValidationError(
            column,
            None if pd.isna(first) else str(first),
            f"a date on every row, as YYYY-MM-DD, an ISO 8601 timestamp or YYYYMMDD "
            f"({int(bad.sum())} rows do not parse)",
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.dt.normalize().astype("datetime64[ns]")


def parse_amounts(values: pd.Series, column: str) -> pd.Series:
    """Amounts as floats; text such as ``"12.50"`` is accepted, ``"n/a"`` is not."""
    if pd.api.types.is_bool_dtype(values):
        raise ValidationError(column, "boolean column", "numeric amounts")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
    else:
        numbers = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    bad = pd.Series(
        ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)), index=values.index
    )
    if bad.any():
        first = values[bad].iloc[0]
        raise ValidationError(
            column,
            None if pd.isna(first) else str(first),
            f"a number on every row, e.g. 12.50 ({int(bad.sum())} rows are not numeric)",
        )
    return numbers.astype(float)
