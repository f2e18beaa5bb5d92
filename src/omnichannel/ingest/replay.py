"""Dead letters after the fact: list the pending ones, replay them through a fixed mapping.

A dead letter is pending until one replay accepts it. Each attempt is recorded in
``dead_letter_replays`` (accepted, or rejected with the reason), so the history of a
record stays visible and ``omni dlq list`` stops showing what has been loaded.
Re-refused records get no new dead letter: the attempt row says why.

Rows of one source and kind are replayed together, in their original file order, so an
order split over several rows is rebuilt whole with the same line numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.ingest.connectors import Progress, check_columns, load_rows
from omnichannel.ingest.deadletter import FIELD_NULLED, decode_payload, reject
from omnichannel.ingest.kinds import KINDS
from omnichannel.ingest.mapping import Mapping
from omnichannel.ingest.readers import ROW, RawRows
from omnichannel.ingest.replay_events import EVENT_KINDS, replay_event_letters
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.writer import new_letters
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import DEAD_LETTER_REPLAYS

MappingFor = Callable[[str, str], Mapping | None]


def _pending_letters(wh: Warehouse, *, source: str | None, include_accepted: bool) -> ir.Table:
    letters = wh.table("dead_letters")
    replays = wh.table("dead_letter_replays")
    if source is not None:
        letters = letters.filter(letters.source == source)
    if not include_accepted:
        # A nulled field is a flag on a stored record, not a record waiting to be loaded.
        letters = letters.filter(letters.action.isnull() | (letters.action != FIELD_NULLED))
    history = replays.group_by("dead_letter_id").agg(
        attempts=replays.count(),
        accepted=(replays.outcome == "accepted").any(),
        last_replayed_at=replays.replayed_at.max(),
    )
    joined = letters.left_join(history, "dead_letter_id").select(
        letters, history.attempts, history.accepted, history.last_replayed_at
    )
    if not include_accepted:
        joined = joined.filter(joined.accepted.isnull() | ~joined.accepted)
    return joined


def count_pending(
    wh: Warehouse, *, source: str | None = None, include_accepted: bool = False
) -> int:
    """How many letters ``pending`` would list without a limit."""
    joined = _pending_letters(wh, source=source, include_accepted=include_accepted)
    return int(joined.count().to_pyarrow().as_py())


def pending(
    wh: Warehouse,
    *,
    source: str | None = None,
    include_accepted: bool = False,
    limit: int | None = None,
    oldest_first: bool = False,
) -> list[dict[str, Any]]:
    """Dead letters not accepted by a replay yet, newest first, with their replay history.

    ``include_accepted`` also lists accepted letters and the ``field_nulled`` flags of
    stored records (status ``field_nulled``). ``count_pending`` gives the total.
    """
    joined = _pending_letters(wh, source=source, include_accepted=include_accepted)
    if oldest_first:
        joined = joined.order_by([joined.received_at, joined.origin])
    else:
        joined = joined.order_by([joined.received_at.desc(), joined.origin])
    if limit is not None:
        joined = joined.limit(limit)
    rows = joined.to_pyarrow().to_pylist()
    for row in rows:
        row["attempts"] = int(row["attempts"] or 0)
        accepted = row.pop("accepted")
        row["status"] = (
            "field_nulled"
            if row.get("action") == FIELD_NULLED
            else ("accepted" if accepted else "pending")
        )
    return rows


@dataclass
class ReplayReport:
    """Per source and kind: letters tried, accepted, still rejected; groups without a mapping."""

    groups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(g["accepted"] for g in self.groups)

    @property
    def rejected(self) -> int:
        return sum(g["rejected"] for g in self.groups)


def _row_number(origin: str) -> tuple[str, int]:
    match = re.search(r"^(.*):row (\d+)$", origin)
    return (match.group(1), int(match.group(2))) if match else (origin, 0)


def _record(letter: dict[str, Any], mapping: Mapping) -> dict[str, Any] | str:
    """The original row as a dict, or why it still cannot be read."""
    raw = decode_payload(letter["payload"], letter["payload_encoding"])
    try:
        text = raw.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        return f"payload is not {mapping.encoding} ({exc.reason}); set `encoding:` in the mapping"
    try:
        record = json.loads(text)
        if isinstance(record, dict):
            return {k: None if v is None else str(v) for k, v in record.items()}
    except json.JSONDecodeError:
        pass
    # Header line + data line: what the CSV reader keeps for a row it could not read.
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=mapping.delimiter))
    if len(lines) == 2 and len(lines[0]) == len(lines[1]):
        return dict(zip([c.strip() for c in lines[0]], lines[1], strict=True))
    return "payload is still not a row the mapping can read (wrong number of cells or not JSON)"


def _attempt(letter_id: str, outcome: str, reason: str, at: datetime) -> dict[str, Any]:
    return {"dead_letter_id": letter_id, "replayed_at": at, "outcome": outcome, "reason": reason}


def _replay_group(
    wh: Warehouse,
    letters: list[dict[str, Any]],
    mapping: Mapping,
    *,
    region: str,
    currency: str,
    progress: Progress | None,
    at: datetime,
    limits: Limits | None = None,
) -> list[dict[str, Any]]:
    letters = sorted(letters, key=lambda r: _row_number(r["origin"]))
    attempts: list[dict[str, Any]] = []
    readable: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for letter in letters:
        record = _record(letter, mapping)
        if isinstance(record, str):
            attempts.append(_attempt(letter["dead_letter_id"], "rejected", record, at))
        else:
            readable.append((letter, record))
    if not readable:
        return attempts
    header = list(dict.fromkeys(k for _, r in readable for k in r))
    columns = {c: pa.array([r.get(c) for _, r in readable], type=pa.string()) for c in header}
    table = pa.table(columns).append_column(ROW, pa.array(range(1, len(readable) + 1), pa.int64()))
    check_columns(mapping, header, "the dead letters' rows")
    source = readable[0][0]["source"]
    result = load_rows(
        wh,
        RawRows(table, header),
        mapping,
        source=source,
        region=region,
        currency=currency,
        origin_of=lambda row: readable[row - 1][0]["origin"],
        progress=progress,
        limits=limits,
    )
    flags = [f for row_flags in result.flagged_rows.values() for f in row_flags]
    reject(wh, new_letters(wh, flags))
    for row, (letter, _) in enumerate(readable, start=1):
        refused = result.rejected_rows.get(row)
        if refused is None:
            attempts.append(_attempt(letter["dead_letter_id"], "accepted", "", at))
        else:
            attempts.append(
                _attempt(
                    letter["dead_letter_id"],
                    "rejected",
                    f"{refused.field}={refused.value!r}: {refused.reason}",
                    at,
                )
            )
    return attempts


def replay(
    wh: Warehouse,
    *,
    mapping_for: MappingFor,
    source: str | None = None,
    region: str = "CN",
    currency: str = "CNY",
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> ReplayReport:
    """Re-load pending dead letters: file kinds through ``mapping_for(source, kind)``,
    the collector's Segment calls through the collector's checks (``replay_events``)."""
    at = datetime.now(UTC).replace(tzinfo=None)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for letter in pending(wh, source=source, oldest_first=True):
        groups.setdefault((letter["source"], letter["kind"]), []).append(letter)
    report = ReplayReport()
    attempts: list[dict[str, Any]] = []
    for (group_source, kind), letters in sorted(groups.items()):
        if kind in EVENT_KINDS:
            # Segment calls carry their own schema: the collector's checks, no mapping.
            done = [
                _attempt(letter["dead_letter_id"], "rejected" if why else "accepted", why, at)
                for letter, why in replay_event_letters(wh, letters, limits=limits)
            ]
            attempts.extend(done)
            accepted = sum(a["outcome"] == "accepted" for a in done)
            report.groups.append(
                {
                    "source": group_source,
                    "kind": kind,
                    "pending": len(letters),
                    "accepted": accepted,
                    "rejected": len(done) - accepted,
                    "mapping": "segment-spec",
                }
            )
            continue
        mapping = mapping_for(group_source, kind) if kind in KINDS and kind != "events" else None
        if mapping is None:
            report.groups.append(
                {
                    "source": group_source,
                    "kind": kind,
                    "pending": len(letters),
                    "accepted": 0,
                    "rejected": 0,
                    "skipped": "no mapping for this source and kind",
                }
            )
            continue
        done = _replay_group(
            wh,
            letters,
            mapping,
            region=region,
            currency=currency,
            progress=progress,
            at=at,
            limits=limits,
        )
        attempts.extend(done)
        accepted = sum(a["outcome"] == "accepted" for a in done)
        report.groups.append(
            {
                "source": group_source,
                "kind": kind,
                "pending": len(letters),
                "accepted": accepted,
                "rejected": len(done) - accepted,
                "mapping": mapping.name,
            }
        )
    if attempts:
        wh.append(
            DEAD_LETTER_REPLAYS.name,
            pa.Table.from_pylist(attempts, schema=DEAD_LETTER_REPLAYS.schema.to_pyarrow()),
        )
    return report


__all__ = ["ReplayReport", "count_pending", "pending", "replay"]
