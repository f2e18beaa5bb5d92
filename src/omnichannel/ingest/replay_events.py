"""Replaying the collector's dead letters: Segment calls need no mapping, only the spec.

A collector letter (kind ``event``) holds the call as it was sent, or the whole request
body (``{"batch": [...]}``) when the request itself was refused. Replay checks it again
with the collector's own rules (``segment.parse_calls``) at its original receipt time,
so a call refused for its timestamp is refused again unless the limits changed, and
stores the calls that pass as events; a ``message_id`` already stored adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from omnichannel.ingest.deadletter import decode_payload
from omnichannel.ingest.segment import TIMESTAMP_COLUMNS, Limits, Refused, parse_calls
from omnichannel.ingest.storable import loads_bounded
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import EVENTS

EVENT_KINDS = ("event", "events")


def _events_table(rows: list[dict[str, Any]], loaded_at: datetime) -> pa.Table:
    schema = EVENTS.schema.to_pyarrow()
    encoded = pa.schema(
        [pa.field(f.name, pa.int64()) if f.name in TIMESTAMP_COLUMNS else f for f in schema]
    )
    known = [{k: v for k, v in row.items() if k in schema.names} for row in rows]
    table = pa.Table.from_pylist(known, schema=encoded).cast(schema)
    index = table.schema.get_field_index("loaded_at")
    return table.set_column(
        index, "loaded_at", pa.array([loaded_at] * table.num_rows, schema.field(index).type)
    )


def _check(letter: dict[str, Any], limits: Limits) -> tuple[list[dict[str, Any]], str]:
    """The letter's calls as events rows, or why it is still refused."""
    try:
        # The collector's parser, so NaN, deep nesting and giant integers are refused again
        # (plain json.loads read NaN as a float that orjson then stored as null).
        body, cut = loads_bounded(
            decode_payload(letter["payload"], letter["payload_encoding"]),
            cut_depth=limits.max_depth + 2,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        return [], f"payload is still not JSON ({exc})"
    single = isinstance(body, dict) and "batch" not in body
    try:
        parsed = parse_calls(
            body,
            source=letter["source"],
            received_at=letter["received_at"],
            limits=limits,
            path_type=str(body.get("type")) if single and body.get("type") else None,
            cut=cut,
        )
    except Refused as refused:
        return [], f"{refused.field}={refused.value}: {refused.reason}"
    if parsed.refusals:
        first = parsed.refusals[0]
        return [], f"{first.field}={first.value}: {first.reason}"
    return parsed.rows, ""


def replay_event_letters(
    wh: Warehouse, letters: list[dict[str, Any]], *, limits: Limits | None = None
) -> list[tuple[dict[str, Any], str]]:
    """Check and store each letter's calls; (letter, reason) with "" for accepted ones."""
    limits = limits or Limits()
    outcomes: list[tuple[dict[str, Any], str]] = []
    rows: list[dict[str, Any]] = []
    for letter in letters:
        calls, reason = _check(letter, limits)
        rows.extend(calls)
        outcomes.append((letter, reason))
    if rows:
        wh.append_new(EVENTS.name, _events_table(rows, datetime.now(UTC).replace(tzinfo=None)))
    return outcomes
