"""Sessions: when people visit, on which platform, as whom, and what they do there.

Sessions are planned as arrays (one row per session) and then expanded into events in
one vectorised pass: each session gets a count per event kind, rows are repeated and
ordered inside their session, and timestamps are a cumulative sum of think times.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from omnichannel.demo.campaigns import CHANNELS, CampaignPlan
from omnichannel.demo.catalogue import Catalogue
from omnichannel.demo.identities import Identities
from omnichannel.demo.model import DemoConfig, day_weights, sample_rows
from omnichannel.demo.orders import (
    APP,
    STORE,
    WEB,
    WECHAT,
    PlannedOrders,
    local_hours,
    placed_orders,
    sample_days,
)
from omnichannel.demo.people import People

# Event kinds and platforms: small integers while planning, names when rendered.
(
    PAGE,
    SCREEN,
    IDENTIFY,
    SEARCH,
    PRODUCT_VIEWED,
    PRODUCT_ADDED,
    CHECKOUT,
    ORDER,
    CONTENT,
    EMAIL_OPENED,
    EMAIL_CLICKED,
    PUSH_TAPPED,
    SMS_CLICKED,
    WECHAT_CLICKED,
) = range(14)
P_WEB, P_APP, P_WECHAT, P_KIOSK, P_EMAIL, P_SMS, P_PUSH, P_WECHAT_OA = range(8)
PAGES = (
    "Home",
    "Category",
    "New Arrivals",
    "Sale",
    "Cart",
    "Account",
    "Store Locator",
    "Campaign Landing",
    "Search Results",
    "Lookbook",
)
QUERIES = (
    "linen dress",
    "down jacket",
    "sneakers",
    "silk scarf",
    "tote bag",
    "green tea",
    "gift box",
    "kids",
    "cashmere",
    "618",
    "new arrivals",
    "candle",
    "skincare",
    "backpack",
    "trousers",
    "oolong",
    "bedding",
    "loafers",
    "shirt",
    "coat",
)
FRAME_FIELDS = (
    "person",
    "ts",
    "kind",
    "platform",
    "anon",
    "user",
    "device",
    "campaign",
    "product",
    "content",
    "order",
    "page",
    "query",
    "delivery",
)


@dataclass
class Sessions:
    person: np.ndarray
    start: np.ndarray  # UTC seconds; for purchase sessions, the time of the order
    platform: np.ndarray
    anon: np.ndarray
    device: np.ndarray
    logged: np.ndarray
    campaign: np.ndarray
    order: np.ndarray  # row in ``orders``, -1 for browsing sessions

    @classmethod
    def concat(cls, parts: list[Sessions]) -> Sessions:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


def pick_platform_ids(
    rng: np.random.Generator, ids: Identities, person: np.ndarray, platform: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The anonymous id (and device) a person uses on a platform."""
    n = len(person)
    anon = np.full(n, -1, dtype=np.int64)
    device = np.full(n, -1, dtype=np.int64)
    web = platform == P_WEB
    lo, hi = ids.cookie_ptr[person[web]], ids.cookie_ptr[person[web] + 1]
    anon[web] = ids.cookie_idx[
        np.minimum(lo + (rng.random(web.sum()) * (hi - lo)).astype(np.int64), np.maximum(hi - 1, 0))
    ]
    app = platform == P_APP
    lo, hi = ids.device_ptr[person[app]], ids.device_ptr[person[app] + 1]
    dev = ids.device_idx[lo + (rng.random(app.sum()) * (hi - lo)).astype(np.int64)]
    device[app] = dev
    anon[app] = ids.device_anon[dev]
    wx = platform == P_WECHAT
    anon[wx] = ids.openid_anon[person[wx]]
    return anon, device


def usable_platform(
    rng: np.random.Generator,
    people: People,
    person: np.ndarray,
) -> np.ndarray:
    """A platform per row from the person's own mix (web / app / WeChat mini-program)."""
    return sample_rows(rng, people.platform_mix, person)


def logged_in(
    rng: np.random.Generator,
    people: People,
    ids: Identities,
    person: np.ndarray,
    platform: np.ndarray,
) -> np.ndarray:
    member = np.array([ids.user_id[p] is not None for p in range(people.n)])[person]
    boost = np.where(platform == P_WEB, 0.0, 0.35)
    return member & (rng.random(len(person)) < people.login_propensity[person] + boost)


def organic_sessions(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    ids: Identities,
    last_day: np.ndarray,
) -> Sessions:
    """Everyday browsing, until a person's dropout (plus two weeks of fading interest)."""
    weights = day_weights(config)
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    first = np.maximum(people.signup_day, 0)
    last = np.minimum(last_day + 14, config.days - 1)
    online = people.platform_mix.sum(axis=1) > 0
    count = rng.poisson(people.browse_rate * (cdf[last + 1] - cdf[first]) * online)
    person = np.repeat(np.arange(people.n), count)
    day = sample_days(rng, weights, first[person], last[person])
    start = day * 86_400 + local_hours(rng, people, person) - 8 * 3_600
    platform = usable_platform(rng, people, person)
    anon, device = pick_platform_ids(rng, ids, person, platform)
    n = len(person)
    return Sessions(
        person,
        start,
        platform,
        anon,
        device,
        logged_in(rng, people, ids, person, platform),
        np.full(n, -1),
        np.full(n, -1),
    )


def paid_sessions(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    ids: Identities,
    plan: CampaignPlan,
) -> tuple[Sessions, PlannedOrders]:
    """Incremental visits from bought media; some convert to orders.

    On a day with spend the visitor arrives by clicking the ad (UTM-tagged); on a
    carry-over day (no spend, adstock still up) they come back on their own, untagged.
    """
    online = np.flatnonzero(people.platform_mix.sum(axis=1) > 0)
    sess: list[Sessions] = []
    orders: list[PlannedOrders] = []
    for c, ch in enumerate(CHANNELS):
        if ch.owned:
            continue
        count = rng.poisson(plan.visits[c])
        day = np.repeat(np.arange(config.days), count)
        person = online[rng.integers(0, len(online), size=len(day))]
        secs = local_hours(rng, people, person)
        campaign = plan.on_air[c, day]
        converts = rng.random(len(day)) < ch.conversion
        if ch.name == "offline_flyer":  # flyers bring people to stores, not to websites
            ch_code = np.full(int(converts.sum()), STORE)
            orders.append(
                placed_orders(
                    rng,
                    config,
                    people,
                    person[converts],
                    day[converts],
                    secs[converts],
                    ch_code,
                    plan.last_campaign[c, day][converts],
                )
            )
            continue
        platform = usable_platform(rng, people, person)
        anon, device = pick_platform_ids(rng, ids, person, platform)
        start = day * 86_400 + secs - 8 * 3_600
        n = len(day)
        sess.append(
            Sessions(
                person,
                start,
                platform,
                anon,
                device,
                logged_in(rng, people, ids, person, platform),
                campaign,
                np.full(n, -1),
            )
        )
        order_channel = np.array([WEB, APP, WECHAT])[platform[converts]]
        # The order closes the session a few minutes after the visit starts.
        orders.append(
            placed_orders(
                rng,
                config,
                people,
                person[converts],
                day[converts],
                secs[converts] + 600,
                order_channel,
                campaign[converts],
            )
        )
    return Sessions.concat(sess), PlannedOrders.concat(orders)


def purchase_sessions(
    rng: np.random.Generator,
    people: People,
    ids: Identities,
    plan: PlannedOrders,
    position: np.ndarray,
    campaign_of_order: np.ndarray,
) -> tuple[Sessions, np.ndarray]:
    """A session ending in each online order; returns it and each order's anonymous id."""
    online = np.flatnonzero(np.isin(plan.channel, (WEB, APP, WECHAT)))
    person = plan.person[online]
    platform = plan.channel[online] - 1  # WEB/APP/WECHAT order channel -> platform code
    have = np.stack(
        [
            ids.cookie_ptr[1:] > ids.cookie_ptr[:-1],
            ids.device_ptr[1:] > ids.device_ptr[:-1],
            ids.openid_anon >= 0,
        ],
        axis=1,
    )
    ok = have[person, platform]
    platform = np.where(ok, platform, usable_platform(rng, people, person))
    anon, device = pick_platform_ids(rng, ids, person, platform)
    member = np.array([u is not None for u in ids.user_id])[person]
    order_anon = np.full(len(plan.person), -1, dtype=np.int64)
    order_anon[online] = anon
    sessions = Sessions(
        person,
        plan.seconds[online],
        platform,
        anon,
        device,
        member,
        campaign_of_order[online],
        position[online],
    )
    return sessions, order_anon


def kiosk_sessions(
    rng: np.random.Generator,
    people: People,
    ids: Identities,
    plan: PlannedOrders,
    position: np.ndarray,
) -> Sessions:
    """Members who log in on a shared store tablet before paying: an over-merge trap."""
    member = np.array([u is not None for u in ids.user_id])
    pick = np.flatnonzero(
        (plan.channel == STORE) & member[plan.person] & (rng.random(len(plan.person)) < 0.2)
    )
    store = plan.store[pick]
    device = ids.kiosk_devices[store, rng.integers(0, ids.kiosk_devices.shape[1], len(pick))]
    n = len(pick)
    return Sessions(
        plan.person[pick],
        plan.seconds[pick] - 900,
        np.full(n, P_KIOSK),
        ids.device_anon[device],
        device,
        np.ones(n, dtype=bool),
        np.full(n, -1),
        np.full(n, -1),
    )


def expand(
    rng: np.random.Generator,
    people: People,
    catalogue: Catalogue,
    s: Sessions,
    line_order: np.ndarray,
    line_product: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every session's events, as one frame of columns ordered by time."""
    n = len(s.person)
    buying = s.order >= 0
    lines_per_order = np.bincount(line_order, minlength=int(line_order.max(initial=-1)) + 1)
    n_lines = np.where(buying, lines_per_order[np.maximum(s.order, 0)], 0)
    first_line = np.concatenate([[0], np.cumsum(lines_per_order)])[np.maximum(s.order, 0)]
    abandon = ~buying & (rng.random(n) < 0.07)
    counts = {
        "identify": _identify_flags(rng, s).astype(np.int64),
        "landing": np.ones(n, dtype=np.int64),
        "search": rng.poisson(np.where(buying, 0.2, 0.35)),
        "browse_view": rng.poisson(1.5, size=n),
        "line_view": n_lines,
        "content": rng.poisson(0.35 + 1.2 * people.content_affinity[s.person].max(axis=1)),
        "page": rng.poisson(1.3, size=n),
        "abandon_add": abandon.astype(np.int64),
        "line_add": n_lines,
        "checkout": (buying | (abandon & (rng.random(n) < 0.35))).astype(np.int64),
        "order": buying.astype(np.int64),
    }
    base = {
        "identify": 0.0,
        "landing": 1.0,
        "abandon_add": 6.0,
        "line_add": 6.0,
        "checkout": 7.0,
        "order": 8.0,
    }
    parts: list[dict[str, np.ndarray]] = []
    for name, count in counts.items():
        sess = np.repeat(np.arange(n), count)
        within = np.arange(len(sess)) - np.repeat(np.cumsum(count) - count, count)
        key = base.get(name, 2.0 + rng.random(len(sess)) * 3.9)
        part = {"session": sess, "key": np.broadcast_to(key, sess.shape) + within * 1e-3}
        part.update(
            _event_columns(rng, name, people, catalogue, s, sess, within, first_line, line_product)
        )
        parts.append(part)
    frame = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((frame["key"], frame["session"]))
    frame = {k: v[order] for k, v in frame.items()}
    sess = frame["session"]
    gap = rng.exponential(45.0, size=len(sess)).astype(np.int64) + 2
    group_start = np.r_[True, sess[1:] != sess[:-1]]
    gap[group_start] = 0
    offset = np.cumsum(gap)
    offset -= np.maximum.accumulate(np.where(group_start, offset, 0))
    # Purchase sessions are anchored so that their last event is the order itself.
    last = np.r_[sess[1:] != sess[:-1], True]
    shift = np.zeros(n, dtype=np.int64)
    shift[sess[last]] = np.where(buying[sess[last]], offset[last], 0)
    frame["ts"] = s.start[sess] + offset - shift[sess]
    frame["person"] = s.person[sess]
    frame["platform"] = s.platform[sess]
    frame["anon"] = s.anon[sess]
    frame["device"] = s.device[sess]
    frame["user"] = np.where(s.logged[sess], s.person[sess], -1)
    frame["campaign"] = s.campaign[sess]
    frame["order"] = np.where(frame["kind"] == ORDER, s.order[sess], -1)
    frame["delivery"] = np.full(len(sess), -1)
    return {k: frame[k] for k in FRAME_FIELDS}


def _identify_flags(rng: np.random.Generator, s: Sessions) -> np.ndarray:
    """Logged-in sessions start with a login (identify) on first use of a browser or
    device, and now and then afterwards when the login expires."""
    flags = s.logged & (rng.random(len(s.person)) < 0.25)
    logged = np.flatnonzero(s.logged)
    by_time = logged[np.argsort(s.start[logged], kind="stable")]
    pair = s.person[by_time].astype(np.int64) * (1 << 32) + s.anon[by_time]
    _, first = np.unique(pair, return_index=True)
    flags[by_time[first]] = True
    return np.asarray(flags)


def _event_columns(
    rng: np.random.Generator,
    name: str,
    people: People,
    catalogue: Catalogue,
    s: Sessions,
    sess: np.ndarray,
    within: np.ndarray,
    first_line: np.ndarray,
    line_product: np.ndarray,
) -> dict[str, np.ndarray]:
    m = len(sess)
    none = np.full(m, -1, dtype=np.int64)
    cols = {
        "kind": none.copy(),
        "product": none.copy(),
        "content": none.copy(),
        "page": none.copy(),
        "query": none.copy(),
    }
    person = s.person[sess]
    screenish = s.platform[sess] != P_WEB
    if name == "identify":
        cols["kind"][:] = IDENTIFY
    elif name in ("landing", "page"):
        cols["kind"] = np.where(screenish, SCREEN, PAGE)
        if name == "landing":
            cols["page"] = np.where(s.campaign[sess] >= 0, 7, 0)
        else:
            cols["page"] = rng.integers(1, len(PAGES), size=m)
    elif name == "search":
        cols["kind"][:] = SEARCH
        cols["query"] = rng.integers(0, len(QUERIES), size=m)
    elif name in ("browse_view", "abandon_add"):
        cols["kind"][:] = PRODUCT_VIEWED if name == "browse_view" else PRODUCT_ADDED
        category = sample_rows(rng, people.category_affinity, person)
        grid = np.stack(catalogue.by_category_sorted)  # categories have equal sizes
        cols["product"] = grid[category, rng.integers(0, grid.shape[1], size=m)]
    elif name in ("line_view", "line_add"):
        cols["kind"][:] = PRODUCT_VIEWED if name == "line_view" else PRODUCT_ADDED
        cols["product"] = line_product[first_line[sess] + within]
    elif name == "content":
        cols["kind"][:] = CONTENT
        ctype = sample_rows(rng, people.content_affinity, person)
        for t in range(people.content_affinity.shape[1]):
            rows = np.flatnonzero(ctype == t)
            pool = np.flatnonzero(catalogue.content_type == t)
            cols["content"][rows] = pool[rng.integers(0, len(pool), size=len(rows))]
    elif name == "checkout":
        cols["kind"][:] = CHECKOUT
    elif name == "order":
        cols["kind"][:] = ORDER
    return cols
