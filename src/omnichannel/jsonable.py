"""One rule for turning our values into JSON, whichever face they leave by.

The CLI's ``--json``, the API's answers built from service dicts and the job history's
stored details all go through ``jsonable`` (or ``json_default`` as ``json.dumps``'s
``default``), so one value reads the same everywhere:

- ``Decimal`` becomes a string (``Decimal("19.99")`` -> ``"19.99"``). Money is
  ``decimal(18, 2)`` in the warehouse; as a JSON number it would be read back as a
  binary double by most clients (``19.99`` is ``19.989999999999998...``, and sums drift:
  ``0.1 + 0.2`` is ``0.30000000000000004``). A string keeps every digit, and a client
  that wants arithmetic parses it with its own decimal type;
- ``datetime``, ``date`` and ``time`` become ISO 8601 text;
- ``Path`` and ``UUID`` become their text;
- a mapping's keys become strings; lists, tuples, sets (sorted when they can be) become
  arrays; an object with ``as_dict()`` becomes that dict;
- anything else that JSON cannot carry becomes ``str(value)``, rather than failing a
  command or a job record over a value only meant to be read.

Example::

    jsonable({"total": Decimal("19.99"), "at": datetime(2026, 12, 1)})
    # {'total': '19.99', 'at': '2026-12-01T00:00:00'}
    json.dumps(data, default=json_default)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any
from uuid import UUID

_PLAIN = (str, int, float, bool, type(None))


def json_default(value: object) -> object:
    """For ``json.dumps(default=...)``: what JSON cannot carry, as ``jsonable`` writes it."""
    if isinstance(value, Decimal):
        # Exact: see the module docstring (money must not become a binary double).
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, PurePath | UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return _sorted(value)
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` with every part JSON can carry as is (dicts, lists, text, numbers, null)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return jsonable(json_default(value))


def _sorted(values: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def trait_value(value: Any) -> Any:
    """A trait as JSON: traits stored as JSON text (tags, channels, affinities, consent)
    are decoded; anything else, or text that is not JSON after all, is returned as is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
