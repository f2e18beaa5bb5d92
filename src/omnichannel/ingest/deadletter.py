"""Dead letters: every refused record, kept whole with the field, value and reason.

Nothing rejected is dropped silently. Whatever refuses a record (the collector, a file
connector, the loader) calls ``reject`` and the record lands in the warehouse
``dead_letters`` table; ``omni dlq list`` shows them and ``omni dlq replay`` re-loads
them once the cause (usually a mapping) is fixed.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime

import pyarrow as pa

from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import DEAD_LETTERS


@dataclass(frozen=True)
class DeadLetter:
    """One refused record: where it came from, what it was, and why it was refused."""

    source: str
    kind: str
    origin: str
    payload: bytes | str
    field: str
    value: str
    reason: str
    received_at: datetime = dataclass_field(
        default_factory=lambda: datetime.now(UTC).replace(tzinfo=None)
    )
    dead_letter_id: str = dataclass_field(default_factory=lambda: uuid.uuid4().hex)

    def row(self) -> dict[str, object]:
        text, encoding = encode_payload(self.payload)
        return {
            "dead_letter_id": self.dead_letter_id,
            "source": self.source,
            "kind": self.kind,
            "origin": self.origin,
            "received_at": self.received_at,
            "payload": text,
            "payload_encoding": encoding,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


def encode_payload(payload: bytes | str) -> tuple[str, str]:
    """Text as is; bytes as UTF-8 when they decode, else base64, so nothing is altered."""
    if isinstance(payload, str):
        return payload, "utf-8"
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"


def decode_payload(text: str, encoding: str) -> bytes:
    """The payload exactly as it was received."""
    return base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")


def reject(wh: Warehouse, letters: list[DeadLetter]) -> int:
    """Store refused records; returns how many were stored."""
    if not letters:
        return 0
    rows = [letter.row() for letter in letters]
    table = pa.Table.from_pylist(rows, schema=DEAD_LETTERS.schema.to_pyarrow())
    return wh.append(DEAD_LETTERS.name, table)
