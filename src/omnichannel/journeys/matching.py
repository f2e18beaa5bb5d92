"""Event property filters (``where:`` of entries, waits and goals) tested on one event.

The segment language compiles the same filters to SQL (``segments/leaves.py``
``property_predicate``); the journey trigger tests each arriving event in Python instead,
since it looks at a batch of events it already holds. The two read a property alike: a
dotted path into ``properties``, compared as the operand's type (a number filter reads
``"12.5"`` as 12.5), a missing property failing every operator but ``exists: false``.

Example::

    where = [PropertyTest(property="total", gte=50)]
    passes(where, {"total": 80, "cartId": "c1"}, now)      # True
    property_value({"cart": {"id": "c1"}}, "cart.id")      # "c1"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from omnichannel.segments.definition import PropertyTest, resolve_moment

_MISSING = object()


def property_value(properties: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted ``path`` of ``properties``; None when any step is missing."""
    here: Any = properties
    for key in path.split("."):
        if not isinstance(here, Mapping) or key not in here:
            return None
        here = here[key]
    return here


def key_text(value: Any) -> str | None:
    """An entry key's value as stored (``cartId`` 42 and "42" are the same cart)."""
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text[:300] or None


def passes(
    where: Sequence[PropertyTest], properties: Mapping[str, Any] | None, now: datetime
) -> bool:
    """Every filter passes on ``properties`` (an empty list passes)."""
    return all(_test(test, property_value(properties, test.property), now) for test in where)


def _test(test: PropertyTest, value: Any, now: datetime) -> bool:
    for op, arg in test.operators().items():
        if op == "exists":
            if (value is not None) != bool(arg):
                return False
            continue
        if value is None:
            return False
        sample = arg[0] if op in ("in", "not_in", "between") else arg
        v = _as(value, sample, op)
        if v is _MISSING or not _operator(op, arg, v, now):
            return False
    return True


def _as(value: Any, sample: Any, op: str) -> Any:
    """``value`` read as the operand's type, or _MISSING when it cannot be."""
    try:
        if op in ("after", "before"):
            at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return at.replace(tzinfo=None) if at.tzinfo is None else _naive_utc(at)
        if isinstance(sample, bool):
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False}.get(str(value).lower(), _MISSING)
        if isinstance(sample, int | float):
            return float(value) if not isinstance(value, bool) else _MISSING
        return value if isinstance(value, str) else _text(value)
    except (TypeError, ValueError):
        return _MISSING


def _naive_utc(at: datetime) -> datetime:
    from datetime import UTC

    return at.astimezone(UTC).replace(tzinfo=None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _operator(op: str, arg: Any, v: Any, now: datetime) -> bool:
    if op == "equals":
        return bool(v == arg)
    if op == "not_equals":
        return bool(v != arg)
    if op == "in":
        return v in list(arg)
    if op == "not_in":
        return v not in list(arg)
    if op in ("gt", "gte", "lt", "lte", "between"):
        if not isinstance(v, float):
            return False
        if op == "between":
            return bool(arg[0] <= v <= arg[1])
        return {"gt": v > arg, "gte": v >= arg, "lt": v < arg, "lte": v <= arg}[op]
    if op == "contains":
        return str(arg).lower() in str(v).lower()
    if op == "starts_with":
        return str(v).startswith(str(arg))
    if op in ("after", "before"):
        at = resolve_moment(arg, now)
        at = _naive_utc(at) if at.tzinfo is not None else at
        return bool(v >= at) if op == "after" else bool(v < at)
    raise ValueError(f"unknown operator {op}")
