"""Dead letters: every refused record, kept whole with the field, value and reason.

Nothing rejected is dropped silently. Whatever refuses a record (the collector, a file
connector, the loader) calls ``reject`` and the record lands in the warehouse
``dead_letters`` table; ``omni dlq list`` shows them and ``omni dlq replay`` re-loads
them once the cause (usually a mapping) is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime

import pyarrow as pa

from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import DEAD_LETTERS

REJECTED = "rejected"
# The record was stored without this field's unreadable value (``on_invalid: null``).
FIELD_NULLED = "field_nulled"

# Stable reason codes of the file connectors; ``omni dlq`` and stats group on them.
INVALID_VALUE = "invalid_value"
MISSING_REQUIRED = "missing_required"
SIBLING_REFUSED = "sibling_row_refused"
OUT_OF_TIME_BOUNDS = "time_out_of_bounds"
NOT_IN_ENCODING = "not_in_encoding"
WRONG_CELL_COUNT = "wrong_cell_count"
NOT_A_JSON_OBJECT = "not_a_json_object"
INVALID_IDENTIFIER = "invalid_identifier"


def code_of(reason: str) -> str:
    """A stable code for a reason given without one: its wording, details dropped.

    Parenthesised details (a receipt time, a byte offset) and quoted values differ
    from letter to letter; what remains is the same for every letter of one cause.
    """
    template = re.sub(r"\([^()]*\)|'[^']*'|\d{4}-\d\d-\d\d[T ][\d:.]+Z?", "", reason)
    template = re.sub(r"\s+([;,.])", r"\1", re.sub(r"\s+", " ", template))
    return template.strip(" ;,.")[:120] or "refused"


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
    reason_code: str = ""
    action: str = REJECTED
    received_at: datetime = dataclass_field(
        default_factory=lambda: datetime.now(UTC).replace(tzinfo=None)
    )
    dead_letter_id: str = dataclass_field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def content_hash(self) -> str:
        """Same source, kind and row (and, for a nulled field, field): the same letter."""
        text, _ = encode_payload(self.payload)
        parts = [self.source, self.kind, text]
        if self.action != REJECTED:
            parts += [self.action, self.field]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

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
            "reason_code": self.reason_code or code_of(self.reason),
            "action": self.action,
            "content_hash": self.content_hash,
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
