"""Orders of every channel in one table, routed, reserved, and followed to the customer.

An order arrives (``create``: web, app, WeChat, a marketplace, a store's endless aisle)
with its lines and how the customer wants it: ``pickup`` at a store, or ``ship`` to
coordinates. ``route`` asks the policy (``routing.plan``) where it goes, holds its units
with one reservation per part and line (keyed by the order, so routing twice holds
once), records the shipments and the explanation, and moves the status. Every status
change is a row of ``order_status_history``. ``ready_for_pickup`` sends the customer's
pick-up notice through the one send path (``platform.messages``: consent, the outbox,
the email worker), keyed by the order so it is sent once.

Statuses: received -> routed | unroutable; routed -> ready_for_pickup -> picked_up, or
routed -> shipped; any open one -> cancelled (its units given back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from omnichannel.commerce.inventory import Inventory, NotAvailableError
from omnichannel.commerce.routing import Line, local_day, plan
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import CommerceOrder, OrderShipment, OrderStatusChange

if TYPE_CHECKING:
    from omnichannel.platform import Platform

FULFILMENTS = ("pickup", "ship")
STATUSES = (
    "received",
    "routed",
    "unroutable",
    "ready_for_pickup",
    "picked_up",
    "shipped",
    "cancelled",
)
NEXT: dict[str, tuple[str, ...]] = {
    "received": ("routed", "unroutable", "cancelled"),
    "unroutable": ("routed", "cancelled"),
    "routed": ("ready_for_pickup", "shipped", "cancelled"),
    "ready_for_pickup": ("picked_up", "cancelled"),
    "picked_up": (),
    "shipped": (),
    "cancelled": (),
}
# An order's hold lasts until it is picked up or shipped; a week covers a pick-up window.
ORDER_HOLD = timedelta(days=7)
Rows = list[dict[str, Any]]
Keys = list[str]


class Orders:
    """The order table, routing and the status lifecycle."""

    def __init__(
        self, platform: Platform, inventory: Inventory, *, clock: Callable[[], datetime]
    ) -> None:
        self._platform = platform
        self._inventory = inventory
        self._clock = clock

    def create(
        self,
        order_ref: str,
        *,
        channel: str,
        lines: Sequence[Mapping[str, Any]],
        fulfilment: str,
        pickup_location: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        email: str | None = None,
        customer: str | None = None,
        actor: str = "system",
    ) -> dict[str, Any]:
        """Record an order (``received``); the same ``order_ref`` again returns it."""
        checked = _lines(lines)
        if fulfilment not in FULFILMENTS:
            raise ValidationError("fulfilment", fulfilment, "pickup or ship")
        if fulfilment == "pickup" and not pickup_location:
            raise ValidationError("pickup_location", pickup_location, "the store to pick up at")
        if fulfilment == "ship" and (latitude is None or longitude is None):
            raise ValidationError("latitude", latitude, "the delivery address's coordinates")
        now = self._clock()
        try:
            with self._platform.opstore.session() as session:
                order = CommerceOrder(
                    order_ref=order_ref,
                    channel=channel,
                    customer=customer,
                    email=email,
                    fulfilment=fulfilment,
                    pickup_location=pickup_location,
                    latitude=latitude,
                    longitude=longitude,
                    lines=[{"sku": ln.sku, "quantity": ln.quantity} for ln in checked],
                    status="received",
                    created_at=now,
                    updated_at=now,
                )
                session.add(order)
                session.flush()
                session.add(
                    OrderStatusChange(
                        order_id=order.id,
                        status="received",
                        actor=actor,
                        detail={"channel": channel},
                        at=now,
                    )
                )
        except IntegrityError:
            return {**self.get(order_ref), "duplicate": True}
        return {**self.get(order_ref), "duplicate": False}

    def get(self, order_ref: str) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            order = self._order(session, order_ref)
            history = session.scalars(
                select(OrderStatusChange)
                .where(OrderStatusChange.order_id == order.id)
                .order_by(OrderStatusChange.id)
            )
            shipments = session.scalars(
                select(OrderShipment).where(OrderShipment.order_id == order.id)
            )
            return {
                **order_dict(order),
                "shipments": [
                    {"location_id": s.location_id, "method": s.method, "lines": s.lines}
                    for s in shipments
                ],
                "history": [
                    {
                        "status": h.status,
                        "at": h.at.isoformat(),
                        "actor": h.actor,
                        "detail": h.detail,
                    }
                    for h in history
                ],
            }

    def list(self, *, status: str | None = None, limit: int = 100) -> Rows:
        if status is not None and status not in STATUSES:
            raise ValidationError("status", status, f"one of {', '.join(STATUSES)}")
        with self._platform.opstore.session() as session:
            query = select(CommerceOrder).order_by(CommerceOrder.id.desc()).limit(limit)
            if status is not None:
                query = query.where(CommerceOrder.status == status)
            return [order_dict(o) for o in session.scalars(query)]

    def summary(self) -> Rows:
        """Orders per status and route (``pickup_in_store``, ``ship_from_store``,
        ``ship_from_warehouse``, ``split``; none before routing), most first."""
        counts: dict[tuple[str, str | None], int] = {}
        with self._platform.opstore.session() as session:
            for status, routing in session.execute(
                select(CommerceOrder.status, CommerceOrder.routing)
            ):
                key = (status, route_of(routing))
                counts[key] = counts.get(key, 0) + 1
        rows = [{"status": s, "route": r, "orders": n} for (s, r), n in counts.items()]
        return sorted(rows, key=lambda r: (-r["orders"], r["status"], r["route"] or ""))

    # --- routing ---------------------------------------------------------------------

    def route(self, order_ref: str, *, actor: str = "system") -> dict[str, Any]:
        """Route an order and hold its units; returns the decision with its explanation."""
        order = self.get(order_ref)
        if order["status"] == "routed":
            return {"order_ref": order_ref, "status": "routed", **(order["routing"] or {})}
        if order["status"] not in ("received", "unroutable"):
            raise ConflictError(f"order {order_ref!r} is {order['status']}: not routed again")
        lines = [Line(ln["sku"], int(ln["quantity"])) for ln in order["lines"]]
        now = self._clock()
        locations = self._inventory.locations()
        decision = plan(
            lines,
            fulfilment=order["fulfilment"],
            locations=locations,
            available=self._available({ln.sku for ln in lines}),
            routed_today=self._routed_today(locations, now),
            now=now,
            destination=_destination(order),
            pickup_location=order["pickup_location"],
        )
        if decision["outcome"] == "none":
            self._move(
                order_ref,
                "unroutable",
                actor=actor,
                detail={"why": decision["why"]},
                routing=decision,
            )
            return {"order_ref": order_ref, "status": "unroutable", **decision}
        try:
            self._hold(order_ref, decision["parts"], channel=order["channel"])
        except NotAvailableError as exc:
            # Someone took the units between the plan and the hold: nothing is held.
            self._release_holds(order_ref)
            decision["why"] = f"stock moved while routing: {exc}"
            self._move(
                order_ref,
                "unroutable",
                actor=actor,
                detail={"why": decision["why"]},
                routing=decision,
            )
            return {"order_ref": order_ref, "status": "unroutable", **decision}
        by_id = {loc["location_id"]: loc for loc in locations}
        with self._platform.opstore.session() as session:
            order_row = self._order(session, order_ref)
            for part in decision["parts"]:
                session.add(
                    OrderShipment(
                        order_id=order_row.id,
                        location_id=part["location_id"],
                        method=part["method"],
                        lines=part["lines"],
                        day=local_day(by_id[part["location_id"]], now),
                        created_at=now,
                    )
                )
        self._platform.commerce.inventory.publish()  # the holds, as Inventory Changed
        self._move(
            order_ref,
            "routed",
            actor=actor,
            routing=decision,
            detail={
                "outcome": decision["outcome"],
                "locations": [p["location_id"] for p in decision["parts"]],
            },
        )
        return {"order_ref": order_ref, "status": "routed", **decision}

    def _available(self, skus: set[str]) -> dict[tuple[str, str], int]:
        self._inventory.expire_due()
        found: dict[tuple[str, str], int] = {}
        for sku in skus:
            for level in self._inventory.levels(sku):
                found[(level["location_id"], sku)] = level["available"]
        return found

    def _routed_today(
        self, locations: Sequence[Mapping[str, Any]], now: datetime
    ) -> dict[str, int]:
        days = {str(loc["location_id"]): local_day(loc, now) for loc in locations}
        with self._platform.opstore.session() as session:
            rows = session.execute(
                select(OrderShipment.location_id, OrderShipment.day, func.count()).group_by(
                    OrderShipment.location_id, OrderShipment.day
                )
            )
            return {lid: int(n) for lid, day, n in rows if days.get(lid) == day}

    def _hold(self, order_ref: str, parts: Sequence[Mapping[str, Any]], *, channel: str) -> None:
        for part in parts:
            for line in part["lines"]:
                self._inventory.reserve(
                    line["sku"],
                    int(line["quantity"]),
                    location=part["location_id"],
                    key=_hold_key(order_ref, part["location_id"], line["sku"]),
                    ttl=ORDER_HOLD,
                    channel=channel,
                    order_ref=order_ref,
                )

    def _holds(self, order_ref: str) -> Keys:
        from omnichannel.opstore.models import StockReservation

        with self._platform.opstore.session() as session:
            return list(
                session.scalars(
                    select(StockReservation.reservation_key).where(
                        StockReservation.order_ref == order_ref,
                        StockReservation.status == "active",
                    )
                )
            )

    def _release_holds(self, order_ref: str) -> None:
        for key in self._holds(order_ref):
            self._inventory.release(key)

    # --- lifecycle -------------------------------------------------------------------

    def set_status(
        self, order_ref: str, status: str, *, actor: str = "system", note: str = ""
    ) -> dict[str, Any]:
        """Move an order on; stock and the pick-up notice follow (see the module doc)."""
        if status not in STATUSES:
            raise ValidationError("status", status, f"one of {', '.join(STATUSES)}")
        order = self.get(order_ref)
        if status == "routed":
            raise ValidationError("status", status, "routing happens by route(), not by hand")
        if status not in NEXT[order["status"]]:
            allowed = ", ".join(NEXT[order["status"]]) or "nothing (it is finished)"
            raise ConflictError(
                f"order {order_ref!r} is {order['status']}: it can move to {allowed}"
            )
        if status == "ready_for_pickup" and order["fulfilment"] != "pickup":
            raise ValidationError(
                "status", status, "shipped (this order is shipped, not picked up)"
            )
        detail: dict[str, Any] = {"note": note} if note else {}
        if status in ("picked_up", "shipped"):
            for key in self._holds(order_ref):
                self._inventory.fulfil(key)
            self._platform.commerce.inventory.publish()
        elif status == "cancelled":
            self._release_holds(order_ref)
            self._platform.commerce.inventory.publish()
        elif status == "ready_for_pickup":
            detail["notice"] = self._pickup_notice(order)
        self._move(order_ref, status, actor=actor, detail=detail)
        return self.get(order_ref)

    def _pickup_notice(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The customer's email through the send path, once per order (idempotency key)."""
        if not order.get("email") and not order.get("customer"):
            return {"sent": False, "reason": "the order has neither an email nor a customer"}
        store = next(
            (
                loc
                for loc in self._inventory.locations()
                if loc["location_id"] == order["pickup_location"]
            ),
            {"name": order["pickup_location"]},
        )
        items = "\n".join(f"- {ln['quantity']} x {ln['sku']}" for ln in order["lines"])
        hours = f" ({store['opens']}-{store['closes']})" if store.get("opens") else ""
        subject = f"Your order {order['order_ref']} is ready to pick up at {store['name']}"
        text = (
            f"Your order {order['order_ref']} is ready at {store['name']}{hours}.\n\n"
            f"{items}\n\nBring this email or your order number."
        )
        request: dict[str, Any] = {
            "channel": "email",
            "kind": "transactional",
            "idempotency_key": f"pickup-notice:{order['order_ref']}",
            "origin": "api",
            "content": {
                "subject": subject,
                "text": text,
                "html": "<html><body><pre>" + _escape(text) + "</pre></body></html>",
            },
        }
        if order.get("customer"):
            request["identifier"] = order["customer"]
            if order.get("email"):
                request["address"] = order["email"]
        else:
            request["address"] = order["email"]
        sent = self._platform.messages.send(request)
        return {"sent": True, "outbox_id": sent.get("outbox_id"), "status": sent.get("status")}

    def _move(
        self,
        order_ref: str,
        status: str,
        *,
        actor: str,
        detail: dict[str, Any] | None = None,
        routing: dict[str, Any] | None = None,
    ) -> None:
        now = self._clock()
        with self._platform.opstore.session() as session:
            order = self._order(session, order_ref)
            order.status, order.updated_at = status, now
            if routing is not None:
                order.routing = routing
            session.add(
                OrderStatusChange(
                    order_id=order.id, status=status, actor=actor, detail=detail or {}, at=now
                )
            )

    @staticmethod
    def _order(session: Any, order_ref: str) -> CommerceOrder:
        order = session.scalars(
            select(CommerceOrder).where(CommerceOrder.order_ref == order_ref)
        ).first()
        if order is None:
            raise NotFoundError(f"no order {order_ref!r}")
        return order


def _hold_key(order_ref: str, location: str, sku: str) -> str:
    return f"order:{order_ref}:{location}:{sku}"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _destination(order: Mapping[str, Any]) -> tuple[float, float] | None:
    if order.get("latitude") is None or order.get("longitude") is None:
        return None
    return (float(order["latitude"]), float(order["longitude"]))


def _lines(lines: Sequence[Mapping[str, Any]]) -> list[Line]:
    if not lines:
        raise ValidationError("lines", lines, "at least one line {sku, quantity}")
    out = []
    for i, line in enumerate(lines):
        sku, quantity = line.get("sku"), line.get("quantity")
        if not isinstance(sku, str) or not sku:
            raise ValidationError(f"lines[{i}].sku", sku, "a SKU")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError(f"lines[{i}].quantity", quantity, "a whole number, 1 or more")
        out.append(Line(sku, quantity))
    return out


def route_of(routing: Mapping[str, Any] | None) -> str | None:
    """How a routed order goes: its one part's method, ``split``, or None (not routed)."""
    if not routing or not routing.get("parts"):
        return None
    if routing.get("outcome") == "split":
        return "split"
    return str(routing["parts"][0]["method"])


def order_dict(row: CommerceOrder) -> dict[str, Any]:
    return {
        "order_ref": row.order_ref,
        "channel": row.channel,
        "customer": row.customer,
        "email": row.email,
        "fulfilment": row.fulfilment,
        "pickup_location": row.pickup_location,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "lines": row.lines,
        "status": row.status,
        "routing": row.routing,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def utcnow() -> datetime:
    return datetime.now(UTC)
