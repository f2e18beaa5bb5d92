"""Commerce over HTTP: listings, stock per location, reservations, orders and routing.

Thin calls into ``platform.commerce`` (``commerce/service.py``); ``omni catalogue``,
``omni inventory`` and ``omni orders`` call these while a server owns the home. A
reservation that asks for more than is available answers 409 with how many there are.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/commerce", tags=["commerce"])
MAX_FILE_BYTES = 50 * 1024 * 1024


class FileUpload(BaseModel):
    content: str = Field(description="The file's text (CSV or JSONL).", max_length=MAX_FILE_BYTES)
    filename: str = Field("upload.csv", description="Its name; the extension picks the format.")
    source: str = Field(description="The source the rows come from (pos, erp, ...).")
    mapping: str | None = Field(None, description="A shipped mapping's name (default: ours).")


class ReservationCreate(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    location: str
    key: str = Field(min_length=1, max_length=200, description="Names the hold; a retry reuses it.")
    ttl_seconds: float = Field(900, gt=0, le=30 * 86400, description="How long it holds.")
    channel: str | None = None
    order_ref: str | None = None


class LocationPut(BaseModel):
    kind: str | None = Field(None, description="warehouse, store or transit.")
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    opens: str | None = Field(None, description="Local HH:MM; none: always open.")
    closes: str | None = None
    capacity_per_day: int | None = Field(None, ge=0)
    ship_cost: float | None = Field(None, ge=0)
    pickup: bool | None = None


class OrderLine(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class OrderCreate(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200)
    channel: str
    lines: list[OrderLine] = Field(min_length=1)
    fulfilment: str = Field(description="pickup or ship.")
    pickup_location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    email: str | None = None
    customer: str | None = Field(None, description="type:value of the customer, if known.")


class StatusChange(BaseModel):
    status: str
    note: str = ""


def _load(platform: Any, body: FileUpload, kind: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omni-commerce-") as scratch:
        path = Path(scratch) / Path(body.filename).name
        path.write_text(body.content, encoding="utf-8")
        if kind == "listings":
            loader = platform.commerce.catalogue.load
            default = "omnichannel-listings"
        else:
            loader = platform.commerce.inventory.load
            default = "omnichannel-stock"
        report: dict[str, Any] = loader(path, source=body.source, mapping=body.mapping or default)
    return report


@router.get("/catalogue", summary="Listings per channel")
async def listings(
    platform: PlatformDep,
    channel: Annotated[str | None, Query(description="web, app, wechat, tmall, jd, store")] = None,
    listed: Annotated[bool | None, Query(description="Only listed (or only unlisted).")] = None,
    sku: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> Any:
    """The catalogue's listings: our SKU, the channel's own code, listed or not, price."""
    return jsonable(
        await run_in_threadpool(
            platform.commerce.catalogue.listings,
            sku=sku,
            channel=channel,
            listed=listed,
            limit=limit,
        )
    )


@router.post("/catalogue/files", summary="Load a listings file")
async def load_listings(platform: PlatformDep, body: FileUpload) -> Any:
    """Listings through the file connectors; unknown SKUs go to the dead letters."""
    return jsonable(await run_in_threadpool(_load, platform, body, "listings"))


@router.get("/catalogue/{sku}", summary="One product")
async def product(platform: PlatformDep, sku: str) -> Any:
    """The product, its listings per channel and its stock per location."""
    return jsonable(await run_in_threadpool(platform.commerce.catalogue.product, sku))


@router.get("/inventory/locations", summary="Stock locations")
async def locations(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.commerce.inventory.locations))


@router.put("/inventory/locations/{location_id}", summary="Create or change a location")
async def put_location(platform: PlatformDep, location_id: str, body: LocationPut) -> Any:
    values = body.model_dump(exclude_none=True)
    return jsonable(
        await run_in_threadpool(platform.commerce.inventory.put_location, location_id, **values)
    )


@router.post("/inventory/files", summary="Apply a stock file")
async def load_stock(platform: PlatformDep, body: FileUpload) -> Any:
    """POS sales, receipts, counts: applied in time order, once per movement id."""
    return jsonable(await run_in_threadpool(_load, platform, body, "stock"))


@router.post("/inventory/reservations", status_code=201, summary="Reserve units")
async def reserve(platform: PlatformDep, body: ReservationCreate) -> Any:
    """Hold units at a location until they expire; 409 when fewer are available."""
    return jsonable(
        await run_in_threadpool(
            platform.commerce.inventory.reserve,
            body.sku,
            body.quantity,
            location=body.location,
            key=body.key,
            ttl=timedelta(seconds=body.ttl_seconds),
            channel=body.channel,
            order_ref=body.order_ref,
        )
    )


@router.post("/inventory/reservations/{key}/release", summary="Release a reservation")
async def release(platform: PlatformDep, key: str) -> Any:
    return jsonable(await run_in_threadpool(platform.commerce.inventory.release, key))


@router.get("/inventory/{sku}", summary="Stock of one SKU")
async def stock(platform: PlatformDep, sku: str) -> Any:
    """Levels per location and available-to-promise per channel."""
    return jsonable(await run_in_threadpool(platform.commerce.inventory.show, sku))


@router.post("/orders", status_code=201, summary="Record an order")
async def create_order(platform: PlatformDep, body: OrderCreate, actor: ActorDep) -> Any:
    values = body.model_dump()
    ref = values.pop("order_ref")
    values["lines"] = [dict(line) for line in values["lines"]]
    return jsonable(
        await run_in_threadpool(platform.commerce.orders.create, ref, actor=actor, **values)
    )


@router.get("/orders/{order_ref}", summary="One order with its history")
async def get_order(platform: PlatformDep, order_ref: str) -> Any:
    return jsonable(await run_in_threadpool(platform.commerce.orders.get, order_ref))


@router.post("/orders/{order_ref}/route", summary="Route an order, explained")
async def route_order(platform: PlatformDep, order_ref: str, actor: ActorDep) -> Any:
    """Where the order goes and why every other location lost; its units are held."""
    return jsonable(await run_in_threadpool(platform.commerce.orders.route, order_ref, actor=actor))


@router.post("/orders/{order_ref}/status", summary="Move an order on")
async def order_status(
    platform: PlatformDep, order_ref: str, body: StatusChange, actor: ActorDep
) -> Any:
    """ready_for_pickup sends the pick-up notice; picked_up/shipped take the stock out."""
    return jsonable(
        await run_in_threadpool(
            platform.commerce.orders.set_status,
            order_ref,
            body.status,
            actor=actor,
            note=body.note,
        )
    )


class PriceBookPut(BaseModel):
    document: str | dict[str, Any] = Field(description="The price book, YAML text or JSON.")


@router.get("/prices/book", summary="The price book")
async def price_book(platform: PlatformDep) -> Any:
    book = await run_in_threadpool(platform.commerce.prices.book)
    return jsonable(book.model_dump(mode="json"))


@router.put("/prices/book", summary="Replace the price book")
async def put_price_book(platform: PlatformDep, body: PriceBookPut) -> Any:
    """Checked whole; an error names the field, value and what is accepted (400)."""
    return jsonable(await run_in_threadpool(platform.commerce.prices.save, body.document))


@router.post("/prices/check", summary="Check prices and promotions across channels")
async def check_prices(platform: PlatformDep, notify: bool = True) -> Any:
    """Conflicts now; each opens one alert (rule price_consistency), notified by webhook."""
    return jsonable(await run_in_threadpool(platform.commerce.prices.check, notify=notify))


@router.get("/prices/{sku}", summary="A SKU's prices per channel")
async def sku_prices(platform: PlatformDep, sku: str) -> Any:
    return jsonable(await run_in_threadpool(platform.commerce.prices.prices, sku))


@router.get("/conflict/catchment", summary="Online orders credited to stores")
async def catchment(
    platform: PlatformDep,
    since: date | None = None,
    until: date | None = None,
    radius_km: Annotated[float, Query(gt=0, le=20000)] = 10.0,
) -> Any:
    """Each store's own orders beside the online orders credited to it: the pick-up
    store, else the nearest store within radius_km, else the buyer's home store."""
    return jsonable(
        await run_in_threadpool(
            platform.commerce.conflict.catchment, since=since, until=until, radius_km=radius_km
        )
    )


@router.get("/conflict/o2o/{campaign}", summary="Online-to-offline lift of a campaign")
async def online_to_offline(
    platform: PlatformDep,
    campaign: str,
    window_days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> Any:
    """Store buyers among the people the campaign reached, before and after, against the rest."""
    return jsonable(
        await run_in_threadpool(
            platform.commerce.conflict.online_to_offline, campaign, window_days=window_days
        )
    )


@router.get("/conflict/cannibalisation", summary="What a promotion took from other channels")
async def cannibalisation(platform: PlatformDep, promotion: str) -> Any:
    """The promotion's channels and the others, units per day in it against before it."""
    return jsonable(await run_in_threadpool(platform.commerce.conflict.cannibalisation, promotion))
