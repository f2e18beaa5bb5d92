"""Erasure from the durable bus (``OMNI_BUS_URL``): entries no loader has stored yet.

The stream holds only what some loader has not acknowledged (acknowledged entries are
trimmed), so an erasure that reached the warehouse could still see the person stored
again from it. Each entry naming them is replaced (``RedisBus.replace``: a stream entry
cannot be changed) by the same record without their events and dead letters, or by
nothing when nothing else is left in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from omnichannel.privacy.erase_files import names_record, scrubbed_record

if TYPE_CHECKING:
    from omnichannel.ingest.bus_redis import RedisBus
    from omnichannel.privacy.matching import Matcher


def erase_bus(bus: RedisBus, matcher: Matcher) -> dict[str, int]:
    """Scrub every entry of the bus that names the person; returns how many entries were
    ``rewritten`` (others' events kept) and ``removed`` (only theirs in it)."""
    done = {"rewritten": 0, "removed": 0}
    for entry_id, payload in list(bus.records()):
        if not names_record(payload, matcher):
            continue
        record = scrubbed_record(payload, matcher)
        kept = bool(record["events"] or record["dead_letters"])
        if bus.replace(entry_id, payload, orjson.dumps(record) if kept else None):
            done["rewritten" if kept else "removed"] += 1
    return done
