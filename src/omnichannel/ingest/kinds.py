"""The kinds of file a connector loads, and which warehouse tables each one writes.

A kind fixes what a mapping may say: the target fields of its main table, the extra
sections it accepts (order ``lines``, the buyer as a ``customer``, ``identifiers``,
free-form ``attributes``/``properties``), which fields are required, and the value
type of each field, which decides how it is normalised (see ``normalize``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis.expr.datatypes as dt

from omnichannel.errors import ValidationError
from omnichannel.warehouse.tables import (
    AD_SPEND,
    CONTENT_ITEMS,
    CUSTOMER_RECORDS,
    EVENTS,
    ORDER_LINES,
    ORDERS,
    PRODUCTS,
    STORES,
    TableSpec,
)

if TYPE_CHECKING:
    from omnichannel.ingest.mapping import Mapping

ID_TYPES = (
    "email",
    "phone",
    "loyalty_card",
    "wechat_openid",
    "wechat_unionid",
    "crm_id",
    "social_handle",
    "user_id",
    "device_id",
)


class MappingError(ValidationError):
    """A mapping asks for something impossible; names the mapping key, value and what works."""


SECTION_TARGETS = ("lines", "customer", "identifiers", "attributes", "properties")

# Columns a connector fills itself, never from a mapping.
_FILLED = {
    "source",
    "attributes",
    "properties",
    "traits",
    "context",
    "type",
    "loaded_at",
    "received_at",
}


def _columns(spec: TableSpec, drop: set[str] | None = None) -> tuple[str, ...]:
    skip = _FILLED | (drop or set())
    return tuple(n for n in spec.schema.names if n not in skip)


def value_type(table: TableSpec | None, name: str) -> str:
    """How a field is parsed and checked: by its name first, then by its column type."""
    if name in ("email", "phone", "currency", "country"):
        return name
    if table is None or name not in table.schema.names:
        return "string"
    dtype = table.schema[name]
    if isinstance(dtype, dt.Timestamp):
        return "timestamp"
    if isinstance(dtype, dt.Date):
        return "date"
    if isinstance(dtype, dt.Decimal):
        return "money"
    if isinstance(dtype, dt.Int32):
        return "int32"
    if isinstance(dtype, dt.Integer):
        return "int"
    if isinstance(dtype, dt.Floating):
        return "float"
    return "string"


@dataclass(frozen=True)
class Kind:
    """One kind of file: its main table, the sections it accepts, what must be mapped."""

    name: str
    table: TableSpec
    doc: str
    writes: tuple[str, ...]
    fields: tuple[str, ...]
    required: tuple[str, ...]
    sections: dict[str, TableSpec | None] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    # The id field that may instead be derived from the mapping's `key` columns.
    derivable: str | None = None
    # What an unreadable optional value does by default: ``null`` keeps the record
    # without it (flagged); ``reject`` refuses the record (see ``validate``).
    on_invalid: str = "null"
    # ``section.field`` whose invalid value rejects by default all the same: what an
    # order is worth and when it happened are not guessed (a nulled currency would
    # fall back to the default one).
    strict: frozenset[str] = frozenset()
    extra_check: Callable[[Mapping], None] | None = None

    def section_fields(self, section: str) -> tuple[str, ...] | None:
        """Target fields a section accepts; None for free-form sections."""
        if section == "fields":
            return self.fields
        if section == "identifiers":
            return ID_TYPES
        if section == "lines":
            return (*_columns(ORDER_LINES, {"order_id", "currency"}),)
        if section == "customer":
            return _columns(CUSTOMER_RECORDS)
        return None

    def value_type(self, section: str, name: str) -> str:
        if section == "identifiers":
            return name if name in ("email", "phone") else "string"
        if section in ("attributes", "properties"):
            return "string"
        table = {"fields": self.table, "lines": ORDER_LINES, "customer": CUSTOMER_RECORDS}
        return value_type(table.get(section), name)

    def check(self, mapping: Mapping) -> None:
        """Refuse a mapping that leaves a required field unmapped."""
        given = mapping.section("fields")
        for name in self.required:
            if name in given or name in self.constants:
                continue
            if name == self.derivable and mapping.key:
                continue
            hint = (
                " (or list source columns under `key` to derive it)"
                if (name == self.derivable)
                else ""
            )
            raise MappingError(
                f"fields.{name}", None, f"a source column for the required field {name}{hint}"
            )
        if self.extra_check is not None:
            self.extra_check(mapping)


def _adspend_check(mapping: Mapping) -> None:
    given = mapping.section("fields")
    if "campaign_id" not in given and "campaign_name" not in given:
        raise MappingError(
            "fields.campaign_id",
            None,
            "a column for campaign_id or campaign_name (the id falls back to the name)",
        )


_ORDER_STRICT = frozenset(
    [f"fields.{n}" for n in ("ordered_at", "currency", "subtotal", "discount", "tax")]
    + [f"fields.{n}" for n in ("shipping", "total")]
    + [f"lines.{n}" for n in ("quantity", "unit_price", "discount", "line_total")]
)

_ORDER_SECTIONS: dict[str, TableSpec | None] = {
    "lines": ORDER_LINES,
    "customer": CUSTOMER_RECORDS,
    "identifiers": None,
    "attributes": None,
}

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "orders",
            ORDERS,
            "E-commerce orders, one row per order or per line item.",
            ("orders", "order_lines", "identifiers", "customer_records"),
            _columns(ORDERS),
            ("order_id",),
            _ORDER_SECTIONS,
            constants={"channel": "web"},
            derivable="order_id",
            strict=_ORDER_STRICT,
        ),
        Kind(
            "pos",
            ORDERS,
            "Store point-of-sale tickets (channel store, with store_id).",
            ("orders", "order_lines", "identifiers", "customer_records"),
            _columns(ORDERS),
            ("order_id", "store_id"),
            _ORDER_SECTIONS,
            constants={"channel": "store"},
            derivable="order_id",
            strict=_ORDER_STRICT,
        ),
        Kind(
            "crm",
            CUSTOMER_RECORDS,
            "CRM contacts or loyalty members.",
            ("customer_records", "identifiers"),
            _columns(CUSTOMER_RECORDS),
            ("record_id",),
            {"identifiers": None, "attributes": None},
            derivable="record_id",
        ),
        Kind(
            "social",
            EVENTS,
            "Social interactions (follows, likes, comments) as track events.",
            ("events", "identifiers", "customer_records"),
            _columns(EVENTS),
            ("event", "timestamp", "message_id"),
            {"customer": CUSTOMER_RECORDS, "identifiers": None, "properties": None},
            constants={"channel": "social"},
            derivable="message_id",
        ),
        Kind(
            "adspend",
            AD_SPEND,
            "Ad platform spend reports (per day and campaign).",
            ("ad_spend", "campaigns"),
            _columns(AD_SPEND),
            ("date", "channel"),
            {},
            on_invalid="reject",
            extra_check=_adspend_check,
        ),
        Kind(
            "products",
            PRODUCTS,
            "The product catalogue.",
            ("products",),
            _columns(PRODUCTS),
            ("product_id",),
            {"attributes": None},
            derivable="product_id",
            strict=frozenset({"fields.price", "fields.currency"}),
        ),
        Kind(
            "content",
            CONTENT_ITEMS,
            "Articles, videos, pages.",
            ("content_items",),
            _columns(CONTENT_ITEMS),
            ("content_id",),
            {},
            derivable="content_id",
        ),
        Kind(
            "stores",
            STORES,
            "Physical stores.",
            ("stores",),
            _columns(STORES),
            ("store_id",),
            {},
            derivable="store_id",
        ),
        Kind(
            "events",
            EVENTS,
            "Segment-spec JSONL (track, identify, page...), via the collector.",
            ("events", "identifiers"),
            (),
            (),
        ),
    )
}
