"""Which normalised rows are refused, and which fields are stored empty instead.

A value present in the file but unreadable as its field's type (``not-an-email``,
``19450493`` as a date), or a time outside the collector's bounds (more than
``max_future`` after the load, or for event times more than ``max_age`` before it), is
*invalid*. What happens then is the field's ``on_invalid``:

- ``reject``: the whole record goes to dead letters (for orders, with its sibling rows);
- ``null``: the record is stored without that value, and a dead letter with action
  ``field_nulled`` records the field, the value and why, for the quality report.

Required fields (the kind's ids) always reject. Otherwise the field's ``on_invalid``,
else the mapping's, else the kind's default applies: ``reject`` for what an order or a
product is worth and when an order happened (``Kind.strict``) and for all of ad spend,
whose sums would silently shrink; ``null`` for everything else (names, emails, phones,
birth dates, addresses, identifiers, attributes...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.ingest.deadletter import (
    FIELD_NULLED,
    INVALID_IDENTIFIER,
    INVALID_VALUE,
    MISSING_REQUIRED,
    OUT_OF_TIME_BOUNDS,
    SIBLING_REFUSED,
    DeadLetter,
)
from omnichannel.ingest.mapping import FieldSpec, Mapping
from omnichannel.ingest.normalize import accepted
from omnichannel.ingest.readers import ROW, RawRows
from omnichannel.ingest.segment import Limits

REJECT, NULL = "reject", "null"
# Times that say when something happened: a record dated long ago is fine (a CRM
# contact created in 2012, a birth date), an event that old is a clock error.
EVENT_TIMES = {("fields", "ordered_at"), ("fields", "timestamp"), ("fields", "date")}


def specs(mapping: Mapping) -> list[tuple[str, str, FieldSpec, str]]:
    """(section, target, spec, value type) of every mapped field, in mapping order."""
    return [
        (section, target, spec, mapping.kind.value_type(section, target))
        for section, specs_ in mapping.sections.items()
        for target, spec in specs_.items()
    ]


def policy(mapping: Mapping, section: str, target: str, spec: FieldSpec) -> str:
    """``reject`` or ``null``: what an invalid value of this field does to its record."""
    kind = mapping.kind
    if section == "fields" and (target in kind.required or target == kind.derivable):
        return REJECT
    if spec.on_invalid or mapping.on_invalid:
        return spec.on_invalid or mapping.on_invalid or REJECT
    return REJECT if f"{section}.{target}" in kind.strict else kind.on_invalid


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass(frozen=True)
class _Found:
    index: int
    label: str
    value: str
    reason: str
    code: str


class Rejections:
    """Rows refused so far (the first reason found for a row is recorded) and fields nulled."""

    def __init__(
        self,
        table: pa.Table,
        raw: RawRows,
        mapping: Mapping,
        source: str,
        origin_of: Callable[[int], str],
        received_at: datetime,
    ) -> None:
        self.received_at = received_at
        self.mask = np.zeros(table.num_rows, dtype=bool)
        self.rows = table.column(ROW).to_numpy()
        self.raw, self.mapping, self.source, self.origin_of = raw, mapping, source, origin_of
        self.found: list[_Found] = []
        self.nulled: list[_Found] = []

    def add(
        self, bad: np.ndarray, label: str, values: pa.ChunkedArray, reason: str, code: str
    ) -> None:
        new = np.flatnonzero(bad & ~self.mask)
        if len(new):
            texts = values.take(pa.array(new)).to_pylist()
            self.found.extend(
                _Found(int(i), label, str(t), reason, code) for i, t in zip(new, texts, strict=True)
            )
            self.mask |= bad

    def flag(
        self, bad: np.ndarray, label: str, values: pa.ChunkedArray, reason: str, code: str
    ) -> None:
        texts = values.take(pa.array(np.flatnonzero(bad))).to_pylist()
        self.nulled.extend(
            _Found(int(i), label, str(t), reason, code)
            for i, t in zip(np.flatnonzero(bad), texts, strict=True)
        )

    def _letters(self, found: list[_Found], action: str) -> list[tuple[int, DeadLetter]]:
        if not found:
            return []
        positions = {int(r): i for i, r in enumerate(self.raw.table.column(ROW).to_pylist())}
        rows = [int(self.rows[f.index]) for f in found]
        payloads = self.raw.table.take(pa.array([positions[r] for r in rows])).drop([ROW])
        return [
            (
                row,
                DeadLetter(
                    source=self.source,
                    kind=self.mapping.kind.name,
                    origin=self.origin_of(row),
                    payload=json.dumps(record, ensure_ascii=False),
                    field=f.label,
                    value=f.value,
                    reason=f.reason,
                    reason_code=f.code,
                    action=action,
                    # One time per load, so a load's letters list together in row order.
                    received_at=self.received_at,
                ),
            )
            for row, record, f in zip(rows, payloads.to_pylist(), found, strict=True)
        ]

    def letters(self) -> dict[int, DeadLetter]:
        """The refused rows' letters, by file row."""
        return dict(self._letters(self.found, "rejected"))

    def flags(self) -> dict[int, list[DeadLetter]]:
        """Letters of the fields nulled in rows that were stored, by file row."""
        kept = [f for f in self.nulled if not self.mask[f.index]]
        out: dict[int, list[DeadLetter]] = {}
        for row, letter in self._letters(kept, FIELD_NULLED):
            out.setdefault(row, []).append(letter)
        return out


def _span(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def _out_of_bounds(
    value: pa.ChunkedArray, vt: str, event_time: bool, now: datetime, limits: Limits
) -> tuple[np.ndarray, str]:
    latest = now + limits.max_future
    bound: pa.Scalar = pa.scalar(latest if vt == "timestamp" else latest.date())
    late = pc.greater(value, bound)
    reason = f"a time no later than {_span(limits.max_future)} after the load"
    if event_time:
        earliest = now - limits.max_age
        early_bound: pa.Scalar = pa.scalar(earliest if vt == "timestamp" else earliest.date())
        late = pc.or_(late, pc.less(value, early_bound))
        reason += f" and no earlier than {_span(limits.max_age)} before it"
    return _mask(pc.fill_null(late, False)), reason


def validate(
    table: pa.Table,
    raw: RawRows,
    mapping: Mapping,
    *,
    source: str,
    region: str,
    origin_of: Callable[[int], str],
    now: datetime,
    limits: Limits,
) -> tuple[pa.Table, Rejections]:
    """The table with nulled values set to NULL, and what was refused or nulled."""
    rejections = Rejections(table, raw, mapping, source, origin_of, now)
    kind = mapping.kind
    for i, (section, target, spec, vt) in enumerate(specs(mapping)):
        name = f"{section}__{target}"
        text, value = table.column(f"t{i}"), table.column(name)
        label = f"{section}.{spec.label}"
        bad = _mask(pc.and_(pc.is_valid(text), pc.is_null(value)))
        reasons = [(bad, f"expected {accepted(vt, spec, region=region)}", INVALID_VALUE)]
        if section == "identifiers":
            reasons[0] = (bad, reasons[0][1], INVALID_IDENTIFIER)
        if vt in ("timestamp", "date"):
            outside, why = _out_of_bounds(value, vt, (section, target) in EVENT_TIMES, now, limits)
            reasons.append((outside, f"expected {why}", OUT_OF_TIME_BOUNDS))
        for mask, reason, code in reasons:
            if not mask.any():
                continue
            if policy(mapping, section, target, spec) == REJECT:
                rejections.add(mask, label, text, reason, code)
            else:
                rejections.flag(mask, label, text, reason, code)
                nulls = pa.nulls(table.num_rows, value.type)
                value = pc.if_else(pa.array(mask), nulls, value)
                table = table.set_column(table.schema.get_field_index(name), name, value)
    for name in kind.required:
        column = f"fields__{name}"
        if column in table.column_names:
            values = table.column(column)
            if name == kind.derivable:
                values = pc.coalesce(values, table.column("__id"))
        elif name == kind.derivable and mapping.key:
            values = table.column("__id")
        else:
            continue
        rejections.add(
            _mask(pc.is_null(values)),
            f"fields.{name}",
            values,
            f"a value for the required field {name}",
            MISSING_REQUIRED,
        )
    if kind.name == "adspend":
        campaign = pc.coalesce(
            *[
                table.column(f"fields__{n}")
                for n in ("campaign_id", "campaign_name")
                if f"fields__{n}" in table.column_names
            ]
        )
        rejections.add(
            _mask(pc.is_null(campaign)),
            "fields.campaign_id",
            campaign,
            "a campaign id or name",
            MISSING_REQUIRED,
        )
    if kind.table.name == "orders":
        _whole_orders(table, rejections)
    return table, rejections


def _whole_orders(table: pa.Table, rejections: Rejections) -> None:
    """An order is loaded whole or not at all: a refused line sets its siblings aside too."""
    if not rejections.found:
        return
    ids = table.column("fields__order_id") if "fields__order_id" in table.column_names else None
    ids = pc.coalesce(ids, table.column("__id")) if ids is not None else table.column("__id")
    first = {
        ids[f.index].as_py(): (int(rejections.rows[f.index]), f.label)
        for f in rejections.found
        if ids[f.index].is_valid
    }
    if not first:
        return
    siblings = _mask(pc.is_in(ids, value_set=pa.array(list(first), type=ids.type)))
    for i in np.flatnonzero(siblings & ~rejections.mask):
        order_id = ids[int(i)].as_py()
        row, label = first[order_id]
        rejections.found.append(
            _Found(
                int(i),
                "fields.order_id",
                str(order_id),
                f"an order whose every row is accepted; row {row} of this "
                f"order was refused ({label})",
                SIBLING_REFUSED,
            )
        )
    rejections.mask |= siblings
