"""Update steps: the person's traits (and tags) as an identify call, stored as events are.

The call is checked by the collector's own rules (``ingest.segment.parse_calls``) and
appended to ``events`` the way the loader stores a micro-batch (``Warehouse.append_new``
on the writer path, compared by ``messageId`` with the events of the dedupe window), so
identity resolution and the profile build read it like any identify call, and durable
consumers (segments, journeys' trigger) are woken for it. Its ``messageId`` is the
step's effect key ``journey:{enrolment}:{visit}``: a step run again after a crash finds
it stored and adds nothing.

Tags have no event of their own: ``add_tags`` / ``remove_tags`` travel in the traits
(``journey_add_tags``, ``journey_remove_tags``); the profile build replays them into the
profile's ``tags`` (``profiles.tags.called_tags``), which segments and the Profile API read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnichannel.journeys.definition import UpdateStep
from omnichannel.journeys.engine import Claimed

if TYPE_CHECKING:
    from omnichannel.platform import Platform

SOURCE = "journeys"
# The identifier types an identify call can carry (userId, anonymousId), best first.
CALL_IDS = (("user_id", "userId"), ("anonymous_id", "anonymousId"))


def _identifier_of(c: Claimed, linked: dict[str, list[tuple[str, str]]]) -> tuple[str, str] | None:
    """(call field, value) naming the person: their profile's user id or anonymous id, or
    the entry event's identifier while the profile is not built."""
    pairs = linked.get(c.profile_id or "", [])
    if not c.profile_id and ":" in c.subject:
        pairs = [tuple(c.subject.split(":", 1))]  # type: ignore[list-item]
    for id_type, field in CALL_IDS:
        value = next((v for t, v in pairs if t == id_type), None)
        if value:
            return field, value
    return None


def identify_calls(
    platform: Platform, group: Sequence[Claimed], now: datetime
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The identify calls of ``group``, and per enrolment the identifier used (people
    with no user id or anonymous id cannot be named in a call and are left out)."""
    from omnichannel.channels.addresses import identifiers_of

    ids = sorted({c.profile_id for c in group if c.profile_id})
    linked: dict[str, list[tuple[str, str]]] = {}
    if ids:
        with platform.warehouse.reader() as wh:
            linked = identifiers_of(wh, ids)
    calls: list[dict[str, Any]] = []
    who: dict[int, str] = {}
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, UpdateStep)
        named = _identifier_of(c, linked)
        if named is None:
            continue
        field, value = named
        traits = dict(step.update.traits)
        if step.update.add_tags:
            traits["journey_add_tags"] = list(step.update.add_tags)
        if step.update.remove_tags:
            traits["journey_remove_tags"] = list(step.update.remove_tags)
        calls.append(
            {
                "type": "identify",
                field: value,
                "messageId": f"journey:{c.id}:{c.visit}",
                "timestamp": now.astimezone(UTC).isoformat(),
                "traits": traits,
                "context": {"journey": {"name": c.journey_name, "step": c.step}},
            }
        )
        who[c.id] = f"{'user_id' if field == 'userId' else 'anonymous_id'}:{value}"
    return calls, who


def store_calls(platform: Platform, calls: list[dict[str, Any]]) -> dict[str, str]:
    """Check and store ``calls``; returns the refused ones' messageId -> reason."""
    from omnichannel.ingest.runtime import limits_of
    from omnichannel.ingest.segment import parse_calls
    from omnichannel.warehouse.tables import EVENTS

    received_at = datetime.now(UTC).replace(tzinfo=None)
    parsed = parse_calls(
        {"batch": calls},
        source=SOURCE,
        received_at=received_at,
        limits=limits_of(platform.settings),
        path_type=None,
    )
    refused = {
        str(calls[r.index]["messageId"]): f"{r.field}={r.value}: {r.reason}"
        for r in parsed.refusals
        if r.index is not None
    }
    if parsed.rows:
        table = _events_table(parsed.rows, EVENTS.schema.to_pyarrow(), received_at)
        since = received_at - platform.settings.dedupe_window
        with platform.warehouse.writer() as wh:
            wh.append_new(EVENTS.name, table, ("message_id",), since=since)
        platform.wake_consumers()
    return refused


def _events_table(rows: list[dict[str, Any]], schema: pa.Schema, loaded_at: datetime) -> pa.Table:
    """The collector's rows (times in epoch microseconds) as ``events`` Arrow, the way the
    loader converts a batch (``ingest.loader._rows_table``), stamped ``loaded_at``."""
    from omnichannel.ingest.segment import TIMESTAMP_COLUMNS

    encoded = pa.schema(
        [pa.field(f.name, pa.int64()) if f.name in TIMESTAMP_COLUMNS else f for f in schema]
    )
    table = pa.Table.from_pylist(rows, schema=encoded).cast(schema)
    index = table.schema.get_field_index("loaded_at")
    return table.set_column(
        index, "loaded_at", pa.array([loaded_at] * table.num_rows, pa.timestamp("us"))
    )
