"""The demo's "today" purchases as the source systems export them, loaded by the connectors.

An online purchase is an ``Order Completed`` call from the app (the journeys see it) and a
row of the storefront's order export; a store purchase is a till ticket with the loyalty
card shown, and no event at all. Both exports go through the same connectors and shipped
mappings as the history's (``lotus-pine-orders``, ``lotus-pine-pos``), into ``orders``,
so the marketing funnel's purchase step and the experiments' revenue read them, and an
incremental identity resolution then gives them their buyer's profile: a store purchase
counts for the person who clicked the email on their phone.

Example::

    purchases = [Purchase.online(at, person, product), Purchase.in_store(at, person, ...)]
    load_purchases(platform, directory, purchases)   # {"online": 12, "store": 5}
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnichannel.demo.exports import local_time, shop_time, write_csv
from omnichannel.demo.responders import Recipient

if TYPE_CHECKING:
    from omnichannel.platform import Platform

CURRENCY = "CNY"
# Online orders under this ship for 10 CNY (docs/demo.md, Orders).
FREE_SHIPPING = Decimal("99")
SHIPPING = Decimal("10")
# A coupon code's discount: the win-back's HELLO15 (and the demo's campaigns) take 15 %.
COUPON_OFF = Decimal("0.15")
ONLINE_SOURCE = "app"


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Purchase:
    """One order of the demo's day: online (``store_id`` None) or at a store's till."""

    at: datetime
    person: Recipient
    product: dict[str, Any]  # product_id, sku, price
    store_id: str | None = None
    cart: str | None = None
    coupon: str | None = None

    @property
    def order_id(self) -> str:
        place = self.store_id or "online"
        made = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.person.person_id}/{place}/{self.at}")
        return f"LP-J{made.hex[:10].upper()}"

    @property
    def price(self) -> Decimal:
        return Decimal(str(self.product["price"])).quantize(Decimal("0.01"))

    @property
    def discount(self) -> Decimal:
        if self.coupon is None:
            return Decimal("0")
        return (self.price * COUPON_OFF).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @property
    def shipping(self) -> Decimal:
        online = self.store_id is None
        return SHIPPING if online and self.price - self.discount < FREE_SHIPPING else Decimal("0")

    @property
    def total(self) -> Decimal:
        return self.price - self.discount + self.shipping


def _times(purchases: Sequence[Purchase]) -> pa.Array:
    return pa.array([p.at.replace(tzinfo=None) for p in purchases], pa.timestamp("us"))


def storefront_export(path: Path, purchases: Sequence[Purchase]) -> int:
    """Shopify's order export layout (one line item each), as ``lotus-pine-orders`` reads."""

    def column(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string())

    p = purchases
    columns = {
        "Name": column([x.order_id for x in p]),
        "Email": column([x.person.email for x in p]),
        "Financial Status": column(["paid"] * len(p)),
        "Fulfillment Status": column(["fulfilled"] * len(p)),
        "Currency": column([CURRENCY] * len(p)),
        "Subtotal": column([_money(x.price) for x in p]),
        "Shipping": column([_money(x.shipping) for x in p]),
        "Taxes": column(["0.00"] * len(p)),  # shelf prices include VAT
        "Total": column([_money(x.total) for x in p]),
        "Discount Code": column([x.coupon for x in p]),
        "Discount Amount": column([_money(x.discount) for x in p]),
        "Created at": local_time(_times(p)),
        "Lineitem quantity": column(["1"] * len(p)),
        "Lineitem price": column([_money(x.price) for x in p]),
        "Lineitem sku": column([x.product.get("sku") for x in p]),
        "Lineitem discount": column([_money(x.discount) for x in p]),
        "Lineitem product id": column([x.product["product_id"] for x in p]),
        "Channel": column([ONLINE_SOURCE] * len(p)),
        "Fulfillment Method": column(["delivery"] * len(p)),
        "Customer ID": column([x.person.crm_record for x in p]),
        "User ID": column([x.person.user_id for x in p]),
        "Anonymous ID": column([None] * len(p)),
        "Campaign ID": column([None] * len(p)),
    }
    return write_csv(path, columns)


def till_export(path: Path, purchases: Sequence[Purchase]) -> int:
    """The stores' ticket export (GB18030, Chinese headers), as ``lotus-pine-pos`` reads."""

    def column(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string())

    p = purchases
    columns = {
        "小票号": column([x.order_id for x in p]),
        "门店编号": column([x.store_id for x in p]),
        "交易时间": shop_time(_times(p)),
        "会员编号": column([x.person.loyalty_record for x in p]),
        "状态": column(["已完成"] * len(p)),
        "商品编码": column([x.product["product_id"] for x in p]),
        "商品条码": column([x.product.get("sku") for x in p]),
        "数量": column(["1"] * len(p)),
        "单价": column([_money(x.price) for x in p]),
        "折扣": column([_money(x.discount) for x in p]),
        "金额": column([_money(x.price - x.discount) for x in p]),
        "商品总额": column([_money(x.price) for x in p]),
        "优惠金额": column([_money(x.discount) for x in p]),
        "实收金额": column([_money(x.total) for x in p]),
        "优惠券": column([x.coupon for x in p]),
        "活动编号": column([None] * len(p)),
    }
    return write_csv(path, columns, encoding="gb18030")


def load_purchases(
    platform: Platform, directory: Path, purchases: Sequence[Purchase], *, max_future: timedelta
) -> dict[str, int]:
    """Write the day's two exports into ``directory`` and load them with the connectors;
    then resolve identities (incrementally) so the new orders join their buyers' profiles.
    ``max_future``: how far ahead of the real clock an order may be (the demo's virtual
    day runs ahead of it). Returns the orders stored per kind."""
    from omnichannel.ingest.connectors import ingest_file
    from omnichannel.ingest.mapping import load_mapping
    from omnichannel.ingest.segment import Limits

    settings = platform.settings
    limits = Limits(max_future=max_future, max_age=settings.event_max_age)

    ordered = sorted(purchases, key=lambda x: (x.at, x.person.person_id))
    online = [x for x in ordered if x.store_id is None]
    store = [x for x in ordered if x.store_id is not None]
    stored = {"online": 0, "store": 0}
    exports = (
        ("online", online, directory / ONLINE_SOURCE / "orders_export.csv", storefront_export),
        ("store", store, directory / "pos" / "tickets.csv", till_export),
    )
    for kind, rows, path, write in exports:
        if not rows:
            continue
        write(path, rows)
        source, mapping = (
            (ONLINE_SOURCE, "lotus-pine-orders") if kind == "online" else ("pos", "lotus-pine-pos")
        )
        with platform.warehouse.writer() as wh:
            outcome = ingest_file(
                wh,
                path,
                kind="orders" if kind == "online" else "pos",
                source=source,
                mapping=load_mapping(mapping),
                limits=limits,
            )
        stored[kind] = int(outcome.written.get("orders", 0))
    platform.identity.resolve()
    return stored
