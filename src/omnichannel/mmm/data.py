"""What a marketing-mix model is fitted on: one row per period of target, spend and controls.

``MMMData`` comes from a table (a CSV file, CSV text or a pandas frame: ``from_frame``) or
from the warehouse (``from_warehouse``: ad spend by day and channel, orders or revenue by
day). Every check names the column, the value and what is accepted, so a bad file gives
a ``ValidationError`` rather than a fit on nonsense.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError
from omnichannel.mmm.curves import Period

if TYPE_CHECKING:
    from omnichannel.warehouse.store import Warehouse

PERIODS: tuple[Period, ...] = ("day", "week")
WAREHOUSE_TARGETS = ("orders", "revenue")


@dataclass(frozen=True)
class MMMData:
    """Contiguous periods (oldest first) of a target, spend per channel and controls."""

    dates: np.ndarray  # datetime64[D]: the day, or the Monday of the week
    target: np.ndarray  # (T,) what the spend is to explain: orders, revenue, conversions...
    spend: np.ndarray  # (C, T) spend per channel and period, >= 0
    channels: tuple[str, ...]
    controls: np.ndarray  # (K, T) the user's own controls (promotions, price, ...)
    control_names: tuple[str, ...]
    period: Period
    target_name: str
    source: str = "table"  # "table" (a CSV or frame) or "warehouse"
    value_per_unit: float | None = None  # revenue per unit of target (orders: mean order)

    @property
    def periods(self) -> int:
        return int(self.target.shape[0])

    def head(self, n: int) -> MMMData:
        """The first ``n`` periods (a fit's training part before a held-out tail)."""
        return replace(
            self,
            dates=self.dates[:n],
            target=self.target[:n],
            spend=self.spend[:, :n],
            controls=self.controls[:, :n],
        )

    def with_target(self, target: np.ndarray) -> MMMData:
        return replace(self, target=np.asarray(target, dtype=float))

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "period": self.period,
            "periods": self.periods,
            "first": str(self.dates[0]) if self.periods else None,
            "last": str(self.dates[-1]) if self.periods else None,
            "target": self.target_name,
            "channels": list(self.channels),
            "controls": list(self.control_names),
        }


def read_table(data: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A frame from a frame, a CSV file (``Path`` or a one-line ``str``) or CSV text."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, str) and "\n" in data.strip():
        return pd.read_csv(io.StringIO(data))
    path = Path(data)
    if not path.is_file():
        raise ValidationError("data", str(data), "a CSV file that exists, or CSV text")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValidationError("data", str(data), f"a readable CSV file ({exc})") from exc


def from_frame(
    data: str | Path | pd.DataFrame,
    *,
    date_col: str,
    target_col: str,
    spend_cols: Sequence[str],
    control_cols: Sequence[str] = (),
    period: str = "day",
) -> MMMData:
    """Check and shape a table: one row per date (daily rows may be summed into weeks)."""
    frame = read_table(data)
    _check_period(period)
    columns = [str(c) for c in frame.columns]
    if not spend_cols:
        raise ValidationError("spend_cols", "", "at least one spend column of: " + _list(columns))
    for field, names in (
        ("date_col", [date_col]),
        ("target_col", [target_col]),
        ("spend_cols", list(spend_cols)),
        ("control_cols", list(control_cols)),
    ):
        for name in names:
            if name not in columns:
                raise ValidationError(field, name, "a column of the data: " + _list(columns))
    used = [target_col, *spend_cols, *control_cols]
    if len(set(used)) != len(used) or date_col in used:
        raise ValidationError("spend_cols", ",".join(spend_cols), "each column used once")
    try:
        dates = pd.to_datetime(frame[date_col], errors="raise").dt.normalize()
    except (ValueError, TypeError) as exc:
        raise ValidationError("date_col", date_col, f"a column of dates ({exc})") from exc
    values = {name: _numeric(frame[name], name, dates) for name in used}
    for name in spend_cols:
        negative = np.flatnonzero(values[name] < 0)
        if negative.size:
            row = int(negative[0])
            raise ValidationError(
                name,
                float(values[name][row]),
                f"spend >= 0 (row {row + 2}, {dates.iloc[row].date()})",
            )
    table = pd.DataFrame(values)
    table.insert(0, "__date", dates.to_numpy())
    if table["__date"].duplicated().any() and period == "day":
        first = table.loc[table["__date"].duplicated(), "__date"].iloc[0]
        raise ValidationError(date_col, str(first.date()), "one row per date")
    table = _to_periods(table, period, date_col)
    return _build(
        table["__date"].to_numpy().astype("datetime64[D]"),
        table[target_col].to_numpy(float),
        np.vstack([table[c].to_numpy(float) for c in spend_cols]),
        tuple(spend_cols),
        np.vstack([table[c].to_numpy(float) for c in control_cols])
        if control_cols
        else np.zeros((0, len(table))),
        tuple(control_cols),
        period,  # type: ignore[arg-type]
        target_col,
        "table",
    )


def from_warehouse(wh: Warehouse, *, target: str = "orders", period: str = "day") -> MMMData:
    """Ad spend by day and channel, and orders (count) or revenue (sum of totals) by day."""
    if target not in WAREHOUSE_TARGETS:
        raise ValidationError("target", target, " or ".join(WAREHOUSE_TARGETS))
    _check_period(period)
    s = wh.table("ad_spend")
    spend = (
        s.filter(s.spend.notnull() & s.channel.notnull())
        .group_by(["date", "channel"])
        .agg(spend=s.spend.sum().cast("float64"))
        .to_pandas()
    )
    o = wh.table("orders")
    o = o.filter(o.ordered_at.notnull())
    daily = o.group_by(day=o.ordered_at.date()).agg(
        orders=o.count().cast("float64"), revenue=o.total.sum().cast("float64")
    )
    outcome = daily.to_pandas()
    if spend.empty:
        raise ValidationError("ad_spend", "no rows", "daily spend per channel in the warehouse")
    if outcome.empty:
        raise ValidationError("orders", "no rows", "orders in the warehouse")
    spend["date"] = pd.to_datetime(spend["date"])
    outcome["day"] = pd.to_datetime(outcome["day"])
    wide = spend.pivot_table(index="date", columns="channel", values="spend", aggfunc="sum")
    first = max(wide.index.min(), outcome["day"].min())
    last = min(wide.index.max(), outcome["day"].max())
    days = pd.date_range(first, last, freq="D")
    wide = wide.reindex(days).fillna(0.0)
    y = outcome.set_index("day")[target].reindex(days).fillna(0.0)
    channels = tuple(sorted(str(c) for c in wide.columns if wide[c].sum() > 0))
    table = pd.DataFrame({"__date": days, target: y.to_numpy(float)})
    for c in channels:
        table[c] = wide[c].to_numpy(float)
    table = _to_periods(table, period, "date")
    orders, revenue = float(outcome["orders"].sum()), float(outcome["revenue"].sum())
    data = _build(
        table["__date"].to_numpy().astype("datetime64[D]"),
        table[target].to_numpy(float),
        np.vstack([table[c].to_numpy(float) for c in channels]),
        channels,
        np.zeros((0, len(table))),
        (),
        period,  # type: ignore[arg-type]
        target,
        "warehouse",
    )
    if target == "orders" and orders > 0:
        data = replace(data, value_per_unit=revenue / orders)
    return data


def min_periods(channels: int, controls: int) -> int:
    """The fewest periods a fit accepts: four parameters per channel, each seen twice."""
    return max(2 * (4 * channels + controls), 20)


def _build(
    dates: np.ndarray,
    target: np.ndarray,
    spend: np.ndarray,
    channels: tuple[str, ...],
    controls: np.ndarray,
    control_names: tuple[str, ...],
    period: Period,
    target_name: str,
    source: str,
) -> MMMData:
    for c, name in enumerate(channels):
        if not np.any(spend[c] > 0):
            raise ValidationError(name, 0.0, "a spend column with some spend above zero")
    need = min_periods(len(channels), len(control_names))
    if len(dates) < need:
        raise ValidationError(
            "data",
            f"{len(dates)} {period}s",
            f"at least {need} {period}s for {len(channels)} channels and "
            f"{len(control_names)} controls",
        )
    return MMMData(
        dates, target, spend, channels, controls, control_names, period, target_name, source
    )


def _to_periods(table: pd.DataFrame, period: str, date_col: str) -> pd.DataFrame:
    """Daily rows as they are (gaps refused), or summed into weeks starting on Monday."""
    table = table.sort_values("__date").reset_index(drop=True)
    if period == "week":
        start = table["__date"] - pd.to_timedelta(table["__date"].dt.weekday, unit="D")
        summed = table.drop(columns="__date").groupby(start.to_numpy()).sum()
        weeks = pd.date_range(summed.index.min(), summed.index.max(), freq="7D")
        summed = summed.reindex(weeks).fillna(0.0)
        summed.insert(0, "__date", summed.index)
        return summed.reset_index(drop=True)
    steps = table["__date"].diff().dt.days.iloc[1:]
    if (steps != 1).any():
        k = int(np.flatnonzero((steps != 1).to_numpy())[0]) + 1
        raise ValidationError(
            date_col,
            f"{table['__date'].iloc[k - 1].date()} -> {table['__date'].iloc[k].date()}",
            "one row for every day (or --period week to sum the rows into weeks)",
        )
    return table


def _numeric(column: pd.Series, name: str, dates: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            name,
            column.iloc[row],
            f"a number on every row (row {row + 2}, {dates.iloc[row].date()})",
        )
    return values.to_numpy(dtype=float)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValidationError("period", period, " or ".join(PERIODS))


def _list(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"
