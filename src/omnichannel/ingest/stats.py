"""What has come in: stored events by source and type, dead letters by source and cause.

Dead letters are grouped on their ``reason_code`` (one group per cause, whatever the
value or time each reason names), each group with one of its reasons as an example.

Example::

    stats = event_stats(wh)
    stats["events"]["total"], stats["events"]["by_source_and_type"][0]
"""

from __future__ import annotations

from typing import Any

from omnichannel.warehouse import Warehouse


def event_stats(wh: Warehouse) -> dict[str, Any]:
    """Counts an engineer checks after pointing an SDK at the collector."""
    events = wh.table("events")
    by_type = (
        events.group_by(["source", "type"])
        .agg(events=events.count(), last_received_at=events.received_at.max())
        .order_by(["source", "type"])
        .to_pyarrow()
        .to_pylist()
    )
    letters = wh.table("dead_letters")
    # Reasons carry details (a value, a receipt time); the code is the same for one cause.
    letters = letters.mutate(reason_code=letters.reason_code.fill_null(letters.reason))
    by_reason = (
        letters.group_by(["source", "kind", "field", "reason_code"])
        .agg(dead_letters=letters.count(), reason=letters.reason.min())
        .order_by(["source", "kind", "field", "reason_code"])
        .to_pyarrow()
        .to_pylist()
    )
    return {
        "events": {
            "total": sum(int(row["events"]) for row in by_type),
            "by_source_and_type": by_type,
        },
        "dead_letters": {
            "total": sum(int(row["dead_letters"]) for row in by_reason),
            "by_source_and_reason": by_reason,
        },
    }
