"""Turn an event frame (integer codes) into Segment-spec warehouse rows (text and JSON).

Everything is column-at-a-time Arrow compute: a JSON document is a string join of
column pieces, built per event kind and scattered back into time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.demo.behaviour import (
    CONTENT,
    EMAIL_CLICKED,
    EMAIL_OPENED,
    IDENTIFY,
    ORDER,
    P_WEB,
    P_WECHAT,
    PAGE,
    PAGES,
    PRODUCT_ADDED,
    PRODUCT_VIEWED,
    PUSH_TAPPED,
    QUERIES,
    SCREEN,
    SEARCH,
    SMS_CLICKED,
    WECHAT_CLICKED,
)
from omnichannel.demo.campaigns import CHANNELS
from omnichannel.demo.catalogue import CATEGORIES, CONTENT_TYPES
from omnichannel.demo.model import DOMAIN, TIMEZONE, DemoConfig, to_timestamp

EVENT_NAMES = (
    "",
    "",
    "",
    "Products Searched",
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
    "Content Viewed",
    "Email Opened",
    "Email Link Clicked",
    "Push Notification Tapped",
    "SMS Link Clicked",
    "WeChat Message Clicked",
)
TYPES = ("page", "screen", "identify") + ("track",) * 11
SOURCES = ("web", "app", "wechat", "app", "email", "sms", "app", "wechat")
CHANNEL_OF_PLATFORM = ("web", "app", "wechat", "store", "email", "sms", "push", "wechat")
APP_NAMES = (
    None,
    "Lotus & Pine",
    "Lotus & Pine Mini Program",
    "Lotus & Pine Kiosk",
    None,
    None,
    "Lotus & Pine",
    "Lotus & Pine Official Account",
)
LIBRARIES = (
    "analytics.js",
    "analytics-react-native",
    "analytics-miniprogram",
    "analytics-react-native",
    "esp-webhook",
    "sms-gateway",
    "analytics-react-native",
    "wechat-oa-webhook",
)
OS_NAMES = ("iOS", "Android", "iPadOS")
PAGE_PATHS = (
    "/",
    "/category",
    "/new-arrivals",
    "/sale",
    "/cart",
    "/account",
    "/stores",
    "/campaign",
    "/search",
    "/lookbook",
)


@dataclass
class RenderContext:
    """Lookup arrays an event frame's integer codes point into."""

    config: DemoConfig
    user_ids: pa.Array
    anon_values: pa.Array
    device_values: pa.Array
    device_os: np.ndarray
    ips: pa.Array
    emails: pa.Array
    phones: pa.Array
    campaign_names: pa.Array
    campaign_ids: pa.Array
    campaign_channel: np.ndarray
    product_ids: pa.Array
    product_skus: pa.Array
    product_names: pa.Array
    product_category: pa.Array
    product_price: pa.Array
    content_ids: pa.Array
    content_type: pa.Array
    content_title: pa.Array
    content_category: pa.Array
    order_ids: pa.Array
    order_totals: pa.Array
    delivery_ids: pa.Array


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return values.take(pa.array(idx, type=pa.int64(), mask=idx < 0))


def _small(values: tuple[str | None, ...], idx: np.ndarray) -> pa.Array:
    return _take(pa.array(values, pa.string()), idx)


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _optional(present: pa.Array, *parts: pa.Array | str) -> pa.Array:
    """A JSON fragment where ``present`` is non-null, else the empty string."""
    return pc.fill_null(_join(*parts), "") if len(present) else present


def render(
    frame: dict[str, np.ndarray],
    message_ids: pa.Array,
    ctx: RenderContext,
) -> pa.Table:
    n = len(frame["ts"])
    kind, platform = frame["kind"], frame["platform"]
    ts = pa.array(to_timestamp(ctx.config, frame["ts"]))
    sent = pa.array(to_timestamp(ctx.config, frame["ts"] + 1))
    received = pa.array(to_timestamp(ctx.config, frame["ts"] + 2))
    campaign = frame["campaign"]
    camp_channel = np.where(campaign >= 0, ctx.campaign_channel[np.maximum(campaign, 0)], -1)
    camp_name = _take(ctx.campaign_names, campaign)
    camp_source = _small(tuple(c.source for c in CHANNELS), camp_channel)
    camp_medium = _small(tuple(c.medium for c in CHANNELS), camp_channel)
    term = _small(QUERIES, np.where((camp_channel == 0), frame["person"] % len(QUERIES), -1))
    device = _take(ctx.device_values, frame["device"])
    dev_os = np.where(frame["device"] >= 0, ctx.device_os[np.maximum(frame["device"], 0)], -1)
    os_name = _small(OS_NAMES, dev_os)
    device_type = _small(("ios", "android", "ios"), dev_os)
    web = platform == P_WEB
    path = np.where(kind == PRODUCT_VIEWED, -2, frame["page"])
    url = pc.if_else(
        pa.array(web & (path >= 0)),
        _join(f"https://www.{DOMAIN}", _small(PAGE_PATHS, np.maximum(path, 0))),
        None,
    )
    url = pc.if_else(
        pa.array(web & (path == -2)),
        _join(f"https://www.{DOMAIN}/p/", _take(ctx.product_ids, frame["product"])),
        url,
    )
    url = pc.if_else(
        pa.array(web & (path == -1) & (kind != PRODUCT_VIEWED)), f"https://www.{DOMAIN}/", url
    )
    ip = _take(ctx.ips, frame["person"])
    app_name = _small(APP_NAMES, platform)
    context = _join(
        '{"library":{"name":"',
        _small(LIBRARIES, platform),
        '"},"ip":"',
        ip,
        f'","locale":"zh-CN","timezone":"{TIMEZONE}"',
        _optional(device, ',"device":{"id":"', device, '","type":"', device_type, '"}'),
        _optional(os_name, ',"os":{"name":"', os_name, '"}'),
        _optional(app_name, ',"app":{"name":"', app_name, '"}'),
        _optional(
            camp_name,
            ',"campaign":{"name":"',
            camp_name,
            '","source":"',
            camp_source,
            '","medium":"',
            camp_medium,
            '"',
            _optional(term, ',"term":"', term, '"'),
            "}",
        ),
        _optional(url, ',"page":{"url":"', url, '"}'),
        "}",
    )
    user = _take(ctx.user_ids, frame["user"])
    identify = kind == IDENTIFY
    traits = pc.if_else(
        pa.array(identify),
        _join(
            '{"email":"',
            _take(ctx.emails, frame["user"]),
            '","phone":"',
            _take(ctx.phones, frame["user"]),
            '"}',
        ),
        None,
    )
    return pa.table(
        {
            "message_id": message_ids,
            "type": _small(TYPES, kind),
            "event": _small(
                tuple(e or None for e in EVENT_NAMES), np.where(kind > IDENTIFY, kind, -1)
            ),
            "user_id": user,
            "anonymous_id": _take(ctx.anon_values, frame["anon"]),
            "name": _small(PAGES, np.where((kind == PAGE) | (kind == SCREEN), frame["page"], -1)),
            "timestamp": ts,
            "original_timestamp": ts,
            "sent_at": sent,
            "received_at": received,
            "source": _small(SOURCES, platform),
            "channel": _small(CHANNEL_OF_PLATFORM, platform),
            "context_device_id": device,
            "context_device_type": device_type,
            "context_os_name": os_name,
            "context_app_name": app_name,
            "context_campaign_name": camp_name,
            "context_campaign_source": camp_source,
            "context_campaign_medium": camp_medium,
            "context_campaign_term": term,
            "context_page_url": url,
            "context_ip": ip,
            "context_locale": pa.array(np.full(n, "zh-CN", dtype=object), pa.string()),
            "context_timezone": pa.array(np.full(n, TIMEZONE, dtype=object), pa.string()),
            "context": context,
            "properties": _properties(frame, ctx, url),
            "traits": traits,
        }
    )


def _properties(frame: dict[str, np.ndarray], ctx: RenderContext, url: pa.Array) -> pa.Array:
    kind = frame["kind"]
    pieces: list[pa.Array] = []
    where: list[np.ndarray] = []

    def add(rows: np.ndarray, value: pa.Array | str) -> None:
        if len(rows):
            where.append(rows)
            pieces.append(pa.array([value] * len(rows)) if isinstance(value, str) else value)

    def sub(name: str, rows: np.ndarray) -> np.ndarray:
        return frame[name][rows]

    rows = np.flatnonzero(np.isin(kind, (PAGE, SCREEN)))
    add(
        rows,
        _join(
            '{"name":"',
            _small(PAGES, sub("page", rows)),
            '"',
            _optional(url.take(pa.array(rows)), ',"url":"', url.take(pa.array(rows)), '"'),
            "}",
        ),
    )
    add(np.flatnonzero(kind == IDENTIFY), "{}")
    rows = np.flatnonzero(kind == SEARCH)
    add(rows, _join('{"query":"', _small(QUERIES, sub("query", rows)), '"}'))
    for k in (PRODUCT_VIEWED, PRODUCT_ADDED):
        rows = np.flatnonzero(kind == k)
        p = sub("product", rows)
        add(
            rows,
            _join(
                '{"product_id":"',
                _take(ctx.product_ids, p),
                '","sku":"',
                _take(ctx.product_skus, p),
                '","name":"',
                _take(ctx.product_names, p),
                '","category":"',
                _take(ctx.product_category, p),
                '","price":',
                _take(ctx.product_price, p),
                ',"currency":"CNY"',
                ',"quantity":1}' if k == PRODUCT_ADDED else "}",
            ),
        )
    add(np.flatnonzero(kind == 6), '{"currency":"CNY"}')
    rows = np.flatnonzero(kind == ORDER)
    o = sub("order", rows)
    add(
        rows,
        _join(
            '{"order_id":"',
            _take(ctx.order_ids, o),
            '","total":',
            _take(ctx.order_totals, o),
            ',"revenue":',
            _take(ctx.order_totals, o),
            ',"currency":"CNY"}',
        ),
    )
    rows = np.flatnonzero(kind == CONTENT)
    c = sub("content", rows)
    add(
        rows,
        _join(
            '{"content_id":"',
            _take(ctx.content_ids, c),
            '","content_type":"',
            _take(ctx.content_type, c),
            '","title":"',
            _take(ctx.content_title, c),
            '","category":"',
            _take(ctx.content_category, c),
            '"}',
        ),
    )
    rows = np.flatnonzero(
        np.isin(kind, (EMAIL_OPENED, EMAIL_CLICKED, PUSH_TAPPED, SMS_CLICKED, WECHAT_CLICKED))
    )
    add(
        rows,
        _join(
            '{"delivery_id":"',
            _take(ctx.delivery_ids, sub("delivery", rows)),
            '","campaign_id":"',
            _take(ctx.campaign_ids, sub("campaign", rows)),
            '"}',
        ),
    )
    order = np.concatenate(where) if where else np.zeros(0, np.int64)
    values = (
        pa.concat_arrays([p.cast(pa.string()) for p in pieces])
        if pieces
        else pa.array([], pa.string())
    )
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return values.take(pa.array(inverse))


# Kept here so the names used by the renderer and the truth README stay in one place.
KNOWN_CONTENT_TYPES = CONTENT_TYPES
KNOWN_CATEGORIES = tuple(c[0] for c in CATEGORIES)
ANON_ID_TYPE_BY_PLATFORM = {P_WECHAT: "wechat_openid"}
