"""The 360° card: one person's whole story on one screen, for service and sales staff.

``card_data`` gathers it (identifiers by type, sources and channels, key traits and tags,
recent timeline, last orders, the conversion path of the last order) as plain data, so
``omni profile show --json`` and the Rich card print the same facts.

Example::

    data = card_data(wh, ProfileLookup(InstallationConfig.load(settings)), "email:ann@example.com")
    console.print(render_card(data))
"""

from __future__ import annotations

import json
from typing import Any

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from omnichannel.profiles.lookup import ProfileLookup, external_ids
from omnichannel.profiles.timeline import conversion_paths, timeline

# The traits a person at a service desk reads first; the rest are in --json.
KEY_TRAITS = (
    "first_seen",
    "last_seen",
    "orders",
    "revenue",
    "average_order_value",
    "last_order_at",
    "rfm_segment",
    "preferred_channel_purchase",
    "preferred_channel_engagement",
    "peak_hour",
    "device_type",
    "top_category",
    "top_content_type",
    "last_campaign",
    "predicted_clv",
    "p_alive",
    "purchase_30d_propensity",
    "churn_propensity",
)


def card_data(
    wh: Any, lookup: ProfileLookup, identifier: str, *, recent: int = 10, lookback_days: int = 30
) -> dict[str, Any]:
    """Everything the card shows, as JSON-ready data."""
    ref = lookup.find(wh, identifier)
    traits = lookup.traits(wh, ref.profile_id)
    ids = external_ids(wh, ref.profile_id)
    by_type: dict[str, list[str]] = {}
    for row in ids:
        values = by_type.setdefault(str(row["type"]), [])
        if row["id"] not in values:
            values.append(row["id"])
    # The installation's rules and the stored timeline, as the Profile API reads them.
    options = lookup.timeline_options(wh)
    orders = timeline(wh, ref.profile_id, limit=5, kinds=("order",), **options).items
    paths = conversion_paths(wh, ref.profile_id, lookback_days=lookback_days, limit=1, **options)
    return {
        "profile_id": ref.profile_id,
        "looked_up": f"{ref.id_type}:{ref.id_value}",
        "identifiers": by_type,
        "sources": sorted({str(r["source"]) for r in ids}),
        "channels": _list(traits.get("channels")),
        "tags": _list(traits.get("tags")),
        "traits": {k: traits.get(k) for k in KEY_TRAITS if k in traits},
        "all_traits": traits,
        "timeline": timeline(wh, ref.profile_id, limit=recent, **options).items,
        "orders": orders,
        "conversion_path": paths[0] if paths else None,
    }


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return parsed if isinstance(parsed, list) else [parsed]
    return list(value) if isinstance(value, list | tuple) else []


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(sep=" ", timespec="minutes"))
    return str(value)


def _identifiers(data: dict[str, Any]) -> Table:
    table = Table(title="Identifiers", title_justify="left", show_header=False)
    table.add_column("type", style="bold")
    table.add_column("values")
    for id_type, values in sorted(data["identifiers"].items()):
        shown = ", ".join(values[:4]) + (f" (+{len(values) - 4})" if len(values) > 4 else "")
        table.add_row(id_type, shown)
    return table


def _traits(data: dict[str, Any]) -> Table:
    table = Table(title="Key traits", title_justify="left", show_header=False)
    table.add_column("trait", style="bold")
    table.add_column("value")
    for key, value in data["traits"].items():
        table.add_row(key, _fmt(value))
    return table


def _timeline(data: dict[str, Any]) -> Table:
    table = Table(title="Recent timeline", title_justify="left")
    for column in ("when", "kind", "channel", "what", "campaign"):
        table.add_column(column)
    for item in data["timeline"]:
        what = item.get("event") or item.get("type") or item.get("status") or ""
        if item["kind"] == "order":
            what = f"{item['id']} {_fmt(item.get('total'))} {item.get('currency') or ''}".strip()
        elif item["kind"] == "delivery":
            what = f"{item.get('template') or 'message'} ({item.get('status')})"
        campaign = item.get("campaign") or item.get("campaign_id") or ""
        table.add_row(
            _fmt(item["timestamp"]), item["kind"], _fmt(item.get("channel")), what, campaign
        )
    return table


def _orders(data: dict[str, Any]) -> Table:
    table = Table(title="Last orders", title_justify="left")
    for column in ("ordered", "order", "channel", "total", "status", "campaign"):
        table.add_column(column)
    for o in data["orders"]:
        total = f"{_fmt(o.get('total'))} {o.get('currency') or ''}".strip()
        table.add_row(
            _fmt(o["timestamp"]),
            o["id"],
            _fmt(o["channel"]),
            total,
            _fmt(o.get("status")),
            o.get("campaign_id") or "",
        )
    return table


def _path(data: dict[str, Any]) -> RenderableType:
    path = data["conversion_path"]
    if path is None:
        return Panel("no orders yet", title="Conversion path of the last order")
    table = Table(
        title=f"Conversion path of {path['order_id']} ({_fmt(path['ordered_at'])}, "
        f"campaign {path['campaign'] or path['campaign_id'] or '-'})",
        title_justify="left",
    )
    for column in ("when", "touch", "channel", "campaign", "detail"):
        table.add_column(column)
    for t in path["touchpoints"][-15:]:
        table.add_row(
            _fmt(t["at"]),
            t["kind"],
            _fmt(t["channel"]),
            t.get("campaign") or t.get("campaign_id") or "",
            _fmt(t.get("event")),
        )
    if not path["touchpoints"]:
        table.caption = "no campaign touch in the lookback window"
    return table


def render_card(data: dict[str, Any]) -> RenderableType:
    """The card as Rich renderables, widest facts first."""
    header = (
        f"[bold]{data['profile_id']}[/]  looked up by {data['looked_up']}\n"
        f"sources: {', '.join(data['sources']) or '-'}    "
        f"channels: {', '.join(map(str, data['channels'])) or '-'}\n"
        f"tags: {', '.join(map(str, data['tags'])) or '-'}"
    )
    return Group(
        Panel(header, title="360° profile", title_align="left"),
        Columns([_identifiers(data), _traits(data)]),
        _timeline(data),
        _orders(data),
        _path(data),
    )
