"""``platform.attribution``: the library face of attribution that the CLI and the API call.

Example::

    with Platform.open("omni-home") as platform:
        result = platform.attribution.run("markov", lookback_days=30)
        for row in result["channels"]:
            print(row["channel"], row["conversions"], row["roas"])
        platform.attribution.from_paths(Path("paths.csv"), "shapley")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.analytics.attribution import MODELS
from omnichannel.analytics.attribution.heuristics import (
    Credit,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from omnichannel.analytics.attribution.markov import MAX_ORDER, markov
from omnichannel.analytics.attribution.paths import PathSet, paths_from_counts, read_paths_csv
from omnichannel.analytics.attribution.shapley import WORTHS, shapley
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

DEFAULT_LOOKBACK_DAYS = 30.0
DEFAULT_HALF_LIFE_DAYS = 7.0


def attribute(
    paths: PathSet,
    model: str,
    *,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE_DAYS,
    worth: str = "auto",
) -> Credit:
    """The credit ``model`` gives each channel of ``paths``."""
    rules: dict[str, Callable[[], Credit]] = {
        "first_touch": lambda: first_touch(paths),
        "last_touch": lambda: last_touch(paths),
        "last_non_direct": lambda: last_non_direct(paths),
        "linear": lambda: linear(paths),
        "time_decay": lambda: time_decay(paths, half_life),
        "position_based": lambda: position_based(paths),
        "markov": lambda: markov(paths, order),
        "shapley": lambda: shapley(paths, worth),
    }
    if model not in rules:
        raise ValidationError("model", model, ", ".join(MODELS))
    if order not in range(1, MAX_ORDER + 1):
        raise ValidationError("order", order, f"1, 2 or {MAX_ORDER} (Markov chain order)")
    if worth not in WORTHS:
        raise ValidationError("worth", worth, ", ".join(WORTHS))
    if paths.n_paths == 0:
        return Credit(model, (), paths.conversions[:0], paths.value[:0], {})
    return rules[model]()


def report(
    credit: Credit,
    paths: PathSet,
    *,
    parameters: Mapping[str, Any],
    spend: Mapping[str, float] | None = None,
    conversions_without_touch: int = 0,
) -> dict[str, Any]:
    """The answer every face gives: per channel credited conversions and value, with ROAS
    (value / spend) and CPA (spend / conversions) where the channel's spend is known."""
    spend = dict(spend or {})
    total = credit.conversions.sum()
    rows: list[dict[str, Any]] = []
    for i, channel in enumerate(credit.channels):
        conversions = float(credit.conversions[i])
        value = float(credit.value[i])
        cost = spend.get(channel)
        rows.append(
            {
                "channel": channel,
                "conversions": round(conversions, 6),
                "value": round(value, 2),
                "share": round(conversions / total, 6) if total > 0 else 0.0,
                "spend": None if cost is None else round(cost, 2),
                "roas": round(value / cost, 4) if cost else None,
                "cpa": round(cost / conversions, 2)
                if cost is not None and conversions > 0
                else None,
            }
        )
    rows.sort(key=lambda r: (-float(r["conversions"]), str(r["channel"])))
    for channel in sorted(set(spend) - set(credit.channels)):
        rows.append(
            {
                "channel": channel,
                "conversions": 0.0,
                "value": 0.0,
                "share": 0.0,
                "spend": round(spend[channel], 2),
                "roas": 0.0,
                "cpa": None,
            }
        )
    return {
        "model": credit.model,
        "parameters": dict(parameters),
        "paths": paths.n_paths,
        "converting_paths": int((paths.conversions > 0).sum()),
        "conversions": round(paths.total_conversions, 6),
        "value": round(paths.total_value, 2),
        "nulls": round(float(paths.nulls.sum()), 6),
        "conversions_without_touch": conversions_without_touch,
        "channels": rows,
        "details": credit.details,
        "rejected": [r.as_dict() for r in paths.rejected],
    }


class AttributionCapability:
    """Attribution on the warehouse's person-level paths, or on a file of path counts."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def paths(
        self,
        *,
        lookback_days: float = DEFAULT_LOOKBACK_DAYS,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
    ) -> tuple[PathSet, int]:
        """Every person's paths (one profile = one person) and conversions with no touch."""
        from omnichannel.analytics.attribution.touches import person_paths

        window = _window(lookback_days, since, until)
        with self._platform.warehouse.reader() as wh:
            return person_paths(wh, self._platform.config.rules, window)

    def run(
        self,
        model: str = "markov",
        *,
        lookback_days: float = DEFAULT_LOOKBACK_DAYS,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        order: int = 1,
        half_life: float = DEFAULT_HALF_LIFE_DAYS,
        worth: str = "auto",
    ) -> dict[str, Any]:
        """Attribute the conversions in ``[since, until)`` to the touches before them."""
        _check_model(model)
        paths, untouched = self.paths(lookback_days=lookback_days, since=since, until=until)
        credit = attribute(paths, model, order=order, half_life=half_life, worth=worth)
        with self._platform.warehouse.reader() as wh:
            from omnichannel.analytics.attribution.touches import spend_by_channel

            spend = spend_by_channel(wh, _as_datetime(since), _as_datetime(until))
        parameters = _parameters(model, order, half_life, worth)
        parameters.update(
            lookback_days=lookback_days,
            since=_as_datetime(since),
            until=_as_datetime(until),
        )
        return report(
            credit, paths, parameters=parameters, spend=spend, conversions_without_touch=untouched
        )

    def from_paths(
        self,
        file: str | Path | Sequence[Mapping[str, Any]],
        model: str = "markov",
        *,
        sep: str | None = None,
        order: int = 1,
        half_life: float = DEFAULT_HALF_LIFE_DAYS,
        worth: str = "auto",
        spend: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Attribute a CSV of path counts (a file, or CSV text) or a list of path counts.

        ``file``: a ``Path`` or a one-line ``str`` names a file; text of several lines is
        the CSV itself; a list holds ``{"path", "conversions", "value", "nulls"}`` items.
        """
        return attribute_file(
            file, model, sep=sep, order=order, half_life=half_life, worth=worth, spend=spend
        )


def attribute_file(
    file: str | Path | Sequence[Mapping[str, Any]],
    model: str,
    *,
    sep: str | None = None,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE_DAYS,
    worth: str = "auto",
    spend: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """``from_paths`` without an installation: a path file needs no warehouse."""
    _check_model(model)
    if isinstance(file, str) and "\n" not in file:
        file = Path(file)  # one line is a file's name; CSV text has a header and rows
    if isinstance(file, (str, Path)):
        paths = read_paths_csv(file, sep=sep)
    else:
        paths = paths_from_counts([dict(item) for item in file], sep=sep)
    credit = attribute(paths, model, order=order, half_life=half_life, worth=worth)
    parameters = _parameters(model, order, half_life, worth)
    if model == "time_decay":
        parameters["half_life_unit"] = "touches"
    return report(credit, paths, parameters=parameters, spend=spend)


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValidationError("model", model, ", ".join(MODELS))


def _parameters(model: str, order: int, half_life: float, worth: str) -> dict[str, Any]:
    if model == "markov":
        return {"order": order}
    if model == "time_decay":
        return {"half_life": half_life}
    if model == "shapley":
        return {"worth": worth}
    return {}


def _window(lookback_days: float, since: Any, until: Any) -> Any:
    from omnichannel.analytics.attribution.touches import Window

    if not lookback_days > 0:
        raise ValidationError("lookback_days", lookback_days, "a number of days > 0")
    start, end = _as_datetime(since), _as_datetime(until)
    if start is not None and end is not None and start >= end:
        raise ValidationError("since", since, f"a time before until ({until})")
    return Window(lookback_days=float(lookback_days), since=start, until=end)


def _as_datetime(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # Warehouse times are naive UTC.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)
