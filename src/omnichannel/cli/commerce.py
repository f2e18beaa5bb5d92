"""``omni catalogue``, ``omni inventory`` and ``omni orders``: listings, stock, routing.

Each command is a thin call into ``platform.commerce`` (commerce/service.py), or, while
``omni serve`` owns the home, the same call over ``/api/commerce/...``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table
from omnichannel.textfiles import read_utf8_argument

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

T = TypeVar("T")
catalogue_app = typer.Typer(
    no_args_is_help=True,
    help="The catalogue: products and their listings per channel (codes, assortment, price).",
)
inventory_app = typer.Typer(
    no_args_is_help=True,
    help="Stock per location: levels, available-to-promise, reservations, stock files.",
)
orders_app = typer.Typer(
    no_args_is_help=True,
    help="Orders of every channel: route (explained), status, pick-up notices.",
)
JSON = typer.Option(False, "--json", help=JSON_OPTION_HELP)


def _run(
    ctx: typer.Context, local: Callable[[Platform], T], remote: Callable[[ServerClient], T]
) -> T:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _upload(path: Path, source: str, mapping: str | None) -> dict[str, Any]:
    return {
        "content": read_utf8_argument(path, "file", "a CSV file"),
        "filename": path.name,
        "source": source,
        "mapping": mapping,
    }


def _print_load(report: dict[str, Any]) -> None:
    counts = {k: v for k, v in report.items() if isinstance(v, int)}
    console.print(key_value_table(f"{report['kind']} from {report['path']}", counts))
    for reason in report.get("reasons", []):
        console.print(f"  refused: {reason}")


# --- catalogue -------------------------------------------------------------------------


@catalogue_app.command("list")
def catalogue_list(
    ctx: typer.Context,
    channel: str | None = typer.Option(None, help="web, app, wechat, tmall, jd or store."),
    sku: str | None = typer.Option(None, help="Only this SKU's listings."),
    listed: bool | None = typer.Option(None, "--listed/--unlisted", help="Only (un)listed."),
    as_json: bool = JSON,
) -> None:
    """Listings: our SKU, the channel, its own code, listed or not, title and price."""
    rows = _run(
        ctx,
        lambda p: p.commerce.catalogue.listings(sku=sku, channel=channel, listed=listed),
        lambda s: s.get("/api/commerce/catalogue", sku=sku, channel=channel, listed=listed),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            "listings",
            ["sku", "channel", "channel sku", "listed", "title", "price"],
            [
                [
                    r["sku"],
                    r["channel"],
                    r["channel_sku"],
                    "yes" if r["listed"] else "no",
                    r["title"] or "",
                    "" if r["price"] is None else f"{r['price']:.2f}",
                ]
                for r in rows
            ],
        )
    )


@catalogue_app.command("show")
def catalogue_show(ctx: typer.Context, sku: str, as_json: bool = JSON) -> None:
    """One product: its record, its listings per channel and its stock per location."""
    product = _run(
        ctx,
        lambda p: p.commerce.catalogue.product(sku),
        lambda s: s.get(f"/api/commerce/catalogue/{sku}"),
    )
    if as_json:
        emit_json(product)
        return
    fields = {k: product[k] for k in ("sku", "name", "category", "brand", "price", "currency")}
    console.print(key_value_table(f"product {sku}", fields))
    console.print(
        rows_table(
            "listings",
            ["channel", "channel sku", "listed", "price"],
            [
                [r["channel"], r["channel_sku"], "yes" if r["listed"] else "no", r["price"]]
                for r in product["listings"]
            ],
        )
    )
    _print_levels(product["stock"])


@catalogue_app.command("load")
def catalogue_load(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A listings export."),
    source: str = typer.Option(..., "--source", help="Where the file comes from (erp, ...)."),
    mapping: str | None = typer.Option(None, help="A mapping file or shipped name."),
    as_json: bool = JSON,
) -> None:
    """Load a listings file; rows naming an unknown SKU go to the dead letters."""
    report = _run(
        ctx,
        lambda p: p.commerce.catalogue.load(
            file, source=source, mapping=mapping or "omnichannel-listings"
        ),
        lambda s: s.post("/api/commerce/catalogue/files", _upload(file, source, mapping)),
    )
    emit_json(report) if as_json else _print_load(report)


# --- inventory -------------------------------------------------------------------------


def _print_levels(levels: list[dict[str, Any]]) -> None:
    console.print(
        rows_table(
            "stock",
            ["location", "kind", "on hand", "reserved", "safety", "available"],
            [
                [
                    lv["location_id"],
                    lv.get("kind", ""),
                    lv["on_hand"],
                    lv["reserved"],
                    lv["safety_stock"],
                    lv["available"],
                ]
                for lv in levels
            ],
        )
    )


@inventory_app.command("show")
def inventory_show(ctx: typer.Context, sku: str, as_json: bool = JSON) -> None:
    """A SKU's stock per location and available-to-promise per channel."""
    shown = _run(
        ctx,
        lambda p: p.commerce.inventory.show(sku),
        lambda s: s.get(f"/api/commerce/inventory/{sku}"),
    )
    if as_json:
        emit_json(shown)
        return
    _print_levels(shown["locations"])
    console.print(
        rows_table(
            "available to promise",
            ["channel", "listed", "available"],
            [
                [c, "yes" if v["listed"] else "no", v["available"]]
                for c, v in shown["channels"].items()
            ],
        )
    )


@inventory_app.command("locations")
def inventory_locations(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Stock locations: warehouses, stores, in transit; hours, capacity, cost."""
    rows = _run(
        ctx,
        lambda p: p.commerce.inventory.locations(),
        lambda s: s.get("/api/commerce/inventory/locations"),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            "locations",
            ["id", "kind", "name", "hours", "capacity/day", "ship cost"],
            [
                [
                    r["location_id"],
                    r["kind"],
                    r["name"],
                    f"{r['opens']}-{r['closes']}" if r["opens"] else "always",
                    r["capacity_per_day"] or "",
                    r["ship_cost"],
                ]
                for r in rows
            ],
        )
    )


@inventory_app.command("reserve")
def inventory_reserve(
    ctx: typer.Context,
    sku: str,
    quantity: int = typer.Argument(..., min=1),
    location: str = typer.Option(..., "--location", help="Where the units are held."),
    key: str = typer.Option(..., "--key", help="Names the hold (a cart, an order line)."),
    ttl: float = typer.Option(900.0, "--ttl", help="Seconds until it expires."),
    channel: str | None = typer.Option(None, help="The channel the hold is for."),
    as_json: bool = JSON,
) -> None:
    """Hold units at a location until they expire; refused when fewer are available."""
    held = _run(
        ctx,
        lambda p: p.commerce.inventory.reserve(
            sku, quantity, location=location, key=key, ttl=timedelta(seconds=ttl), channel=channel
        ),
        lambda s: s.post(
            "/api/commerce/inventory/reservations",
            {
                "sku": sku,
                "quantity": quantity,
                "location": location,
                "key": key,
                "ttl_seconds": ttl,
                "channel": channel,
            },
        ),
    )
    emit_json(held) if as_json else console.print(key_value_table(f"reservation {key}", held))


@inventory_app.command("release")
def inventory_release(ctx: typer.Context, key: str, as_json: bool = JSON) -> None:
    """Give a reservation's units back."""
    done = _run(
        ctx,
        lambda p: p.commerce.inventory.release(key),
        lambda s: s.post(f"/api/commerce/inventory/reservations/{key}/release"),
    )
    emit_json(done) if as_json else console.print(key_value_table(f"reservation {key}", done))


@inventory_app.command("load")
def inventory_load(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A stock file."),
    source: str = typer.Option(..., "--source", help="Where the file comes from (pos, ...)."),
    mapping: str | None = typer.Option(None, help="A mapping file or shipped name."),
    as_json: bool = JSON,
) -> None:
    """Apply a stock file (sales, receipts, counts) in time order, once per movement."""
    report = _run(
        ctx,
        lambda p: p.commerce.inventory.load(
            file, source=source, mapping=mapping or "omnichannel-stock"
        ),
        lambda s: s.post("/api/commerce/inventory/files", _upload(file, source, mapping)),
    )
    emit_json(report) if as_json else _print_load(report)


# --- orders ----------------------------------------------------------------------------


@orders_app.command("route")
def orders_route(
    ctx: typer.Context,
    order: str,
    explain: bool = typer.Option(False, "--explain", help="Every candidate and why it lost."),
    as_json: bool = JSON,
) -> None:
    """Route an order (pick up, ship from store or warehouse, split) and hold its units."""
    decision = _run(
        ctx,
        lambda p: p.commerce.orders.route(order),
        lambda s: s.post(f"/api/commerce/orders/{order}/route"),
    )
    if as_json:
        emit_json(decision)
        return
    console.print(f"{order}: {decision['status']} ({decision.get('outcome')}) - {decision['why']}")
    for part in decision.get("parts", []):
        lines = ", ".join(f"{ln['quantity']} x {ln['sku']}" for ln in part["lines"])
        console.print(f"  {part['method']} from {part['location_id']}: {lines}")
    if decision.get("alternative_pickup"):
        console.print(f"  nearest store that could: {decision['alternative_pickup']}")
    if explain:
        console.print(
            rows_table(
                "candidates",
                ["rank", "location", "kind", "km", "cost", "why not"],
                [
                    [
                        c["rank"] or "",
                        c["location_id"],
                        c["kind"],
                        c["distance_km"],
                        c["cost"],
                        c["rejected"] or "chosen",
                    ]
                    for c in decision["candidates"]
                ],
            )
        )


@orders_app.command("show")
def orders_show(ctx: typer.Context, order: str, as_json: bool = JSON) -> None:
    """One order: lines, shipments, status history."""
    found = _run(
        ctx,
        lambda p: p.commerce.orders.get(order),
        lambda s: s.get(f"/api/commerce/orders/{order}"),
    )
    if as_json:
        emit_json(found)
        return
    console.print(f"{order} ({found['channel']}, {found['fulfilment']}): {found['status']}")
    console.print(
        rows_table(
            "history",
            ["at", "status", "by"],
            [[h["at"], h["status"], h["actor"]] for h in found["history"]],
        )
    )


@orders_app.command("status")
def orders_status(
    ctx: typer.Context,
    order: str,
    status: str = typer.Argument(..., help="ready_for_pickup, picked_up, shipped, cancelled."),
    note: str = typer.Option("", help="Kept in the status history."),
    as_json: bool = JSON,
) -> None:
    """Move an order on: ready_for_pickup emails the customer; picked_up/shipped take stock."""
    found = _run(
        ctx,
        lambda p: p.commerce.orders.set_status(order, status, actor="cli", note=note),
        lambda s: s.post(f"/api/commerce/orders/{order}/status", {"status": status, "note": note}),
    )
    emit_json(found) if as_json else console.print(f"{order}: {found['status']}")


# --- prices ----------------------------------------------------------------------------

prices_app = typer.Typer(
    no_args_is_help=True,
    help="One price book: channel overrides, rules, promotions; conflicts across channels.",
)


@prices_app.command("set")
def prices_set(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The price book YAML."),
    as_json: bool = JSON,
) -> None:
    """Check and keep the price book (tolerance, channel rules, promotions, notify)."""
    text_ = read_utf8_argument(file, "file", "a price book")
    book = _run(
        ctx,
        lambda p: p.commerce.prices.save(text_),
        lambda s: s.request("PUT", "/api/commerce/prices/book", json={"document": text_}),
    )
    emit_json(book) if as_json else console.print(
        f"price book saved: {len(book['promotions'])} promotions, {len(book['rules'])} rules"
    )


@prices_app.command("show")
def prices_show(ctx: typer.Context, sku: str, as_json: bool = JSON) -> None:
    """A SKU's base price and, per listed channel, expected, override, promotion, effective."""
    shown = _run(
        ctx,
        lambda p: p.commerce.prices.prices(sku),
        lambda s: s.get(f"/api/commerce/prices/{sku}"),
    )
    if as_json:
        emit_json(shown)
        return
    console.print(
        rows_table(
            f"{sku}: base {shown['base']}",
            ["channel", "expected", "override", "promotion", "effective"],
            [
                [c, r["expected"], r["override"], r["promotion"] or "", r["effective"]]
                for c, r in shown["channels"].items()
            ],
        )
    )


@prices_app.command("check")
def prices_check(
    ctx: typer.Context,
    notify: bool = typer.Option(True, "--notify/--no-notify", help="Send the alerts."),
    as_json: bool = JSON,
) -> None:
    """Find prices and promotions that disagree across channels; each is an alert."""
    report = _run(
        ctx,
        lambda p: p.commerce.prices.check(notify=notify),
        lambda s: s.post("/api/commerce/prices/check", notify=notify),
    )
    if as_json:
        emit_json(report)
        return
    for conflict in report["conflicts"]:
        console.print(f"{conflict['kind']}: {conflict['message']}")
    console.print(
        f"{len(report['conflicts'])} conflicts; {len(report['opened'])} alerts opened, "
        f"{len(report['resolved'])} resolved"
    )
