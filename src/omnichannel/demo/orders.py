"""Purchases: when each person buys (BG/NBD), through which channel, and what (Gamma-Gamma).

Each person buys as a Poisson process with their own rate and, after every purchase,
stops for good with their own dropout probability; that is exactly the BG/NBD story,
so a BG/NBD fit on these orders should recover the per-person rates in the truth.
Basket value scatters around the person's own spend level (the Gamma-Gamma story).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from omnichannel.demo.catalogue import Catalogue
from omnichannel.demo.codes import hex_tokens
from omnichannel.demo.identities import Identities
from omnichannel.demo.model import CURRENCY, DemoConfig, day_weights, sample_rows, to_timestamp
from omnichannel.demo.money import decimal_array
from omnichannel.demo.people import People

STORE, WEB, APP, WECHAT, MARKETPLACE = range(5)
ORDER_CHANNELS = ("store", "web", "app", "wechat", "marketplace")
ORDER_SOURCES = ("pos", "web", "app", "wechat")
FREE_SHIPPING_CENTS = 9_900
SHIPPING_CENTS = 1_000


@dataclass
class PlannedOrders:
    """Orders before their sessions exist: who, when (local day, seconds), where."""

    person: np.ndarray
    day: np.ndarray
    seconds: np.ndarray  # UTC seconds after the epoch
    channel: np.ndarray
    store: np.ndarray
    campaign: np.ndarray

    @classmethod
    def concat(cls, parts: list[PlannedOrders]) -> PlannedOrders:
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("person", "day", "seconds", "channel", "store", "campaign")
            )
        )


def local_hours(
    rng: np.random.Generator, people: People, person: np.ndarray, lo: int = 0, hi: int = 23
) -> np.ndarray:
    """Seconds after local midnight drawn from each person's own hour-of-day profile."""
    hours = np.empty(len(person), dtype=np.int64)
    for start in range(0, len(person), 400_000):  # bounded memory for the 24-wide cumsum
        chunk = person[start : start + 400_000]
        hours[start : start + 400_000] = sample_rows(rng, people.hour_profile, chunk)
    hours = np.clip(hours, lo, hi)
    return hours * 3_600 + rng.integers(0, 3_600, size=len(person))


def sample_days(
    rng: np.random.Generator, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """A day in [lo, hi] per row, proportional to the day weights."""
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    u = cdf[lo] + rng.random(len(lo)) * (cdf[hi + 1] - cdf[lo])
    return np.clip(np.searchsorted(cdf, u, side="right") - 1, lo, hi)


def plan_baseline_orders(
    rng: np.random.Generator, config: DemoConfig, people: People, ids: Identities
) -> tuple[PlannedOrders, np.ndarray]:
    """Organic purchases and each person's last active day (dropout)."""
    weights = day_weights(config)
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    first = np.maximum(people.signup_day, 0)
    exposure = cdf[config.days] - cdf[first]
    count = rng.poisson(people.purchase_rate * exposure)
    person = np.repeat(np.arange(people.n), count)
    day = sample_days(rng, weights, first[person], np.full(len(person), config.days - 1))
    secs = local_hours(rng, people, person)
    order = np.lexsort((secs, day, person))
    person, day, secs = person[order], day[order], secs[order]
    rank = np.arange(len(person)) - np.repeat(np.cumsum(count) - count, count)
    # Geometric number of purchases before the person silently leaves.
    lifetime = rng.geometric(np.clip(people.dropout, 1e-3, 1.0))
    keep = rank < lifetime[person]
    last_day = np.full(people.n, config.days - 1)
    dropped = keep & (rank == lifetime[person] - 1) & (count[person] > lifetime[person])
    last_day[person[dropped]] = day[dropped]
    person, day, secs = person[keep], day[keep], secs[keep]
    channel = sample_rows(rng, people.purchase_mix, person)
    no_market = np.array([ids.marketplace_record[p] is None for p in person], dtype=bool)
    channel = np.where((channel == MARKETPLACE) & no_market, STORE, channel)
    return _placed(rng, config, people, person, day, secs, channel, -1), last_day


def _placed(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    person: np.ndarray,
    day: np.ndarray,
    secs: np.ndarray,
    channel: np.ndarray,
    campaign: int | np.ndarray,
) -> PlannedOrders:
    in_store = channel == STORE
    # Stores open 10:00-22:00 local; someone whose hour is outside that shops at the edge.
    hour = np.where(in_store, np.clip(secs // 3_600, 10, 21), secs // 3_600)
    secs = hour * 3_600 + secs % 3_600
    n_stores = int(people.home_store.max()) + 1
    store = np.where(
        rng.random(len(person)) < 0.85,
        people.home_store[person],
        rng.integers(0, n_stores, size=len(person)),
    )
    return PlannedOrders(
        person=person,
        day=day,
        seconds=day * 86_400 + secs - 8 * 3_600,
        channel=channel,
        store=np.where(in_store, store, -1),
        campaign=np.broadcast_to(np.asarray(campaign, dtype=np.int64), person.shape).copy(),
    )


def placed_orders(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    person: np.ndarray,
    day: np.ndarray,
    secs: np.ndarray,
    channel: np.ndarray,
    campaign: np.ndarray,
) -> PlannedOrders:
    """Orders at given local times (e.g. converting campaign sessions)."""
    return _placed(rng, config, people, person, day, secs, channel, campaign)


@dataclass
class OrderTables:
    orders: pa.Table
    order_lines: pa.Table
    order_person: np.ndarray
    order_ids: pa.Array
    position: np.ndarray  # planned order index -> row in ``orders``
    line_order: np.ndarray  # row in ``orders`` of each line
    line_product: np.ndarray
    total_cents: np.ndarray


def build_order_tables(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    ids: Identities,
    catalogue: Catalogue,
    plan: PlannedOrders,
    anon: pa.Array,
    campaign_ids: list[str],
    promo_days: np.ndarray,
) -> OrderTables:
    """Orders and their lines; ``anon`` is each order's session anonymous id (or null)."""
    n = len(plan.person)
    order = np.lexsort((plan.person, plan.seconds))
    plan = PlannedOrders(
        *(
            getattr(plan, f)[order]
            for f in ("person", "day", "seconds", "channel", "store", "campaign")
        )
    )
    anon = anon.take(pa.array(order))
    order_ids = pa.array([f"ORD-{k + 1:08d}" for k in range(n)])

    n_lines = 1 + rng.poisson(0.55, size=n)
    line_order = np.repeat(np.arange(n), n_lines)
    line_no = np.arange(len(line_order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    owner = plan.person[line_order]
    category = sample_rows(rng, people.category_affinity, owner)
    target = (
        people.spend_level[owner]
        * np.exp(rng.normal(0, 0.35, size=len(owner)))
        / np.sqrt(n_lines[line_order])
    )
    product = np.empty(len(owner), dtype=np.int64)
    for c, sorted_idx in enumerate(catalogue.by_category_sorted):
        rows = np.flatnonzero(category == c)
        prices = catalogue.product_price_cents[sorted_idx] / 100.0
        pos = np.clip(np.searchsorted(prices, target[rows]), 0, len(sorted_idx) - 1)
        pos = np.clip(pos + rng.integers(-2, 3, size=len(rows)), 0, len(sorted_idx) - 1)
        product[rows] = sorted_idx[pos]
    qty = 1 + (rng.random(len(owner)) < 0.1).astype(np.int64)
    unit = catalogue.product_price_cents[product]
    gross = unit * qty
    promo = promo_days[plan.day[line_order]] | (plan.campaign[line_order] >= 0)
    line_discount = np.where(promo, np.round(gross * 0.15 / 100).astype(np.int64) * 100, 0)
    line_total = gross - line_discount

    subtotal = np.bincount(line_order, weights=gross, minlength=n).astype(np.int64)
    discount = np.bincount(line_order, weights=line_discount, minlength=n).astype(np.int64)
    online = plan.channel != STORE
    shipping = np.where(online & (subtotal - discount < FREE_SHIPPING_CENTS), SHIPPING_CENTS, 0)
    total = subtotal - discount + shipping

    person_list = plan.person.tolist()
    channel_list = plan.channel.tolist()
    source: list[str] = []
    record: list[str | None] = []
    user: list[str | None] = []
    shows_card = rng.random(n) < 0.85
    for k in range(n):
        p, ch = person_list[k], channel_list[k]
        if ch == STORE:
            source.append("pos")
            record.append(ids.loyalty_record[p] if shows_card[k] else None)
            user.append(None)
        elif ch == MARKETPLACE:
            source.append(ids.marketplace_source[p] or "tmall")
            record.append(ids.marketplace_record[p])
            user.append(ids.marketplace_record[p])
        else:
            source.append(ORDER_SOURCES[ch])
            record.append(ids.crm_id[p])
            user.append(ids.user_id[p])
    coupons = hex_tokens(rng, n, 3, prefix="LP").to_pylist()
    orders = pa.table(
        {
            "order_id": order_ids,
            "source": source,
            "channel": [ORDER_CHANNELS[c] for c in channel_list],
            "store_id": catalogue.store_ids.take(pa.array(plan.store, mask=plan.store < 0)),
            "customer_record_id": record,
            "user_id": user,
            "anonymous_id": anon,
            "ordered_at": pa.array(to_timestamp(config, plan.seconds)),
            "status": np.where(rng.random(n) < 0.04, "refunded", "completed").tolist(),
            "currency": [CURRENCY] * n,
            "subtotal": decimal_array(subtotal),
            "discount": decimal_array(discount),
            "tax": decimal_array(np.zeros(n, dtype=np.int64)),  # Chinese shelf prices include VAT
            "shipping": decimal_array(shipping),
            "total": decimal_array(total),
            "campaign_id": pa.array(
                [campaign_ids[c] if c >= 0 else None for c in plan.campaign], pa.string()
            ),
            "coupon": [coupons[k] if plan.campaign[k] >= 0 else None for k in range(n)],
            "fulfilment": np.where(
                ~online, "in_store", np.where(rng.random(n) < 0.12, "click_and_collect", "delivery")
            ).tolist(),
        }
    )
    lines = pa.table(
        {
            "order_id": order_ids.take(pa.array(line_order)),
            "line_number": pa.array(line_no, pa.int32()),
            "product_id": catalogue.product_ids.take(pa.array(product)),
            "sku": catalogue.product_skus.take(pa.array(product)),
            "quantity": pa.array(qty, pa.int32()),
            "unit_price": decimal_array(unit),
            "discount": decimal_array(line_discount),
            "line_total": decimal_array(line_total),
            "currency": pa.array([CURRENCY] * len(line_order)),
        }
    )
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    return OrderTables(
        orders=orders,
        order_lines=lines,
        order_person=plan.person,
        order_ids=order_ids,
        position=position,
        line_order=line_order,
        line_product=product,
        total_cents=total,
    )
