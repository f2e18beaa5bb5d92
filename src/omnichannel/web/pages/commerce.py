"""Commerce (``/commerce``): stock and available-to-promise by location and channel, the
holds, orders by status and route, price and promotion conflicts with their alerts, and
channel conflict (catchment credit for stores, online-to-offline, cannibalisation).

Everything comes from ``platform.commerce`` (inventory, orders, prices, conflict), what
``omni inventory|orders|prices|conflict`` and ``/api/commerce`` call; every table has
its CSV (``?format=csv&table=locations|atp|levels|reservations|orders|conflicts|alerts|
catchment``). The page changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import OmniError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

CHANNELS = ["web", "app", "wechat", "tmall", "jd", "store"]
LOCATION_COLUMNS = ["location_id", "name", "kind", "skus", "on_hand", "reserved", "available"]
ATP_COLUMNS = ["sku", *CHANNELS]
LEVEL_COLUMNS = ["location_id", "name", "kind", "on_hand", "reserved", "safety_stock"]
LEVEL_COLUMNS += ["available"]
RESERVATION_COLUMNS = ["key", "location_id", "sku", "quantity", "channel", "order_ref"]
RESERVATION_COLUMNS += ["expires_at"]
ORDER_COLUMNS = ["status", "route", "orders"]
CONFLICT_COLUMNS = ["kind", "subject", "message"]
ALERT_COLUMNS = ["id", "state", "kind", "subject", "message", "opened_at", "resolved_at"]
CATCHMENT_COLUMNS = ["store_id", "name", "store_orders", "store_revenue", "credited_orders"]
CATCHMENT_COLUMNS += ["credited_revenue", "credit_share"]
ATP_SHOWN = 50


def _words_in_templates() -> None:
    """Kinds, statuses and routes as the library names them, for ``pybabel extract``."""
    _("warehouse"), _("store"), _("transit")
    _("received"), _("routed"), _("unroutable"), _("ready_for_pickup"), _("picked_up")
    _("shipped"), _("cancelled")
    _("pickup_in_store"), _("ship_from_store"), _("ship_from_warehouse"), _("split")
    _("price_mismatch"), _("off_book"), _("promotion_overlap")
    _("pickup"), _("nearby"), _("home_store")


def _stock_chart(locations: list[dict[str, Any]]) -> dict[str, Any]:
    names = [loc["location_id"] for loc in locations]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("Available"), _("Reserved")]},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value", "name": _("Units")},
        "series": [
            {
                "name": _("Available"),
                "type": "bar",
                "stack": "units",
                "data": [loc["available"] for loc in locations],
            },
            {
                "name": _("Reserved"),
                "type": "bar",
                "stack": "units",
                "data": [loc["reserved"] for loc in locations],
            },
        ],
    }


def _gather(platform: Any, sku: str, campaign: str, promotion: str) -> dict[str, Any]:
    """Every section's figures from the library; a section's error stays in that section."""
    commerce = platform.commerce
    inventory = commerce.inventory
    inventory.expire_due()
    found: dict[str, Any] = {
        "locations": inventory.by_location(),
        "atp": inventory.available_to_promise(),
        "reservations": inventory.reservations(limit=50),
        "orders": commerce.orders.summary(),
        "recent_orders": commerce.orders.list(limit=20),
        "conflicts": commerce.prices.conflicts(),
        "alerts": platform.alerts.list(rule="price_consistency", limit=50),
        "promotions": [p.name for p in commerce.prices.book().promotions],
        "errors": {},
    }
    found["levels"] = inventory.show(sku)["locations"] if sku else []
    sections = {
        "catchment": lambda: commerce.conflict.catchment(),
        "o2o": (lambda: commerce.conflict.online_to_offline(campaign)) if campaign else None,
        "cannibalisation": (lambda: commerce.conflict.cannibalisation(promotion))
        if promotion
        else None,
    }
    for name, compute in sections.items():
        found[name] = None
        if compute is None:
            continue
        try:
            found[name] = compute()
        except OmniError as exc:
            found["errors"][name] = str(exc)
    return found


@router.get("/commerce")
def commerce_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    q = request.query_params
    sku = (q.get("sku") or "").strip()
    campaign = (q.get("campaign") or "").strip()
    promotion = (q.get("promotion") or "").strip()
    with speaking(pick(request)):  # errors and the chart's labels in the page's language
        found = _gather(platform, sku, campaign, promotion)
        chart = _stock_chart(found["locations"]) if found["locations"] else None
    if wants_csv(request):
        table = table_of(request, "locations")
        catchment = found["catchment"] or {"stores": []}
        exports = {
            "locations": (found["locations"], LOCATION_COLUMNS),
            "atp": (found["atp"], ATP_COLUMNS),
            "levels": (found["levels"], LEVEL_COLUMNS),
            "reservations": (found["reservations"], RESERVATION_COLUMNS),
            "orders": (found["orders"], ORDER_COLUMNS),
            "conflicts": (found["conflicts"], CONFLICT_COLUMNS),
            "alerts": (found["alerts"], ALERT_COLUMNS),
            "catchment": (catchment["stores"], CATCHMENT_COLUMNS),
        }
        rows, columns = exports.get(table, exports["locations"])
        return csv_response(rows, columns, f"commerce-{table}")
    return render(
        request,
        "commerce.html",
        {
            "title": _("Commerce"),
            "sku": sku,
            "campaign": campaign,
            "promotion": promotion,
            "channels": CHANNELS,
            "atp_shown": ATP_SHOWN,
            "chart": chart,
            **found,
        },
    )
