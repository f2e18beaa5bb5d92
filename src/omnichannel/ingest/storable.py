"""JSON every later step can store: bounded nesting, no lone surrogates, no NUL, no giant
integers, no NaN or Infinity.

JSON lets a sender write things our storage cannot hold or read back: ``"S\\ud800"`` (half
of a UTF-16 pair, which is not Unicode text and cannot be written as UTF-8), documents
nested thousands of levels deep (Python's parsers and encoders recurse, and stop near a
thousand levels) and integers of thousands of digits (Python refuses to read more than
4,300). Python's parser also reads ``NaN``, ``Infinity``, ``-Infinity`` and numbers too big
for a double (``1e999``), none of which is JSON (RFC 8259) nor a measurement; orjson would
silently write them as ``null`` and DuckDB would keep the bare word, so the two ways in
would store different things. The NUL character (``"\\u0000"``) is valid JSON, but
PostgreSQL's text cannot hold it (nor its JSON functions read it back), while DuckDB
keeps it; engines must not disagree on what is stored, and nothing legitimate sends NUL,
so it is refused on every engine, in keys and values alike. A call carrying any of them
is refused on its own, with the field, so one bad call in a batch never costs the good
ones beside it; the collector and the events-file loader both ask ``check_call`` and so
refuse the same calls with the same words.

Example::

    body, cut = loads_bounded(raw, cut_depth=limits.max_depth + 2)  # never RecursionError
    try:
        text = check_call(call, max_depth=limits.max_depth)  # compact JSON of the call
    except Unstorable as refused:
        keep = payload_text(call, cut)                        # the call as it was sent
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

# A call may nest this many levels of objects and arrays (the call itself is level 1).
MAX_DEPTH = 64
# Python reads at most this many digits of an integer (CPython's int_max_str_digits).
MAX_INT_DIGITS = 4300

_OPENERS = (ord("{"), ord("["))
_CLOSERS = (ord("}"), ord("]"))


class Unstorable(Exception):
    """A call holds something that cannot be stored: the field, the value shown, the reason."""

    def __init__(self, field: str, value: str, accepted: str) -> None:
        self.field = field
        self.value = value
        self.reason = f"expected {accepted}"
        super().__init__(f"{field}={value} is not accepted: {self.reason}")


class TooLongInteger:
    """Stands for an integer literal too long to read, so only its call is refused."""

    def __init__(self, digits: str) -> None:
        self.digits = digits


class NonFinite:
    """Stands for ``NaN``, ``Infinity``, ``-Infinity`` or a number beyond a double's range,
    as written, so only its call is refused (and its dead letter keeps what was sent)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


NON_FINITE_ACCEPTED = (
    "a finite number: NaN, Infinity and numbers beyond 1.8e308 are not JSON numbers; "
    "send null for no value, or the value as a string"
)


def _parse_float(text: str) -> float | NonFinite:
    # Every float literal comes here (a gate that scans the text for big exponents first
    # cost more than this call does), so 1e999 is caught wherever it is.
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


@dataclass
class Cut:
    """What ``loads_bounded`` replaced: placeholder string -> (original JSON, levels inside)."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    spans: dict[str, tuple[str, int]] = field(default_factory=dict)

    def placeholder(self, number: int) -> str:
        return f"\x00omni-too-deep:{self.token}:{number}"

    def restore(self, text: str) -> str:
        """``text`` (JSON written from a parsed value) with the cut spans put back."""
        for name, (original, _levels) in self.spans.items():
            text = text.replace(json.dumps(name), original)
        return text


def _parse_int(digits: str) -> int | TooLongInteger:
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else TooLongInteger(digits)


def loads_bounded(data: bytes | str, *, cut_depth: int) -> tuple[Any, Cut]:
    """``json.loads`` that never raises RecursionError, nor ValueError on giant integers.

    Subtrees deeper than ``cut_depth`` become placeholder strings (kept in the ``Cut`` with
    their original text and depth); integers over 4,300 digits become ``TooLongInteger``;
    ``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond a double become ``NonFinite``.
    Raises ``json.JSONDecodeError`` (a ``ValueError``) for text that is not JSON, and
    ``UnicodeDecodeError`` for bytes that are not UTF-8.
    """
    cut = Cut()
    try:
        return json.loads(data, parse_constant=NonFinite, parse_float=_parse_float), cut
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError):
        # Too deep, or "Exceeds the limit (4300 digits) for integer string conversion".
        pass
    raw = data.encode("utf-8") if isinstance(data, str) else data
    hooks: dict[str, Any] = {
        "parse_int": _parse_int,
        "parse_constant": NonFinite,
        "parse_float": _parse_float,
    }
    try:
        return json.loads(raw, **hooks), cut
    except RecursionError:
        pass
    try:
        return json.loads(_cut_deep(raw, cut_depth, cut), **hooks), cut
    except RecursionError:
        # Only text that is not JSON gets here (the cut text is shallow when it is JSON).
        text = raw.decode("utf-8", "replace")
        raise json.JSONDecodeError("nesting too deep to read", text, 0) from None


def _depths(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth after each byte, and which bytes open or close a container (strings skipped)."""
    data = np.frombuffer(raw, np.uint8)
    index = np.arange(len(data))
    backslash = data == ord("\\")
    last_other = np.maximum.accumulate(np.where(backslash, -1, index))
    # Backslashes right before each byte; an odd run escapes it.
    run = np.zeros(len(data), np.int64)
    run[1:] = index[:-1] - last_other[:-1]
    quote = (data == ord('"')) & (run % 2 == 0)
    outside = np.cumsum(quote) % 2 == 0
    outside &= ~quote
    opens = np.isin(data, _OPENERS) & outside
    closes = np.isin(data, _CLOSERS) & outside
    return np.cumsum(opens.astype(np.int64) - closes), opens, closes


def _cut_deep(raw: bytes, cut_depth: int, cut: Cut) -> bytes:
    depth, opens, closes = _depths(raw)
    starts = np.flatnonzero(opens & (depth == cut_depth + 1))
    ends = np.flatnonzero(closes & (depth == cut_depth))
    ends = ends[np.searchsorted(ends, starts[0]) :] if len(starts) else ends[:0]
    if len(starts) != len(ends) or np.any(ends[: len(starts)] < starts):
        # Unbalanced: not JSON. Let the parser say where, on text shallow enough to read.
        return raw[: int(starts[0])] if len(starts) else raw
    pieces: list[bytes] = []
    previous = 0
    for number, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        name = cut.placeholder(number)
        levels = int(depth[start : end + 1].max()) - cut_depth
        cut.spans[name] = (raw[start : end + 1].decode("utf-8", "replace"), levels)
        pieces += [raw[previous:start], json.dumps(name).encode()]
        previous = end + 1
    pieces.append(raw[previous:])
    return b"".join(pieces)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def check_call(call: Any, *, max_depth: int = MAX_DEPTH, cut: Cut | None = None) -> bytes:
    """The call as compact UTF-8 JSON, or ``Unstorable`` naming what cannot be stored.

    The usual call costs one ``orjson.dumps``: orjson itself refuses lone surrogates,
    a text with at most ``max_depth`` brackets cannot nest deeper than that, and a NUL
    (or a cut placeholder, which starts with one) is written as ``\\u0000``.
    """
    try:
        text = orjson.dumps(call, option=_ORJSON_OPTIONS)
    except TypeError:
        text = None
    shallow = text is not None and text.count(b"{") + text.count(b"[") <= max_depth
    if shallow and text is not None and b"\\u0000" not in text:
        return text
    _walk(call, max_depth, cut or Cut())
    # Nothing unstorable: what orjson would not write is an integer over 64 bits.
    return text if text is not None else _python_dumps(call).encode("utf-8")


def _python_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def payload_text(call: Any, cut: Cut | None = None) -> str:
    """A refused call as JSON text to keep in dead letters: what was sent, escaped if need be."""
    try:
        text = orjson.dumps(call, option=_ORJSON_OPTIONS, default=_digits).decode("utf-8")
    except TypeError:
        # Lone surrogates and huge integers: Python's json writes them as \\ud800 and digits.
        text = json.dumps(call, ensure_ascii=True, separators=(",", ":"), default=_digits)
    text = text.replace('"\\u0000omni-int:', "").replace(':omni-int\\u0000"', "")
    return cut.restore(text) if cut is not None and cut.spans else text


def _digits(value: object) -> object:
    if isinstance(value, TooLongInteger):
        # Marked so payload_text can drop the quotes and keep the number as it was written.
        return f"\x00omni-int:{value.digits}:omni-int\x00"
    if isinstance(value, NonFinite):
        return f"\x00omni-int:{value.text}:omni-int\x00"
    raise TypeError(f"cannot write {type(value).__name__}")


def _escaped(text: str, limit: int = 80) -> str:
    """JSON of ``text`` in ASCII (a lone surrogate as \\ud800), shortened for messages."""
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...")


def _key(key: object) -> str:
    text = str(key)
    return text if _encodes(text) and "\x00" not in text else _escaped(text)[1:-1]


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(call: Any, max_depth: int, cut: Cut) -> None:
    """Refuse the first unstorable thing: a too deep value, a lone surrogate, a NUL, a
    giant integer, NaN or Infinity."""
    # (value, path, level of the container holding it); iterative, so depth costs no stack.
    stack: list[tuple[Any, str, int]] = [(call, "", 0)]
    while stack:
        value, path, level = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if level + 1 > max_depth:
                _too_deep(path, level + 1, max_depth)
            items = value.items() if kind is dict else enumerate(value)
            for key, item in items:
                if kind is dict:
                    name = f"{path}.{_key(key)}" if path else _key(key)
                    _text(name, key, what="a key")
                else:
                    name = f"{path}[{key}]"
                stack.append((item, name, level + 1))
        elif kind is str:
            spanned = cut.spans.get(value)
            if spanned is not None:
                _too_deep(path, level + spanned[1], max_depth)
            _text(path, value, what="text")
        elif kind is NonFinite:
            raise Unstorable(path or "(call)", value.text, NON_FINITE_ACCEPTED)
        elif kind is TooLongInteger:
            raise Unstorable(
                path or "(call)",
                f"a {len(value.digits.lstrip('-'))}-digit integer",
                f"a number of at most {MAX_INT_DIGITS} digits (send longer ones as strings)",
            )


NUL_ACCEPTED = (
    "without the NUL character (\\u0000): PostgreSQL cannot store it in text, so no "
    "engine keeps it; remove it, or send binary data base64-encoded"
)


def _text(path: str, value: Any, *, what: str) -> None:
    if not isinstance(value, str):
        return
    if not _encodes(value):
        raise Unstorable(
            path or "(call)",
            _escaped(value),
            f"{what} that is valid Unicode: a lone UTF-16 surrogate (\\ud800-\\udfff not "
            "in a high-low pair) cannot be stored; the sender's string encoding is broken",
        )
    if "\x00" in value:
        raise Unstorable(path or "(call)", _escaped(value), f"{what} {NUL_ACCEPTED}")


def _too_deep(path: str, levels: int, max_depth: int) -> None:
    # ``levels`` is not shown: the walk stops at the first level too many, so only the
    # cut spans know the full depth, and the two paths must say the same thing.
    del levels
    top = path.split(".", 1)[0].split("[", 1)[0] or "(call)"
    raise Unstorable(
        top,
        f"more than {max_depth} levels of nesting",
        f"at most {max_depth} levels of nested objects and arrays in a call",
    )
