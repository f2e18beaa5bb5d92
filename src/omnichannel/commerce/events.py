"""Every stock change as an ``Inventory Changed`` event, into the warehouse's ``events``.

The ledger (``stock_movements``) is written in the transaction that changes a level, so
it is the record; events follow it like a transactional outbox: ``publish`` reads the
ledger after its checkpoint and stores one track call per movement through the
collector's checks (``parse_calls``), keyed ``inventory:<ledger id>``, so publishing
twice stores each once. The call's ``anonymousId`` names the location
(``stock-location:<id>``): a Segment call needs a subject, and a location's changes
stay one timeline without touching any person's profile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnichannel.commerce.inventory import Inventory
from omnichannel.consumers.checkpoints import Checkpoints

if TYPE_CHECKING:
    from omnichannel.platform import Platform

EVENT = "Inventory Changed"
SOURCE = "inventory"
CHECKPOINT = "commerce.inventory_events"


def calls_of(movements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": EVENT,
            "anonymousId": f"stock-location:{m['location_id']}",
            "messageId": f"inventory:{m['id']}",
            "timestamp": m["occurred_at"],
            "properties": {
                "sku": m["sku"],
                "location_id": m["location_id"],
                "movement": m["kind"],
                "movement_key": m["key"],
                "on_hand_change": m["on_hand_change"],
                "reserved_change": m["reserved_change"],
                "on_hand": m["on_hand_after"],
                "reserved": m["reserved_after"],
                "source": m["source"],
                "reference": m["reference"],
            },
        }
        for m in movements
    ]


def publish(platform: Platform, inventory: Inventory, *, batch: int = 5000) -> int:
    """Store the ledger's new movements as events; returns how many were published."""
    from omnichannel.ingest.runtime import limits_of
    from omnichannel.ingest.segment import parse_calls
    from omnichannel.warehouse.tables import EVENTS

    checkpoints = Checkpoints(platform.opstore)
    published = 0
    while True:
        after = checkpoints.get(CHECKPOINT) or 0
        movements = inventory.movements(after=after, limit=batch)
        if not movements:
            return published
        received_at = datetime.now(UTC).replace(tzinfo=None)
        parsed = parse_calls(
            {"batch": calls_of(movements)},
            source=SOURCE,
            received_at=received_at,
            limits=limits_of(platform.settings),
            path_type=None,
        )
        if parsed.rows:
            table = _events_table(parsed.rows, EVENTS.schema.to_pyarrow(), received_at)
            with platform.warehouse.writer() as wh:
                wh.append_new(EVENTS.name, table, ("message_id",))
            platform.wake_consumers()
        checkpoints.set(CHECKPOINT, int(movements[-1]["id"]))
        published += len(parsed.rows)


def _events_table(rows: list[dict[str, Any]], schema: pa.Schema, loaded_at: datetime) -> pa.Table:
    """The collector's rows (times in epoch microseconds) as ``events`` Arrow, as the
    loader converts a batch, stamped ``loaded_at``."""
    from omnichannel.ingest.segment import TIMESTAMP_COLUMNS

    encoded = pa.schema(
        [pa.field(f.name, pa.int64()) if f.name in TIMESTAMP_COLUMNS else f for f in schema]
    )
    table = pa.Table.from_pylist(rows, schema=encoded).cast(schema)
    index = table.schema.get_field_index("loaded_at")
    return table.set_column(
        index, "loaded_at", pa.array([loaded_at] * table.num_rows, pa.timestamp("us"))
    )
