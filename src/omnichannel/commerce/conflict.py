"""Channel conflict: what online sales owe the stores, and what promotions move between channels.

Seed 003 resolves channel conflict with shared KPIs: an online order from a store's area
counts toward that store. Three analyses over the warehouse's ``orders`` (people through
``record_profiles``, as identity resolution linked them), ``deliveries`` and the
operational store's ``commerce_orders``:

- ``catchment``: each online order credited to one store: the store it is picked up
  at; else the nearest store within ``radius_km`` of the order's coordinates; else the
  buyer's **home store** (where that person bought in store most often). Per store: its
  own sales beside the online orders credited to it.
- ``online_to_offline``: people who received a campaign's online message, and whether
  they then bought in a store within ``window_days``, against everyone else, before
  and after (a difference in differences, so a campaign sent to people who shop in
  stores anyway is not credited with their habit), with a two-proportion z-test.
- ``cannibalisation``: a promotion's daily units on its channels and on the others, in
  the promotion against as many days just before it (Welch's t-test per side): units the
  other channels lost while the promoted ones gained were taken from them, not added.

Statistics come from statsmodels and scipy; the grouping is pandas over rows read with Ibis.

Example::

    conflict = platform.commerce.conflict
    conflict.catchment(since=date(2026, 11, 1))["stores"][0]   # {"store_id", "credited_orders"...}
    conflict.online_to_offline("CMP-DOUBLE11", window_days=14)["lift"]
    conflict.cannibalisation("double-11")["cannibalised_units"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnichannel.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

IN_STORE = "store"  # the orders table's channel of a till sale
EARTH_KM = 6371.0
MAX_WINDOW_DAYS = 365
MARKETPLACES = {"tmall", "jd"}


class ChannelConflict:
    """Catchment credit, online-to-offline and cannibalisation: ``platform.commerce.conflict``."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- reading -------------------------------------------------------------------

    def _orders(self, since: datetime | None, until: datetime | None) -> pd.DataFrame:
        """Orders with the buyer's profile (None when identity resolution has none)."""
        with self._platform.warehouse.reader() as wh:
            o = wh.table("orders")
            rp = wh.table("record_profiles")
            if since is not None:
                o = o.filter(o.ordered_at >= since.replace(tzinfo=None))
            if until is not None:
                o = o.filter(o.ordered_at < until.replace(tzinfo=None))
            joined = o.left_join(rp, [o.source == rp.source, o.order_id == rp.record_id])
            frame = joined.select(
                order_id=o.order_id,
                channel=o.channel,
                store_id=o.store_id,
                total=o.total.cast("float64"),
                ordered_at=o.ordered_at,
                profile_id=rp.profile_id,
            ).to_pandas()
        return frame.drop_duplicates("order_id")

    def _stores(self) -> pd.DataFrame:
        with self._platform.warehouse.reader() as wh:
            s = wh.table("stores")
            return s.select("store_id", "name", "latitude", "longitude").to_pandas()

    # --- catchment credit ------------------------------------------------------------

    def catchment(
        self,
        *,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        radius_km: float = 10.0,
    ) -> dict[str, Any]:
        """Every store's own sales and the online orders credited to it, and why."""
        if isinstance(radius_km, bool) or not isinstance(radius_km, int | float) or radius_km <= 0:
            raise ValidationError("radius_km", radius_km, "a distance in km above 0")
        start, end = _moment(since, "since"), _moment(until, "until")
        orders = self._orders(start, end)
        stores = self._stores()
        in_store = orders[orders.channel == IN_STORE]
        online = orders[orders.channel != IN_STORE].copy()
        home = _home_stores(in_store)
        online["credited_to"] = online.profile_id.map(home)
        online["credit_by"] = online.credited_to.notna().map({True: "home_store", False: None})
        extra = self._commerce_credits(stores, start, end, radius_km)
        columns = ["order_id", "channel", "total", "credited_to", "credit_by"]
        credited = (
            pd.concat([online[columns], extra[columns]], ignore_index=True)
            if len(extra)
            else online[columns]
        )
        rows: list[dict[str, Any]] = []
        for store_id, name in zip(stores.store_id, stores.name, strict=True):
            own = in_store[in_store.store_id == store_id]
            got = credited[credited.credited_to == store_id]
            total_orders = len(own) + len(got)
            rows.append(
                {
                    "store_id": store_id,
                    "name": name,
                    "store_orders": len(own),
                    "store_revenue": round(float(own.total.sum()), 2),
                    "credited_orders": len(got),
                    "credited_revenue": round(float(got.total.fillna(0).sum()), 2),
                    "credit_share": round(len(got) / total_orders, 4) if total_orders else 0.0,
                    "by": {k: int(v) for k, v in got.credit_by.value_counts().items()},
                }
            )
        rows.sort(key=lambda r: (-int(r["credited_orders"]), str(r["store_id"])))
        unattributed = int(credited.credited_to.isna().sum())
        return {
            "since": _iso(start),
            "until": _iso(end),
            "radius_km": radius_km,
            "online_orders": len(credited),
            "credited_orders": len(credited) - unattributed,
            "unattributed_orders": unattributed,
            "stores": rows,
        }

    def _commerce_credits(
        self,
        stores: pd.DataFrame,
        since: datetime | None,
        until: datetime | None,
        radius_km: float,
    ) -> pd.DataFrame:
        """The order table's online orders: credited by pick-up store, else by distance."""
        from sqlalchemy import select

        from omnichannel.opstore.models import CommerceOrder, StockLocation

        with self._platform.opstore.session() as session:
            query = select(CommerceOrder).where(CommerceOrder.channel != IN_STORE)
            if since is not None:
                query = query.where(CommerceOrder.created_at >= since)
            if until is not None:
                query = query.where(CommerceOrder.created_at < until)
            orders = list(session.scalars(query))
            located = {
                loc.location_id: (loc.latitude, loc.longitude)
                for loc in session.scalars(
                    select(StockLocation).where(StockLocation.kind == "store")
                )
            }
        placed = stores.dropna(subset=["latitude", "longitude"])
        places = {
            str(sid): (float(lat), float(lon))
            for sid, lat, lon in zip(
                placed.store_id, placed.latitude, placed.longitude, strict=True
            )
        }
        rows = []
        for order in orders:
            credited, by = None, None
            if order.pickup_location in places or order.pickup_location in located:
                credited, by = order.pickup_location, "pickup"
            elif order.latitude is not None and order.longitude is not None and places:
                near, km = _nearest(places, order.latitude, order.longitude)
                if km <= radius_km:
                    credited, by = near, "nearby"
            rows.append(
                {
                    "order_id": order.order_ref,
                    "channel": order.channel,
                    "total": 0.0,  # the order table has no amounts: counted, not summed
                    "credited_to": credited,
                    "credit_by": by,
                }
            )
        return pd.DataFrame(rows)

    # --- online to offline -----------------------------------------------------------

    def online_to_offline(self, campaign: str, *, window_days: int = 14) -> dict[str, Any]:
        """Did a campaign's online messages send people into the stores?"""
        from statsmodels.stats.proportion import proportions_ztest

        if isinstance(window_days, bool) or not isinstance(window_days, int):
            raise ValidationError("window_days", window_days, "a whole number of days, 1 to 365")
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise ValidationError("window_days", window_days, "a whole number of days, 1 to 365")
        with self._platform.warehouse.reader() as wh:
            d = wh.table("deliveries")
            sent = (
                d.filter((d.campaign_id == campaign) & d.profile_id.notnull())
                .group_by("profile_id")
                .aggregate(first=d.sent_at.coalesce(d.queued_at).min())
                .to_pandas()
            )
        sent = sent.dropna(subset=["first"])
        if sent.empty:
            raise NotFoundError(
                f"campaign {campaign!r} has no deliveries to known people "
                "(the deliveries table's campaign_id and profile_id)"
            )
        window = pd.Timedelta(days=window_days)
        anchor = sent["first"].median()
        orders = self._orders(None, None)
        store_buys = orders[(orders.channel == IN_STORE) & orders.profile_id.notna()]
        exposed = dict(zip(sent.profile_id, sent["first"], strict=True))
        people = set(orders.profile_id.dropna())
        control = people - set(exposed)

        def rates(group: dict[str, Any]) -> tuple[int, int, int]:
            """(people, bought in store after, bought in store before) around each's moment."""
            if not group:
                return 0, 0, 0
            at = store_buys.profile_id.map(group)
            mine = store_buys[at.notna()]
            moment = at[at.notna()]
            after = mine[(mine.ordered_at > moment) & (mine.ordered_at <= moment + window)]
            before = mine[(mine.ordered_at <= moment) & (mine.ordered_at > moment - window)]
            return len(group), after.profile_id.nunique(), before.profile_id.nunique()

        n_exp, after_exp, before_exp = rates(exposed)
        n_ctl, after_ctl, before_ctl = rates(dict.fromkeys(control, anchor))
        share = _share
        lift = (share(after_exp, n_exp) - share(before_exp, n_exp)) - (
            share(after_ctl, n_ctl) - share(before_ctl, n_ctl)
        )
        p_value = None
        if n_ctl and 0 < after_exp + after_ctl < n_exp + n_ctl:
            _, p = proportions_ztest([after_exp, after_ctl], [n_exp, n_ctl])
            p_value = None if math.isnan(p) else round(float(p), 6)
        return {
            "campaign": campaign,
            "window_days": window_days,
            "exposed": {
                "people": n_exp,
                "store_buyers_after": after_exp,
                "store_buyers_before": before_exp,
                "rate_after": round(share(after_exp, n_exp), 4),
                "rate_before": round(share(before_exp, n_exp), 4),
            },
            "others": {
                "people": n_ctl,
                "store_buyers_after": after_ctl,
                "store_buyers_before": before_ctl,
                "rate_after": round(share(after_ctl, n_ctl), 4),
                "rate_before": round(share(before_ctl, n_ctl), 4),
                "anchor": _iso(anchor.to_pydatetime()) if n_ctl else None,
            },
            "lift": round(lift, 4),
            "p_value": p_value,
            "store_buyers_gained": after_exp - before_exp,
        }

    # --- cannibalisation -------------------------------------------------------------

    def cannibalisation(
        self,
        promotion: str | None = None,
        *,
        channels: Sequence[str] | None = None,
        skus: Sequence[str] | None = None,
        category: str | None = None,
        starts: date | None = None,
        ends: date | None = None,
    ) -> dict[str, Any]:
        """Units on the promoted channels and the others, in the promotion and before it."""
        from scipy.stats import ttest_ind

        if promotion is not None:
            found = self._platform.commerce.prices.book().promotions
            match = [p for p in found if p.name == promotion]
            if not match:
                names = ", ".join(p.name for p in found) or "none in the price book"
                raise NotFoundError(f"no promotion {promotion!r} (the price book has: {names})")
            promo = match[0]
            channels = channels or list(promo.channels)
            skus = skus or (list(promo.skus) if promo.skus else None)
            category = category or promo.category
            starts, ends = starts or promo.starts, ends or promo.ends
        if not channels:
            raise ValidationError("channels", channels, "the promoted channels, e.g. tmall,jd")
        if starts is None or ends is None or ends <= starts:
            raise ValidationError(
                "ends", None if ends is None else ends.isoformat(), "a day after starts"
            )
        days = (ends - starts).days
        before = starts - timedelta(days=days)
        daily = self._daily_units(before, ends, skus, category)
        promoted_set = set(channels)
        daily["side"] = daily.channel.map(
            lambda c: "promoted" if _promoted(c, promoted_set) else "other"
        )
        calendar = pd.date_range(before, ends - timedelta(days=1), freq="D").date
        result: dict[str, Any] = {
            "promotion": promotion,
            "channels": sorted(promoted_set),
            "skus": list(skus) if skus else None,
            "category": category,
            "starts": starts.isoformat(),
            "ends": ends.isoformat(),
            "baseline_from": before.isoformat(),
        }
        for side in ("promoted", "other"):
            per_day = (
                daily[daily.side == side]
                .groupby("day")
                .units.sum()
                .reindex(calendar, fill_value=0)
                .astype(float)
            )
            pre, during = per_day.iloc[:days], per_day.iloc[days:]
            p_value = None
            if pre.std() > 0 or during.std() > 0:
                p = ttest_ind(during, pre, equal_var=False).pvalue
                p_value = None if math.isnan(p) else round(float(p), 6)
            result[side] = {
                "units_before": int(pre.sum()),
                "units_during": int(during.sum()),
                "change": int(during.sum() - pre.sum()),
                "p_value": p_value,
            }
        gained, lost = result["promoted"]["change"], -result["other"]["change"]
        taken = max(0, min(lost, gained)) if gained > 0 else 0
        result["cannibalised_units"] = taken
        result["cannibalised_share"] = round(taken / gained, 4) if gained > 0 else 0.0
        p_other = result["other"]["p_value"]
        result["cannibalised"] = bool(taken > 0 and p_other is not None and p_other < 0.05)
        return result

    def _daily_units(
        self, since: date, until: date, skus: Sequence[str] | None, category: str | None
    ) -> pd.DataFrame:
        with self._platform.warehouse.reader() as wh:
            o, lines = wh.table("orders"), wh.table("order_lines")
            start = datetime(since.year, since.month, since.day)
            end = datetime(until.year, until.month, until.day)
            o = o.filter((o.ordered_at >= start) & (o.ordered_at < end))
            joined = lines.join(o, [lines.source == o.source, lines.order_id == o.order_id])
            if skus:
                joined = joined.filter(joined.sku.isin(list(skus)))
            if category:
                products = wh.table("products")
                wanted = products.filter(products.category == category).select("sku")
                joined = joined.semi_join(wanted, "sku")
            frame = (
                joined.group_by(day=joined.ordered_at.date(), channel=joined.channel)
                .aggregate(units=joined.quantity.sum())
                .to_pandas()
            )
        frame["units"] = frame["units"].fillna(0).astype(int)
        return frame


def _home_stores(in_store: pd.DataFrame) -> dict[str, str]:
    """Each person's store: where they bought in store most often (the latest on a tie)."""
    known = in_store.dropna(subset=["profile_id", "store_id"])
    if known.empty:
        return {}
    counted = (
        known.groupby(["profile_id", "store_id"])
        .agg(n=("order_id", "size"), last=("ordered_at", "max"))
        .reset_index()
        .sort_values(["profile_id", "n", "last"], ascending=[True, False, False])
    )
    first = counted.drop_duplicates("profile_id")
    return dict(zip(first.profile_id, first.store_id, strict=True))


def _nearest(places: dict[str, tuple[float, float]], lat: float, lon: float) -> tuple[str, float]:
    best = min(places.items(), key=lambda kv: _km(kv[1], (lat, lon)))
    return best[0], _km(best[1], (lat, lon))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def _promoted(channel: str, promoted: set[str]) -> bool:
    """Orders may name the marketplaces together (``marketplace``, as the demo's do): a
    promotion on tmall or jd then covers them."""
    return channel in promoted or (channel == "marketplace" and bool(promoted & MARKETPLACES))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _moment(value: date | datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValidationError(name, value, "a date YYYY-MM-DD")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
