"""``platform.commerce``: the catalogue, stock and orders, as the CLI, the API and jobs see them.

Example::

    commerce = platform.commerce
    commerce.catalogue.load(Path("listings.csv"), source="erp")
    commerce.inventory.load(Path("stock.csv"), source="pos")
    commerce.inventory.reserve("LP-0001", 1, location="sh-01", key="cart-42")
    commerce.orders.create("W-1", channel="web", lines=[{"sku": "LP-0001", "quantity": 1}],
                           fulfilment="pickup", pickup_location="sh-01", email="ann@mail.cn")
    commerce.orders.route("W-1")["candidates"]       # every location, why it lost or ranked
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.commerce import events, files
from omnichannel.commerce.catalogue import DEFAULT_LISTED, Catalogue
from omnichannel.commerce.inventory import DEFAULT_TTL, Inventory, Movement
from omnichannel.commerce.orders import Orders
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.commerce.conflict import ChannelConflict
    from omnichannel.commerce.pricing import Prices
    from omnichannel.platform import Platform

# Which location kinds can serve a channel: online channels ship from warehouses and
# stores; a store sells its own shelf.
ONLINE = ("web", "app", "wechat", "tmall", "jd")
SERVES: dict[str, tuple[str, ...]] = {
    **{c: ("warehouse", "store") for c in ONLINE},
    "store": ("store",),
}


def _now() -> datetime:
    return datetime.now(UTC)


class CommerceCapability:
    """Catalogue (``.catalogue``), stock (``.inventory``), orders (``.orders``)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.clock = _now

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self._platform)

    @cached_property
    def inventory(self) -> InventoryCapability:
        return InventoryCapability(
            self._platform, Inventory(self._platform.opstore, clock=lambda: self.clock())
        )

    @cached_property
    def prices(self) -> Prices:
        """The price book, effective prices per channel, the consistency check."""
        from omnichannel.commerce.pricing import Prices

        return Prices(self._platform)

    @cached_property
    def conflict(self) -> ChannelConflict:
        """Catchment credit for stores, online-to-offline traffic, cannibalisation."""
        from omnichannel.commerce.conflict import ChannelConflict

        return ChannelConflict(self._platform)

    @cached_property
    def orders(self) -> Orders:
        return Orders(self._platform, self.inventory.stock, clock=lambda: self.clock())


class InventoryCapability:
    """Stock per location, reservations and available-to-promise; every change published."""

    def __init__(self, platform: Platform, stock: Inventory) -> None:
        self._platform = platform
        self.stock = stock

    def __getattr__(self, name: str) -> Any:
        # Reads and location management are the Inventory's own (levels, locations...).
        return getattr(self.stock, name)

    def publish(self) -> int:
        """Store the ledger's new movements as ``Inventory Changed`` events."""
        return events.publish(self._platform, self.stock)

    def reserve(
        self,
        sku: str,
        quantity: int,
        *,
        location: str,
        key: str,
        ttl: timedelta = DEFAULT_TTL,
        channel: str | None = None,
        order_ref: str | None = None,
    ) -> dict[str, Any]:
        held = self.stock.reserve(
            sku, quantity, location=location, key=key, ttl=ttl, channel=channel, order_ref=order_ref
        )
        self.publish()
        return held

    def release(self, key: str) -> dict[str, Any]:
        released = self.stock.release(key)
        self.publish()
        return released

    def fulfil(self, key: str) -> dict[str, Any]:
        done = self.stock.fulfil(key)
        self.publish()
        return done

    def expire_due(self) -> int:
        expired = self.stock.expire_due()
        if expired:
            self.publish()
        return expired

    def show(self, sku: str) -> dict[str, Any]:
        """Levels per location and available-to-promise per channel of one SKU."""
        self.expire_due()
        levels = self.stock.levels(sku)
        channels = {}
        for channel, kinds in SERVES.items():
            listed = self._platform.commerce.catalogue.is_listed(sku, channel)
            units = sum(lv["available"] for lv in levels if lv["kind"] in kinds)
            channels[channel] = {"listed": listed, "available": units if listed else 0}
        return {
            "sku": sku,
            "on_hand": sum(lv["on_hand"] for lv in levels),
            "reserved": sum(lv["reserved"] for lv in levels),
            "in_transit": sum(lv["on_hand"] for lv in levels if lv["kind"] == "transit"),
            "locations": levels,
            "channels": channels,
        }

    def available_to_promise(self, skus: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Available-to-promise of every stocked SKU (or ``skus``) on every channel.

        One grouped query sums each SKU's available units per location kind; a channel
        gets the kinds that serve it, and 0 where the SKU is not in its assortment (one
        read of the listings). The same figures ``show`` gives one SKU at a time.
        """
        by_kind = self.stock.available_by_kind(skus)
        listed = self._platform.commerce.catalogue.assortment(by_kind)
        # One sum per SKU for each distinct set of kinds (online channels share one):
        # 100,000 SKUs x 6 channels is 600,000 figures, and their Python is most of the call.
        kind_sets = set(SERVES.values())
        defaults = {channel: channel in DEFAULT_LISTED for channel in SERVES}
        rows = []
        for sku in sorted(by_kind):
            units = by_kind[sku]
            totals = {kinds: sum([units.get(k, 0) for k in kinds]) for kinds in kind_sets}
            row: dict[str, Any] = {"sku": sku}
            for channel, kinds in SERVES.items():
                on = listed.get((sku, channel), defaults[channel])
                row[channel] = totals[kinds] if on else 0
            rows.append(row)
        return rows

    def load(
        self, path: Path, *, source: str, mapping: str | Path = "omnichannel-stock"
    ) -> dict[str, Any]:
        """Apply a stock file (POS sales, receipts, counts) in time order, once per movement.

        A movement's key is the source and its ``movement_id``, so a replayed file, or
        the same file under another name, changes nothing. Rows naming an unknown SKU or
        location, or that cannot apply, go to the dead letters with the reason.
        """
        checked = files.load_mapping(mapping, "stock")
        read = files.read_file(
            path, checked, source=source, region=self._platform.settings.default_region
        )
        catalogue = self._platform.commerce.catalogue
        known = catalogue.known_skus({r["sku"] for r in read.rows})
        locations = {loc["location_id"] for loc in self.stock.locations()}
        letters = list(read.letters)
        movements, row_of = [], {}
        for row in read.rows:
            movement_id = row.get("movement_id") or row["__id"]
            if row["sku"] not in known:
                why = ("sku", row["sku"], "a SKU of the products table (this one is unknown)")
            elif row["location_id"] not in locations:
                why = (
                    "location_id",
                    row["location_id"],
                    "a stock location (omni inventory locations lists them)",
                )
            else:
                why = None
            if why is not None:
                letters.append(
                    files.letter(
                        row,
                        source=source,
                        kind="stock",
                        path=read.path,
                        field_=why[0],
                        value=why[1],
                        reason=why[2],
                    )
                )
                continue
            occurred = row.get("occurred_at")
            if occurred is not None and occurred.tzinfo is None:
                occurred = occurred.replace(tzinfo=UTC)  # normalised to naive UTC
            key = f"{source}:{movement_id}"
            row_of[key] = row
            movements.append(
                Movement(
                    key,
                    row["location_id"],
                    row["sku"],
                    str(row["kind"]),
                    int(row["quantity"]),
                    occurred_at=occurred,
                    source=source,
                    reference=row.get("reference"),
                )
            )
        report = self.stock.apply(movements)
        for refused in report.refused:
            letters.append(
                files.letter(
                    row_of[refused["key"]],
                    source=source,
                    kind="stock",
                    path=read.path,
                    field_="movement",
                    value=refused["key"],
                    reason=refused["reason"],
                )
            )
        stored = self._platform.commerce.catalogue._dead_letters(letters)
        published = self.publish()
        return {
            "path": read.path,
            "source": source,
            "kind": "stock",
            "mapping": read.mapping,
            "rows": read.read,
            "applied": report.applied,
            "already_applied": report.already_applied,
            "rejected": len(letters),
            "dead_letters": stored,
            "events": published,
            "reasons": sorted({f"{letter.field}: {letter.reason}" for letter in letters}),
        }

    def put_location(self, location_id: str, **values: Any) -> dict[str, Any]:
        if "kind" in values and values["kind"] is None:
            raise ValidationError("kind", None, "warehouse, store or transit")
        return self.stock.put_location(location_id, **values)
