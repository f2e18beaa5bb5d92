"""What a person is clustered on: RFM and behaviour, one row per profile, read through Ibis.

Every profile of the last build is a row (buyers and people who never ordered):

============================  ==========================================================
feature                       from
============================  ==========================================================
``days_since_last_order``     ``profiles.recency_days``; without an order, the profile's
                              tenure (it has been "never" for as long as we know them)
``orders``                    ``profiles.orders`` (frequency)
``revenue``                   ``profiles.revenue`` (monetary)
``average_order_value``       ``profiles.average_order_value`` (0 without an order)
``tenure_days``               the data's end (latest ``last_seen``) minus ``first_seen``
``events``                    ``profiles.events`` (engagement: visits, views, clicks...)
``orders_share:<channel>``    share of the person's orders per purchase channel (store,
                              web, app, wechat, marketplace...): the online/store split
                              and the channel mix; 0 without an order
``category:<name>``           ``profile_affinities`` category score (share of interest)
``content:<type>``            ``profile_affinities`` content-type score
============================  ==========================================================

Scaling (``Scaling``): counts, days and money are ``log1p``-transformed (their spread is
multiplicative: a 10-order customer is not ten 1-order ones apart from an 11-order one),
shares are kept as they are; then every column is standardised to mean 0, variance 1,
and each group of interest columns (categories, content types) is weighted by
``1/sqrt(columns in it)`` so that eight categories weigh as much as one feature rather
than eight. The channel shares keep a weight of one each: the channel mix (store vs
online, app vs WeChat) is what an omnichannel business tells customers apart by first,
and on the demo it is what makes the clusters follow the people's preferred channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import ibis
import numpy as np

from omnichannel.profiles.traits.base import attributed_orders
from omnichannel.warehouse import Warehouse

LOGGED = (
    "days_since_last_order",
    "orders",
    "revenue",
    "average_order_value",
    "tenure_days",
    "events",
)
CHANNEL_PREFIX = "orders_share:"
CATEGORY_PREFIX = "category:"
CONTENT_PREFIX = "content:"
# Interest groups weighed as one feature each; the channel shares count one each (the
# channel mix is what an omnichannel business tells customers apart by first).
GROUPS = (CATEGORY_PREFIX, CONTENT_PREFIX)
# Share groups keep their largest members only: a long tail of rare categories adds
# dimensions without telling people apart.
MAX_CHANNELS = 6
MAX_CATEGORIES = 8
MAX_CONTENT_TYPES = 6


@dataclass
class Features:
    """The natural-unit feature matrix (days, counts, CNY, shares) of ``profile_ids``."""

    profile_ids: list[str]
    columns: list[str]
    values: np.ndarray  # float64, profiles x columns, natural units
    as_of: datetime | None = None

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]

    def __len__(self) -> int:
        return len(self.profile_ids)


@dataclass
class Scaling:
    """log1p where it fits, standardisation, share groups weighted (module docstring)."""

    columns: list[str]
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    std: np.ndarray = field(default_factory=lambda: np.ones(0))
    weight: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fitted(cls, features: Features) -> Scaling:
        scaling = cls(list(features.columns))
        logged = scaling.logged(features.values)
        scaling.mean = logged.mean(axis=0)
        std = logged.std(axis=0)
        scaling.std = np.where(std > 1e-12, std, 1.0)
        scaling.weight = group_weights(features.columns)
        return scaling

    def logged(self, values: np.ndarray) -> np.ndarray:
        """Natural units to the log scale (counts, days, money) before standardising."""
        out = np.array(values, dtype=np.float64, copy=True)
        for j, name in enumerate(self.columns):
            if name in LOGGED:
                out[:, j] = np.log1p(np.clip(out[:, j], 0, None))
        return out

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Natural units to the space the clusters are fitted in."""
        return (self.logged(values) - self.mean) / self.std * self.weight

    def to_logged(self, scaled: np.ndarray) -> np.ndarray:
        """Back from the fitted space to the log scale (centroids compared across fits)."""
        return scaled / self.weight * self.std + self.mean


def group_weights(columns: list[str]) -> np.ndarray:
    sizes = {prefix: sum(c.startswith(prefix) for c in columns) for prefix in GROUPS}
    weights = []
    for name in columns:
        prefix = next((p for p in GROUPS if name.startswith(p)), None)
        weights.append(1.0 / np.sqrt(sizes[prefix]) if prefix else 1.0)
    return np.asarray(weights)


def read_features(wh: Warehouse, *, columns: list[str] | None = None) -> Features:
    """Every built profile's features; ``columns`` fixes the share columns (a model's own,
    so a person is assigned on the columns the model was fitted on)."""
    p = wh.table("profiles")
    base = p.select(
        "profile_id",
        recency=p.recency_days.cast("float64"),
        orders=p.orders.coalesce(0).cast("float64"),
        revenue=p.revenue.coalesce(0).cast("float64"),
        aov=p.average_order_value.coalesce(0).cast("float64"),
        events=p.events.coalesce(0).cast("float64"),
        first_seen=p.first_seen,
        last_seen=p.last_seen,
    ).to_pyarrow()
    ids = base.column("profile_id").to_pylist()
    if not ids:
        return Features([], list(columns or LOGGED), np.zeros((0, len(columns or LOGGED))))
    # The build's clock is the data's end (profiles.md): the latest time anyone was seen.
    seen = [b for b in base.column("last_seen").to_pylist() if b is not None]
    as_of = max(seen) if seen else None
    first = base.column("first_seen").to_pylist()
    tenure = np.asarray(
        [(as_of - f).total_seconds() / 86_400 if (as_of and f) else 0.0 for f in first]
    ).clip(0, None)
    recency = np.asarray(base.column("recency").to_numpy(zero_copy_only=False), np.float64)
    recency = np.where(np.isnan(recency), tenure, recency)
    natural = {
        "days_since_last_order": recency,
        "orders": _numbers(base, "orders"),
        "revenue": _numbers(base, "revenue"),
        "average_order_value": _numbers(base, "aov"),
        "tenure_days": tenure,
        "events": _numbers(base, "events"),
    }
    row = {pid: i for i, pid in enumerate(ids)}
    shares = {**_channel_shares(wh, row), **_affinities(wh, row)}
    if columns is None:
        columns = [*LOGGED, *_chosen_shares(shares)]
    values = np.zeros((len(ids), len(columns)))
    for j, name in enumerate(columns):
        found = natural.get(name)
        if found is None:
            found = shares.get(name)
        if found is not None:
            values[:, j] = found
    return Features(ids, list(columns), values, as_of)


def _numbers(table: object, name: str) -> np.ndarray:
    column = table.column(name)  # type: ignore[attr-defined]
    return np.nan_to_num(np.asarray(column.to_numpy(zero_copy_only=False), np.float64))


def _chosen_shares(shares: dict[str, np.ndarray]) -> list[str]:
    """The largest share columns of each group, by their total across people."""
    chosen: list[str] = []
    for prefix, most in (
        (CHANNEL_PREFIX, MAX_CHANNELS),
        (CATEGORY_PREFIX, MAX_CATEGORIES),
        (CONTENT_PREFIX, MAX_CONTENT_TYPES),
    ):
        group = [(float(v.sum()), k) for k, v in shares.items() if k.startswith(prefix)]
        group = [g for g in group if g[0] > 0]
        chosen += sorted(k for _, k in sorted(group, key=lambda g: (-g[0], g[1]))[:most])
    return chosen


def _channel_shares(wh: Warehouse, row: dict[str, int]) -> dict[str, np.ndarray]:
    o = attributed_orders(wh)
    counts = o.group_by(["profile_id", "channel"]).agg(n=o.count())
    totals = counts.group_by("profile_id").agg(total=counts.n.sum())
    joined = counts.join(totals, "profile_id")
    shares = joined.select(
        "profile_id",
        name=ibis.literal(CHANNEL_PREFIX) + joined.channel.coalesce("unknown"),
        share=joined.n.cast("float64") / joined.total.cast("float64"),
    )
    return _spread(shares.to_pyarrow().to_pylist(), row)


def _affinities(wh: Warehouse, row: dict[str, int]) -> dict[str, np.ndarray]:
    a = wh.table("profile_affinities")
    prefix = ibis.cases(
        (a.kind == "category", ibis.literal(CATEGORY_PREFIX)),
        else_=ibis.literal(CONTENT_PREFIX),
    )
    named = a.filter(a.kind.isin(["category", "content_type"]), a.value.notnull()).select(
        "profile_id", name=prefix + a.value, share=a.score.coalesce(0).cast("float64")
    )
    return _spread(named.to_pyarrow().to_pylist(), row)


def _spread(rows: list[dict[str, object]], row: dict[str, int]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for r in rows:
        i = row.get(str(r["profile_id"]))
        if i is None:
            continue
        column = out.setdefault(str(r["name"]), np.zeros(len(row)))
        column[i] += float(r["share"] or 0.0)  # type: ignore[arg-type]
    return out
