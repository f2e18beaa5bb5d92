"""The catalogue: one product per SKU (the warehouse's ``products``) and its listings.

A listing is one product on one sales channel (web shop, app, WeChat mini-program,
tmall and jd marketplaces, stores): that channel's own SKU code mapped to ours, whether
the product is in the channel's assortment (``listed``), its title and price there and
the attributes recommendations read (colour, size...). Listings load from a listings
file (``files.py``) and are kept current by ``Product Updated`` events
(``ProductUpdates``, a durable consumer). A listing of a SKU the catalogue does not know
is not stored: it goes to the dead letters with the reason.

Example::

    catalogue = platform.commerce.catalogue
    catalogue.load(Path("listings.csv"), source="erp")
    catalogue.product("LP-0001")["listings"]      # [{channel: "tmall", channel_sku: ...}]
    catalogue.our_sku("tmall", "TM-88812")         # "LP-0001"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnichannel.commerce import files
from omnichannel.consumers.runner import StartAt
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.opstore.models import ChannelListing

if TYPE_CHECKING:
    from omnichannel.platform import Platform

PRODUCT_UPDATED = "Product Updated"
LISTING_FIELDS = ("listed", "title", "price", "currency", "channel_sku")


# Without a listing, these channels sell the whole catalogue; the others only what is listed.
DEFAULT_LISTED = ("store", "web", "app")


class Catalogue:
    """Products (warehouse) and their channel listings (operational store)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- products --------------------------------------------------------------------

    def known_skus(self, skus: Iterable[str] | None = None) -> set[str]:
        """Which of ``skus`` (or every SKU) the products table has, by sku or product id."""
        with self._platform.warehouse.reader() as wh:
            products = wh.table("products")
            table = products.select("sku", "product_id").to_pyarrow()
        known = {v for v in table.column("sku").to_pylist() if v}
        known |= {v for v in table.column("product_id").to_pylist() if v}
        return known if skus is None else known & set(skus)

    def _product_row(self, sku: str) -> dict[str, Any] | None:
        with self._platform.warehouse.reader() as wh:
            products = wh.table("products")
            rows = (
                products.filter((products.sku == sku) | (products.product_id == sku))
                .limit(1)
                .to_pyarrow()
                .to_pylist()
            )
        if not rows:
            return None
        row = rows[0]
        attributes = row.get("attributes")
        return {
            "sku": row.get("sku") or row["product_id"],
            "product_id": row["product_id"],
            "name": row.get("name"),
            "category": row.get("category"),
            "subcategory": row.get("subcategory"),
            "brand": row.get("brand"),
            "price": None if row.get("price") is None else float(row["price"]),
            "currency": row.get("currency"),
            "attributes": json.loads(attributes) if attributes else {},
        }

    def product(self, sku: str) -> dict[str, Any]:
        """The product, its listings per channel and its stock per location."""
        row = self._product_row(sku)
        if row is None:
            raise NotFoundError(f"no product with SKU {sku!r} in the catalogue")
        our = row["sku"]
        return {
            **row,
            "listings": self.listings(sku=our),
            "stock": self._platform.commerce.inventory.levels(our),
        }

    # --- listings --------------------------------------------------------------------

    def listings(
        self,
        *,
        sku: str | None = None,
        channel: str | None = None,
        listed: bool | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        if channel is not None and channel not in files.CHANNELS:
            raise ValidationError("channel", channel, f"one of {', '.join(files.CHANNELS)}")
        with self._platform.opstore.session() as session:
            query = select(ChannelListing).order_by(ChannelListing.sku, ChannelListing.channel)
            if sku is not None:
                query = query.where(ChannelListing.sku == sku)
            if channel is not None:
                query = query.where(ChannelListing.channel == channel)
            if listed is not None:
                query = query.where(ChannelListing.listed == listed)
            return [listing_dict(r) for r in session.scalars(query.limit(limit))]

    def our_sku(self, channel: str, channel_sku: str) -> str:
        """Our SKU for a channel's own code (a marketplace order names its code)."""
        with self._platform.opstore.session() as session:
            found = session.scalars(
                select(ChannelListing.sku).where(
                    ChannelListing.channel == channel, ChannelListing.channel_sku == channel_sku
                )
            ).first()
        if found is None:
            raise NotFoundError(f"no listing on {channel} has the code {channel_sku!r}")
        return found

    def is_listed(self, sku: str, channel: str) -> bool:
        """In the channel's assortment: a listing says so (stores and apps without a
        listing sell the whole catalogue; marketplaces only what is listed)."""
        with self._platform.opstore.session() as session:
            row = session.scalars(
                select(ChannelListing.listed).where(
                    ChannelListing.sku == sku, ChannelListing.channel == channel
                )
            ).first()
        if row is None:
            return channel in DEFAULT_LISTED
        return bool(row)

    def assortment(self, skus: Iterable[str] | None = None) -> dict[tuple[str, str], bool]:
        """``(sku, channel) -> listed`` as the listings say, in one read (absent: no listing)."""
        query = select(ChannelListing.sku, ChannelListing.channel, ChannelListing.listed)
        wanted = None if skus is None else set(skus)
        with self._platform.opstore.session() as session:
            return {
                (sku, channel): bool(listed)
                for sku, channel, listed in session.execute(query)
                if wanted is None or sku in wanted
            }

    def load(
        self, path: Path, *, source: str, mapping: str | Path = "omnichannel-listings"
    ) -> dict[str, Any]:
        """Load a listings file; rows naming a SKU we do not have go to the dead letters."""
        checked = files.load_mapping(mapping, "listings")
        read = files.read_file(
            path, checked, source=source, region=self._platform.settings.default_region
        )
        known = self.known_skus({r["sku"] for r in read.rows if r.get("sku")})
        letters = list(read.letters)
        accepted = []
        for row in read.rows:
            reason = self._refusal(row, known)
            if reason is not None:
                field_, value, why = reason
                letters.append(
                    files.letter(
                        row,
                        source=source,
                        kind="listings",
                        path=read.path,
                        field_=field_,
                        value=value,
                        reason=why,
                    )
                )
                continue
            accepted.append(row)
        written, unchanged = self.upsert_many(accepted, source=source)
        stored = self._dead_letters(letters)
        return {
            "path": read.path,
            "source": source,
            "kind": "listings",
            "mapping": read.mapping,
            "rows": read.read,
            "written": written,
            "unchanged": unchanged,
            "rejected": len(letters),
            "dead_letters": stored,
            "reasons": sorted({f"{letter.field}: {letter.reason}" for letter in letters}),
        }

    @staticmethod
    def _refusal(row: Mapping[str, Any], known: set[str]) -> tuple[str, Any, str] | None:
        if row["sku"] not in known:
            return ("sku", row["sku"], "a SKU of the products table (this one is unknown)")
        if row["channel"] not in files.CHANNELS:
            return ("channel", row["channel"], f"one of {', '.join(files.CHANNELS)}")
        if files.listed(row.get("listed")) is None:
            return ("listed", row.get("listed"), "yes/no, true/false, 1/0 or listed/unlisted")
        return None

    def upsert(self, row: Mapping[str, Any], *, source: str) -> bool:
        """Create or change one listing; False when nothing changed."""
        try:
            with self._platform.opstore.session() as session:
                found = session.scalars(
                    select(ChannelListing).where(
                        ChannelListing.sku == row["sku"], ChannelListing.channel == row["channel"]
                    )
                ).first()
                return _put(session, found, row, source)[0]
        except IntegrityError:
            raise ValidationError(
                "channel_sku",
                row["channel_sku"],
                f"a code no other product uses on {row['channel']}",
            ) from None

    def upsert_many(self, rows: Sequence[Mapping[str, Any]], *, source: str) -> tuple[int, int]:
        """(written, unchanged) of many listings in one transaction; one each when a
        channel code clashes, so the clash is named."""
        try:
            with self._platform.opstore.session() as session:
                skus = sorted({str(r["sku"]) for r in rows})
                current: dict[tuple[str, str], ChannelListing] = {}
                for i in range(0, len(skus), 500):
                    query = select(ChannelListing).where(ChannelListing.sku.in_(skus[i : i + 500]))
                    for listing in session.scalars(query):
                        current[(listing.sku, listing.channel)] = listing
                written = 0
                for row in rows:
                    key = (str(row["sku"]), str(row["channel"]))
                    changed, current[key] = _put(session, current.get(key), row, source)
                    written += changed
                return written, len(rows) - written
        except IntegrityError:
            written = sum(self.upsert(row, source=source) for row in rows)
            return written, len(rows) - written

    # --- Product Updated -------------------------------------------------------------

    def apply_updates(self, batch: pa.Table) -> int:
        """Apply the ``Product Updated`` events of a batch of events; returns listings changed.

        ``properties``: ``sku`` (ours), ``channel`` and the listing's fields (``listed``,
        ``title``, ``price``, ``currency``, ``channel_sku``, ``attributes``); without a
        channel, the fields apply to every listing of the SKU.
        """
        events = [r for r in batch.to_pylist() if r.get("event") == PRODUCT_UPDATED]
        if not events:
            return 0
        letters: list[DeadLetter] = []
        parsed = [(e, json.loads(e.get("properties") or "{}")) for e in events]
        known = self.known_skus({str(p.get("sku")) for _, p in parsed})
        changed = 0
        for event, props in parsed:
            sku = str(props.get("sku") or "")
            if sku not in known:
                letters.append(
                    _event_letter(
                        event,
                        "properties.sku",
                        sku,
                        "a SKU of the products table (this one is unknown)",
                    )
                )
                continue
            targets = (
                [props["channel"]]
                if props.get("channel")
                else [listing["channel"] for listing in self.listings(sku=sku)]
            )
            for channel in targets:
                current = self._current(sku, channel)
                if current is None and not props.get("channel_sku"):
                    letters.append(
                        _event_letter(
                            event,
                            "properties.channel_sku",
                            None,
                            f"a channel code for a new listing on {channel}",
                        )
                    )
                    continue
                row = {**(current or {}), "sku": sku, "channel": channel}
                row.update({k: props[k] for k in LISTING_FIELDS if k in props})
                row["attributes"] = props.get("attributes") or {}
                reason = self._refusal(row, known)
                if reason is not None:
                    letters.append(
                        _event_letter(event, f"properties.{reason[0]}", reason[1], reason[2])
                    )
                    continue
                changed += self.upsert(row, source=str(event.get("source") or "events"))
        self._dead_letters(letters)
        return changed

    def _current(self, sku: str, channel: str) -> dict[str, Any] | None:
        found = self.listings(sku=sku, channel=channel)
        return found[0] if found else None

    def _dead_letters(self, letters: list[DeadLetter]) -> int:
        if not letters:
            return 0
        from omnichannel.ingest.deadletter import reject
        from omnichannel.ingest.writer import new_letters

        with self._platform.warehouse.writer() as wh:
            return reject(wh, new_letters(wh, letters))


def _put(
    session: Any, found: ChannelListing | None, row: Mapping[str, Any], source: str
) -> tuple[bool, ChannelListing]:
    """Add or change one listing in ``session``: (changed, the listing)."""
    values = {
        "channel_sku": str(row["channel_sku"]),
        "listed": bool(files.listed(row.get("listed"))),
        "title": row.get("title"),
        "price": None if row.get("price") is None else float(row["price"]),
        "currency": row.get("currency"),
    }
    attributes = dict(row.get("attributes") or {})
    if found is None:
        added = ChannelListing(
            sku=row["sku"],
            channel=row["channel"],
            attributes=attributes,
            source=source,
            updated_at=datetime.now(UTC),
            **values,
        )
        session.add(added)
        return True, added
    current = {k: getattr(found, k) for k in values}
    merged = {**found.attributes, **attributes}
    if current == values and merged == found.attributes:
        return False, found
    for name, value in values.items():
        setattr(found, name, value)
    found.attributes = merged
    found.source, found.updated_at = source, datetime.now(UTC)
    return True, found


def _event_letter(event: Mapping[str, Any], field_: str, value: object, reason: str) -> DeadLetter:
    return DeadLetter(
        source=str(event.get("source") or "events"),
        kind="event",
        origin=f"event {event.get('message_id')}",
        payload=json.dumps(
            {k: event.get(k) for k in ("message_id", "event", "properties")}, default=str
        ),
        field=field_,
        value="" if value is None else str(value),
        reason=reason,
    )


class ProductUpdates:
    """The durable consumer that keeps listings in step with ``Product Updated`` events."""

    name = "commerce.product_updates"
    start_at: StartAt = "beginning"

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def handle(self, batch: pa.Table) -> None:
        if PRODUCT_UPDATED in set(batch.column("event").to_pylist()):
            self._platform.commerce.catalogue.apply_updates(batch)


def listing_dict(row: ChannelListing) -> dict[str, Any]:
    return {
        "sku": row.sku,
        "channel": row.channel,
        "channel_sku": row.channel_sku,
        "listed": row.listed,
        "title": row.title,
        "price": row.price,
        "currency": row.currency,
        "attributes": row.attributes,
        "source": row.source,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }
