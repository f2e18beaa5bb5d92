"""A ``ResponseModel`` as JSON and back: what ``--model FILE``, the API's ``model`` field
and a stored plan carry when the curves do not come from the stored marketing-mix fit.

The document::

    {"target": "orders", "period": "day", "baseline_per_period": 120.0,
     "value_per_unit": 310.0,
     "curves": [{"channel": "search", "decay": 0.3, "half": 3000, "shape": 1.0, "top": 400}],
     "draws": [[{"channel": "search", "decay": 0.31, ...}], ...]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omnichannel.errors import ValidationError
from omnichannel.mmm.curves import ChannelCurve, ResponseModel
from omnichannel.textfiles import read_utf8

CURVE_FIELDS = ("channel", "decay", "half", "shape", "top")


def curve_to_dict(curve: ChannelCurve) -> dict[str, Any]:
    return {name: getattr(curve, name) for name in CURVE_FIELDS}


def model_to_dict(model: ResponseModel, *, draws: bool = True) -> dict[str, Any]:
    """JSON-ready; ``draws=False`` leaves the alternatives out (a page's curves)."""
    return {
        "target": model.target,
        "period": model.period,
        "baseline_per_period": model.baseline_per_period,
        "value_per_unit": model.value_per_unit,
        "curves": [curve_to_dict(c) for c in model.curves],
        "draws": [[curve_to_dict(c) for c in draw] for draw in model.draws] if draws else [],
    }


def _curve(where: str, item: Any) -> ChannelCurve:
    if not isinstance(item, Mapping):
        raise ValidationError(where, item, f"an object with {', '.join(CURVE_FIELDS)}")
    missing = [name for name in CURVE_FIELDS if name not in item]
    if missing:
        raise ValidationError(f"{where}.{missing[0]}", None, "a value (every curve has one)")
    numbers: dict[str, float] = {}
    for name in CURVE_FIELDS[1:]:
        try:
            numbers[name] = float(item[name])
        except (TypeError, ValueError):
            raise ValidationError(f"{where}.{name}", item[name], "a number") from None
    if not 0 <= numbers["decay"] < 1:
        raise ValidationError(f"{where}.decay", item["decay"], "a share from 0 up to (not) 1")
    for name in ("half", "shape", "top"):
        if numbers[name] <= 0:
            raise ValidationError(f"{where}.{name}", item[name], "a positive number")
    return ChannelCurve(str(item["channel"]), **numbers)


def _curves(where: str, items: Any) -> tuple[ChannelCurve, ...]:
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ValidationError(where, items, "a non-empty list of curves")
    curves = tuple(_curve(f"{where}[{i}]", item) for i, item in enumerate(items))
    names = [c.channel for c in curves]
    if len(set(names)) != len(names):
        raise ValidationError(where, names, "each channel once")
    return curves


def model_from_dict(document: Mapping[str, Any]) -> ResponseModel:
    """The model a document describes; a wrong field is named with its value."""
    if not isinstance(document, Mapping):
        raise ValidationError("model", document, "an object with target, period and curves")
    curves = _curves("model.curves", document.get("curves"))
    period = document.get("period", "day")
    if period not in ("day", "week"):
        raise ValidationError("model.period", period, "day or week")
    draws = []
    for index, draw in enumerate(document.get("draws") or []):
        parsed = _curves(f"model.draws[{index}]", draw)
        if tuple(c.channel for c in parsed) != tuple(c.channel for c in curves):
            raise ValidationError(
                f"model.draws[{index}]",
                [c.channel for c in parsed],
                f"the curves' channels in their order: {', '.join(c.channel for c in curves)}",
            )
        draws.append(parsed)
    value = document.get("value_per_unit")
    try:
        baseline = float(document.get("baseline_per_period", 0.0))
        value_per_unit = None if value is None else float(value)
    except (TypeError, ValueError):
        raise ValidationError(
            "model.baseline_per_period", document.get("baseline_per_period"), "a number"
        ) from None
    return ResponseModel(
        target=str(document.get("target", "conversions")),
        period=period,
        curves=curves,
        baseline_per_period=baseline,
        draws=tuple(draws),
        value_per_unit=value_per_unit,
    )


def read_model(path: str | Path) -> ResponseModel:
    """A model document from a JSON file."""
    file = Path(path)
    try:
        document = json.loads(read_utf8(file))
    except FileNotFoundError:
        raise ValidationError("model", str(file), "an existing JSON file") from None
    except OSError as exc:
        raise ValidationError("model", str(file), f"a JSON file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "model", str(file), f"JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    return model_from_dict(document)


def parse_pairs(field: str, pairs: Sequence[str]) -> dict[str, float]:
    """``["search=1000", "social=500"]`` (the CLI's repeated ``--min``) as a mapping."""
    out: dict[str, float] = {}
    for pair in pairs:
        channel, sep, value = pair.partition("=")
        if not sep or not channel.strip():
            raise ValidationError(field, pair, "CHANNEL=AMOUNT, e.g. search=1000")
        try:
            out[channel.strip()] = float(value)
        except ValueError:
            raise ValidationError(f"{field}.{channel.strip()}", value, "a number") from None
    return out
