"""Which locations fulfil an order, and why: the routing policy and its explanation.

Methods: ``pickup_in_store`` (buy online, pick up in store), ``ship_from_store``,
``ship_from_warehouse``, and a split shipment when no one location has every line.

The policy, in order:

1. a location is a candidate unless it is in transit, lacks the stock (after safety
   stock and reservations), is a store that is closed now (its local opening hours), or
   has used its capacity for the local day (orders routed to it today);
2. candidates that hold every line are ranked by cost: the location's shipment cost plus
   ``cost_per_km`` times the distance to the customer (great-circle, from the stores'
   latitude and longitude); the cheapest wins, nearest first on a tie;
3. for a pick-up the customer's store is the only place the parcel may end up: it is
   chosen when it holds every line; otherwise the order is not routed to it and the
   explanation says which line is short (the caller may offer the nearest store that can);
4. when no candidate holds every line, lines go greedily to the cheapest candidate that
   holds the most of what is left (a split shipment), each part explained the same way.

Every candidate appears in the explanation with its distance, cost, what it holds and,
when it lost, the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

COST_PER_KM = 0.02  # currency units per km and shipment: a parcel's distance surcharge
EARTH_KM = 6371.0


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass
class Candidate:
    location_id: str
    kind: str
    name: str
    distance_km: float | None
    cost: float
    holds: dict[str, int]
    rejected: str | None = None
    rank: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "kind": self.kind,
            "name": self.name,
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "cost": round(self.cost, 2),
            "holds": self.holds,
            "rejected": self.rejected,
            "rank": self.rank,
        }


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance (haversine); None when either end has no coordinates."""
    if a is None or b is None or None in a or None in b:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def is_open(location: Mapping[str, Any], now: datetime) -> bool:
    opens, closes = location.get("opens"), location.get("closes")
    if not opens or not closes:
        return True
    local = now.astimezone(ZoneInfo(location.get("timezone") or "UTC")).strftime("%H:%M")
    if opens <= closes:
        return bool(opens <= local < closes)
    return bool(local >= opens or local < closes)  # open past midnight


def local_day(location: Mapping[str, Any], now: datetime) -> str:
    return now.astimezone(ZoneInfo(location.get("timezone") or "UTC")).date().isoformat()


def plan(
    lines: Sequence[Line],
    *,
    fulfilment: str,
    locations: Sequence[Mapping[str, Any]],
    available: Mapping[tuple[str, str], int],
    routed_today: Mapping[str, int],
    now: datetime,
    destination: tuple[float, float] | None = None,
    pickup_location: str | None = None,
) -> dict[str, Any]:
    """The routing decision: ``parts`` (location, method, lines) and the explanation.

    ``available``: (location, sku) -> units that may be promised; ``routed_today``:
    location -> orders already routed to it on its local day.
    """
    by_id = {str(loc["location_id"]): loc for loc in locations}
    if fulfilment == "pickup":
        store = by_id.get(pickup_location or "")
        destination = _coordinates(store) if store else destination
    candidates = [
        _candidate(loc, lines, available, routed_today, now, destination) for loc in locations
    ]
    if fulfilment == "pickup":
        return _pickup(lines, candidates, pickup_location)
    whole = sorted(
        (c for c in candidates if c.rejected is None and _covers(c, lines)),
        key=lambda c: (c.cost, c.distance_km or 0.0, c.location_id),
    )
    for i, c in enumerate(whole, start=1):
        c.rank = i
    if whole:
        best = whole[0]
        for c in whole[1:]:
            c.rejected = f"holds every line but costs {c.cost:.2f} against {best.cost:.2f}"
        for c in candidates:
            if c.rejected is None and c.rank is None:
                c.rejected = _short(c, lines)
        part = {"location_id": best.location_id, "method": _ship(best), "lines": _lines(lines)}
        return _decision(
            "single",
            [part],
            candidates,
            f"{best.location_id}: cheapest of {len(whole)} location(s) holding every line",
        )
    return _split(lines, candidates)


def _coordinates(loc: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if loc is None or loc.get("latitude") is None or loc.get("longitude") is None:
        return None
    return (float(loc["latitude"]), float(loc["longitude"]))


def _candidate(
    loc: Mapping[str, Any],
    lines: Sequence[Line],
    available: Mapping[tuple[str, str], int],
    routed_today: Mapping[str, int],
    now: datetime,
    destination: tuple[float, float] | None,
) -> Candidate:
    lid = str(loc["location_id"])
    distance = distance_km(_coordinates(loc), destination)
    cost = float(loc.get("ship_cost") or 0.0) + COST_PER_KM * (distance or 0.0)
    holds = {line.sku: min(line.quantity, available.get((lid, line.sku), 0)) for line in lines}
    c = Candidate(lid, str(loc["kind"]), str(loc.get("name") or lid), distance, cost, holds)
    capacity = loc.get("capacity_per_day")
    if loc["kind"] == "transit":
        c.rejected = "stock in transit cannot be promised until it is received"
    elif not any(holds.values()):
        c.rejected = "no stock of any line (after safety stock and reservations)"
    elif loc["kind"] == "store" and not is_open(loc, now):
        c.rejected = (
            f"closed now (opens {loc.get('opens')}-{loc.get('closes')} {loc.get('timezone')})"
        )
    elif capacity is not None and routed_today.get(lid, 0) >= int(capacity):
        c.rejected = f"at capacity: {routed_today.get(lid, 0)} of {capacity} orders today"
    return c


def _covers(c: Candidate, lines: Sequence[Line]) -> bool:
    return all(c.holds.get(line.sku, 0) >= line.quantity for line in lines)


def _short(c: Candidate, lines: Sequence[Line]) -> str:
    missing = [
        f"{line.sku} (needs {line.quantity}, {c.holds.get(line.sku, 0)} available)"
        for line in lines
        if c.holds.get(line.sku, 0) < line.quantity
    ]
    return "short of " + ", ".join(missing)


def _ship(c: Candidate) -> str:
    return "ship_from_store" if c.kind == "store" else "ship_from_warehouse"


def _lines(lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "quantity": line.quantity} for line in lines]


def _pickup(
    lines: Sequence[Line], candidates: list[Candidate], pickup_location: str | None
) -> dict[str, Any]:
    store = next((c for c in candidates if c.location_id == pickup_location), None)
    for c in candidates:
        if c is not store and c.rejected is None:
            c.rejected = "not the customer's pick-up store"
    if store is None:
        return _decision("none", [], candidates, f"{pickup_location!r} is not a stock location")
    if store.rejected is None and store.kind != "store":
        store.rejected = "only a store takes pick-ups"
    if store.rejected is None and not _covers(store, lines):
        store.rejected = _short(store, lines)
    if store.rejected is not None:
        nearest = sorted(
            (
                c
                for c in candidates
                if c.kind == "store"
                and c.rejected == "not the customer's pick-up store"
                and _covers(c, lines)
            ),
            key=lambda c: (c.distance_km or 0.0, c.location_id),
        )
        alternative = nearest[0].location_id if nearest else None
        reason = f"{store.location_id}: {store.rejected}"
        decision = _decision("none", [], candidates, reason)
        decision["alternative_pickup"] = alternative
        return decision
    store.rank = 1
    part = {"location_id": store.location_id, "method": "pickup_in_store", "lines": _lines(lines)}
    return _decision("single", [part], candidates, f"{store.location_id} holds every line")


def _split(lines: Sequence[Line], candidates: list[Candidate]) -> dict[str, Any]:
    left = {line.sku: line.quantity for line in lines}
    usable = [c for c in candidates if c.rejected is None]
    parts: list[dict[str, Any]] = []
    while any(left.values()) and usable:

        def gives(c: Candidate) -> int:
            return sum(min(q, c.holds.get(sku, 0)) for sku, q in left.items())

        best = min(usable, key=lambda c: (-gives(c), c.cost, c.location_id))
        if gives(best) == 0:
            break
        taken = []
        for sku, q in left.items():
            n = min(q, best.holds.get(sku, 0))
            if n:
                taken.append({"sku": sku, "quantity": n})
                left[sku] = q - n
        best.rank = len(parts) + 1
        parts.append({"location_id": best.location_id, "method": _ship(best), "lines": taken})
        usable.remove(best)
    for c in usable:
        c.rejected = "not needed: the parts before it hold every line"
    if any(left.values()):
        short = ", ".join(f"{sku} x{q}" for sku, q in left.items() if q)
        for c in candidates:
            if c.rejected is None and c.rank is None:
                c.rejected = "holds nothing still needed"
        return _decision("none", [], candidates, f"no locations together hold {short}")
    why = f"no one location holds every line: split over {len(parts)} locations"
    return _decision("split", parts, candidates, why)


def _decision(
    kind: str, parts: list[dict[str, Any]], candidates: list[Candidate], why: str
) -> dict[str, Any]:
    ordered = sorted(candidates, key=lambda c: (c.rank is None, c.rank or 0, c.cost, c.location_id))
    return {
        "outcome": kind,
        "parts": parts,
        "why": why,
        "candidates": [c.as_dict() for c in ordered],
        "policy": {
            "cost": f"location ship_cost + {COST_PER_KM} per km to the customer",
            "rejects": "in transit, out of stock, store closed now, at capacity for the day",
        },
    }
