"""Paths to attribute: one input for every model, from the warehouse or a CSV of path counts.

A ``PathSet`` holds many paths in flat numpy arrays (CSR style: ``offsets`` into
``touches``), so every model is a handful of vectorised operations whatever the number of
paths; a million person paths are a few arrays of a few million entries, not a million
Python lists. A path carries how many conversions it led to, their value, and how many
times it led to none (``nulls``: Markov and Shapley learn from those).

Path files are the aggregated form analysts already have (Google Analytics' top
conversion paths, ChannelAttribution's input): a CSV with columns ``path``
(``"search > email > direct"``), ``conversions``, ``value`` and ``nulls``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnichannel.errors import OmniError, ValidationError

# Candidate path separators, most specific first ("->" before ">").
SEPARATORS = ("->", ">", "|", "→", ";", ",", "/")
# Column names as the common tools spell them (ChannelAttribution, GA exports).
COLUMN_ALIASES = {
    "path": ("path", "paths", "conversion_path", "channel_path"),
    "conversions": ("conversions", "total_conversions", "total_conversion", "conv"),
    "value": ("value", "conversion_value", "total_conversion_value", "revenue"),
    "nulls": ("nulls", "null", "total_null", "total_nulls", "non_conversions"),
}
MAX_REJECTED_SHOWN = 20


@dataclass(frozen=True)
class Rejected:
    """A row of a path file that was left out, and why (the rest is still attributed)."""

    line: int
    field: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class PathSet:
    """Paths of channel touches with their outcomes, in flat arrays.

    ``touches[offsets[i]:offsets[i+1]]`` are path ``i``'s channels (codes into
    ``channels``), oldest first; ``ages`` (same length, or None) how many days each touch
    came before the path's end (its conversion), for time decay.
    """

    channels: tuple[str, ...]
    offsets: np.ndarray
    touches: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    ages: np.ndarray | None = None
    rejected: tuple[Rejected, ...] = field(default=())

    @classmethod
    def from_sequences(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: Sequence[float],
        value: Sequence[float] | None = None,
        nulls: Sequence[float] | None = None,
        *,
        ages: Sequence[Sequence[float]] | None = None,
        rejected: Sequence[Rejected] = (),
    ) -> PathSet:
        """Paths given as lists of channel names (tests, small inputs, the CSV reader)."""
        names = sorted({c for p in paths for c in p})
        code = {c: i for i, c in enumerate(names)}
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        if (lengths == 0).any():
            raise ValidationError("path", "", "at least one channel in every path")
        flat = np.fromiter((code[c] for p in paths for c in p), dtype=np.int32)
        n = len(paths)
        return cls(
            channels=tuple(names),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            touches=flat,
            conversions=np.asarray(conversions, dtype=np.float64).reshape(n),
            value=np.zeros(n) if value is None else np.asarray(value, np.float64).reshape(n),
            nulls=np.zeros(n) if nulls is None else np.asarray(nulls, np.float64).reshape(n),
            ages=None
            if ages is None
            else np.fromiter((a for ps in ages for a in ps), dtype=np.float64),
            rejected=tuple(rejected),
        )

    # --- derived arrays every model uses ------------------------------------------------

    @property
    def n_paths(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def path_of_touch(self) -> np.ndarray:
        """For each touch, the index of its path."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    def position(self) -> np.ndarray:
        """For each touch, its place in its path (0 = first)."""
        return np.arange(len(self.touches)) - np.repeat(self.offsets[:-1], self.lengths)

    def steps_before_end(self) -> np.ndarray:
        """For each touch, how many touches follow it in its path (0 = the last)."""
        return np.repeat(self.lengths, self.lengths) - 1 - self.position()

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())


# --- path files --------------------------------------------------------------------------


def read_paths_csv(
    source: str | Path, *, sep: str | None = None, name: str | None = None
) -> PathSet:
    """A ``PathSet`` from a CSV of path counts (a file path, or the CSV text itself).

    The field delimiter (comma, semicolon, tab) is read off the header; the separator is ``sep``
    or detected from the paths. A missing column, a bad separator or no usable row is an
    error naming it; a row with a bad number is left out and listed in ``rejected``.
    """
    if isinstance(source, Path):
        label = name or str(source)
        try:
            text = source.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise OmniError(f"cannot read the path file {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValidationError("paths", label, "a UTF-8 CSV file") from None
    else:
        label, text = name or "paths", source.lstrip("\ufeff")
    rows = _rows(text, label)
    header = [h.strip().lower() for h in rows[0]]
    columns = _columns(header, label)
    body = rows[1:]
    path_cells = [r[columns["path"]] if columns["path"] < len(r) else "" for r in body]
    separator = _separator(path_cells, sep)
    paths: list[list[str]] = []
    numbers: dict[str, list[float]] = {"conversions": [], "value": [], "nulls": []}
    rejected: list[Rejected] = []
    for line, (row, cell) in enumerate(zip(body, path_cells, strict=True), start=2):
        if not any(c.strip() for c in row):
            continue
        channels = [c.strip() for c in cell.split(separator)] if separator else [cell.strip()]
        if not cell.strip() or any(not c for c in channels):
            rejected.append(Rejected(line, "path", cell, "a channel between every separator"))
            continue
        parsed, problem = _numbers(row, columns, line)
        if problem is not None:
            rejected.append(problem)
            continue
        paths.append(channels)
        for key, number in parsed.items():
            numbers[key].append(number)
    if not paths:
        shown = "; ".join(
            f"line {r.line}: {r.field}={r.value!r} ({r.reason})" for r in rejected[:5]
        )
        raise ValidationError(
            f"{label}: rows", shown or "no rows", "at least one row with a path and numbers"
        )
    return PathSet.from_sequences(
        paths,
        numbers["conversions"],
        numbers["value"],
        numbers["nulls"],
        rejected=rejected,
    )


def paths_from_counts(counts: Sequence[dict[str, Any]], *, sep: str | None = None) -> PathSet:
    """A ``PathSet`` from JSON-like counts: ``{"path": "a > b" or [...], "conversions": ...}``."""
    paths: list[list[str]] = []
    numbers: dict[str, list[float]] = {"conversions": [], "value": [], "nulls": []}
    texts = [c.get("path") for c in counts if isinstance(c.get("path"), str)]
    separator = _separator([str(t) for t in texts], sep) if texts else None
    for i, item in enumerate(counts):
        where = f"paths[{i}]"
        raw = item.get("path")
        if isinstance(raw, list) and raw and all(isinstance(c, str) and c.strip() for c in raw):
            channels = [c.strip() for c in raw]
        elif isinstance(raw, str) and raw.strip():
            channels = [c.strip() for c in raw.split(separator)] if separator else [raw.strip()]
            if any(not c for c in channels):
                raise ValidationError(f"{where}.path", raw, "a channel between every separator")
        else:
            raise ValidationError(
                f"{where}.path", raw, 'a text path ("a > b") or a list of channel names'
            )
        paths.append(channels)
        for key in numbers:
            got = item.get(key, 0)
            number = _number(got)
            if number is None:
                raise ValidationError(f"{where}.{key}", got, "a number >= 0")
            numbers[key].append(number)
    if not paths:
        raise ValidationError("paths", [], "at least one path count")
    return PathSet.from_sequences(paths, numbers["conversions"], numbers["value"], numbers["nulls"])


def _rows(text: str, label: str) -> list[list[str]]:
    if not text.strip():
        raise ValidationError(label, "", "a CSV with a header row: path, conversions, value, nulls")
    first = text.splitlines()[0]
    # The header decides the delimiter: paths hold commas or semicolons themselves at times.
    delimiter = max(",;\t", key=first.count) if any(d in first for d in ",;\t") else ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _columns(header: list[str], label: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for key, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in header:
                found[key] = header.index(alias)
                break
    for required in ("path", "conversions"):
        if required not in found:
            raise ValidationError(
                f"{label}: column {required}",
                ", ".join(header),
                f"a header with columns path, conversions (value and nulls optional); "
                f"{required} may be spelled {', '.join(COLUMN_ALIASES[required])}",
            )
    return found


def _separator(cells: Sequence[str], given: str | None) -> str | None:
    """``given`` checked against the paths, else the candidate the most paths contain."""
    if given is not None:
        if not given.strip():
            raise ValidationError("sep", given, "a visible separator such as '>' or '|'")
        if cells and not any(given in c for c in cells):
            seen = [s for s in SEPARATORS if any(s in c for c in cells)]
            if seen:
                raise ValidationError(
                    "sep", given, f"a separator the paths use (they contain {seen[0]!r})"
                )
        return given
    best, best_count = None, 0
    for candidate in SEPARATORS:
        count = sum(candidate in c for c in cells)
        if count > best_count:
            best, best_count = candidate, count
    return best


def _numbers(
    row: list[str], columns: dict[str, int], line: int
) -> tuple[dict[str, float], Rejected | None]:
    parsed: dict[str, float] = {}
    for key in ("conversions", "value", "nulls"):
        if key not in columns:
            parsed[key] = 0.0
            continue
        cell = row[columns[key]].strip() if columns[key] < len(row) else ""
        number = 0.0 if cell == "" and key != "conversions" else _number(cell)
        if number is None:
            return parsed, Rejected(line, key, cell, "a number >= 0")
        parsed[key] = number
    return parsed, None


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        number = float(str(raw).strip().replace("_", "")) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None
