"""Stock per location in the operational store: on hand, reserved, safety stock, the ledger.

Every change of a level is one ``stock_movements`` row written in the same transaction,
keyed (``movement_key``) so a replayed POS or stock file, a retried reservation or a
second expiry pass changes nothing. A reservation never grants more than is available:

- the grant is one conditional ``UPDATE ... SET reserved = reserved + q WHERE on_hand -
  reserved - safety_stock >= q``; SQLite runs writers one at a time (the statement takes
  the write lock before it reads the row), PostgreSQL re-checks the ``WHERE`` on the row
  version it locked (READ COMMITTED's re-evaluation), so concurrent clients asking for
  the last units get exactly what is there, and the rest a ``NotAvailableError`` (409);
- the table's CHECKs (``reserved <= on_hand``, ``on_hand >= 0``) refuse any write that
  would oversell, whatever path it came by.

Example::

    stock = Inventory(platform.opstore)
    stock.apply([Movement("pos:T1:1", "store-sh", "SKU-1", "receipt", 10)])
    held = stock.reserve("SKU-1", 2, location="store-sh", key="cart-9", ttl=timedelta(minutes=15))
    stock.release("cart-9")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Table, and_, bindparam, case, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    StockAvailable,
    StockLevel,
    StockLocation,
    StockMovement,
    StockReservation,
    UTCDateTime,
)

LOCATION_KINDS = ("warehouse", "store", "transit")
# What a movement does to on hand; ``count`` sets it (a stock take), the rest add.
MOVEMENT_SIGNS: dict[str, int] = {
    "receipt": 1,
    "return": 1,
    "transfer_in": 1,
    "sale": -1,
    "transfer_out": -1,
    "adjustment": 1,  # signed quantity: -3 writes off three units
    "count": 0,
}
DEFAULT_TTL = timedelta(minutes=15)
LOCKED_RETRIES = 5
_LEVELS = cast(Table, StockLevel.__table__)
_RESERVATIONS = cast(Table, StockReservation.__table__)
_MOVEMENTS = cast(Table, StockMovement.__table__)
# The grant: one conditional statement (see the module docstring).
_GRANT = (
    update(_LEVELS)
    .where(
        and_(
            _LEVELS.c.location_id == bindparam("b_location"),
            _LEVELS.c.sku == bindparam("b_sku"),
            _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.safety_stock >= bindparam("b_q"),
        )
    )
    .values(reserved=_LEVELS.c.reserved + bindparam("b_q"), updated_at=bindparam("b_now"))
    .returning(_LEVELS.c.on_hand, _LEVELS.c.reserved)
)
# A level's units that can be promised: never negative, so a level short of its safety
# stock adds nothing rather than taking from another location's units.
_FREE = _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.safety_stock
_AVAILABLE = case((_FREE > 0, _FREE), else_=0)
# On PostgreSQL the grant, the hold and its ledger row are one statement (data-modifying
# CTEs): one round trip instead of three, the same conditional UPDATE deciding. A
# statement fails whole, so a used key (unique violation) still leaves nothing behind.
_GRANT_HOLD_LEDGER = text(
    """
    WITH granted AS (
      UPDATE stock_levels SET reserved = reserved + :q, updated_at = :now
      WHERE location_id = :location AND sku = :sku
        AND on_hand - reserved - safety_stock >= :q
      RETURNING on_hand, reserved
    ), held AS (
      INSERT INTO stock_reservations (reservation_key, location_id, sku, quantity, channel,
                                      order_ref, status, expires_at, created_at, updated_at)
      SELECT :key, :location, :sku, :q, :channel, :order_ref, 'active', :expires, :now, :now
      FROM granted
      RETURNING id
    )
    INSERT INTO stock_movements (movement_key, location_id, sku, kind, on_hand_change,
                                 reserved_change, on_hand_after, reserved_after, source,
                                 reference, occurred_at, recorded_at)
    SELECT :movement_key, :location, :sku, 'reserve', 0, :q, on_hand, reserved,
           'reservations', :key, :now, :now
    FROM granted
    RETURNING on_hand_after, reserved_after
    """
).bindparams(
    bindparam("channel", type_=String()),
    bindparam("order_ref", type_=String()),
    bindparam("now", type_=UTCDateTime()),
    bindparam("expires", type_=UTCDateTime()),
)
MAX_TTL = timedelta(days=30)
Clock = Callable[[], datetime]


class NotAvailableError(ConflictError):
    """Fewer units are available than asked for (409 over HTTP); says how many there are."""

    def __init__(self, sku: str, wanted: int, available: int, where: str) -> None:
        self.sku, self.wanted, self.available = sku, wanted, available
        super().__init__(
            f"{wanted} of {sku} cannot be reserved at {where}: {available} available "
            "(on hand - reserved - safety stock)"
        )


@dataclass(frozen=True)
class Movement:
    """One stock change from a POS ticket, a web order, a receipt or a stock take."""

    key: str
    location_id: str
    sku: str
    kind: str
    quantity: int
    occurred_at: datetime | None = None
    source: str = "api"
    reference: str | None = None


@dataclass
class ApplyReport:
    applied: int = 0
    already_applied: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC)


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(name, value, "a whole number of units, 1 or more")
    return value


def check_movement(m: Movement) -> None:
    if m.kind not in MOVEMENT_SIGNS:
        raise ValidationError("kind", m.kind, f"one of {', '.join(MOVEMENT_SIGNS)}")
    if not m.key:
        raise ValidationError("movement_key", m.key, "a key naming the movement once")
    if isinstance(m.quantity, bool) or not isinstance(m.quantity, int):
        raise ValidationError("quantity", m.quantity, "a whole number of units")
    if m.kind == "count" and m.quantity < 0:
        raise ValidationError("quantity", m.quantity, "a count of 0 or more")
    if m.kind not in ("adjustment", "count") and m.quantity <= 0:
        raise ValidationError("quantity", m.quantity, f"1 or more units for a {m.kind}")


class Inventory:
    """Locations, levels, movements and reservations on one operational store."""

    def __init__(self, store: OpStore, *, clock: Clock = _now) -> None:
        self.store = store
        self.clock = clock

    # --- locations -------------------------------------------------------------------

    def put_location(self, location_id: str, **values: Any) -> dict[str, Any]:
        """Create or change a location (``kind``: warehouse, store or transit)."""
        kind = values.get("kind")
        if kind is not None and kind not in LOCATION_KINDS:
            raise ValidationError("kind", kind, f"one of {', '.join(LOCATION_KINDS)}")
        for hours in ("opens", "closes"):
            text = values.get(hours)
            if text is not None and not _is_hhmm(text):
                raise ValidationError(hours, text, "a local time HH:MM, e.g. 09:00")
        allowed = {c.name for c in StockLocation.__table__.columns} - {"location_id"}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValidationError(unknown[0], values[unknown[0]], f"one of {sorted(allowed)}")
        with self.store.session() as session:
            row = session.get(StockLocation, location_id)
            if row is None:
                if kind is None:
                    raise ValidationError("kind", None, f"one of {', '.join(LOCATION_KINDS)}")
                row = StockLocation(location_id=location_id, name=values.get("name", location_id))
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = self.clock()
            session.flush()
            return location_dict(row)

    def locations(self) -> list[dict[str, Any]]:
        with self.store.session() as session:
            rows = session.scalars(select(StockLocation).order_by(StockLocation.location_id))
            return [location_dict(r) for r in rows]

    def set_safety_stock(self, location_id: str, sku: str, units: int) -> None:
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise ValidationError("safety_stock", units, "a whole number of units, 0 or more")
        with self.store.session() as session:
            level = self._level(session, location_id, sku, create=True)
            level.safety_stock = units
            level.updated_at = self.clock()

    # --- movements -------------------------------------------------------------------

    def apply(self, movements: Iterable[Movement]) -> ApplyReport:
        """Apply movements in time order (then as given), each once by its key."""
        from omnichannel.commerce.batch import apply_batch

        report = ApplyReport()
        ordered = [
            m
            for _, m in sorted(
                enumerate(movements), key=lambda im: (im[1].occurred_at or self.clock(), im[0])
            )
        ]
        checked = []
        for m in ordered:
            try:
                check_movement(m)
                checked.append(m)
            except ValidationError as exc:
                report.refused.append({"key": m.key, "reason": str(exc)})
        # One transaction for the lot; if another writer got in its way, one each.
        refused = list(report.refused)
        if apply_batch(self, checked, report):
            return report
        report = ApplyReport(refused=refused)
        for m in checked:
            try:
                applied = self._apply_one(m)
            except (ValidationError, NotFoundError) as exc:
                report.refused.append({"key": m.key, "reason": str(exc)})
                continue
            if applied:
                report.applied += 1
            else:
                report.already_applied += 1
        return report

    def _apply_one(self, m: Movement, *, retried: bool = False) -> bool:
        try:
            with self.store.session() as session:
                # The ledger row first: a key seen before fails here, before any change
                # (and on SQLite the write lock is taken before anything is read).
                row = StockMovement(
                    movement_key=m.key,
                    location_id=m.location_id,
                    sku=m.sku,
                    kind=m.kind,
                    on_hand_after=0,
                    reserved_after=0,
                    source=m.source,
                    reference=m.reference,
                    occurred_at=m.occurred_at or self.clock(),
                    recorded_at=self.clock(),
                )
                session.add(row)
                session.flush()
                if session.get(StockLocation, m.location_id) is None:
                    raise NotFoundError(f"location {m.location_id!r} is not a stock location")
                level = self._level(session, m.location_id, m.sku, create=True, lock=True)
                before = level.on_hand
                if m.kind == "count":
                    after = m.quantity
                else:
                    after = before + MOVEMENT_SIGNS[m.kind] * m.quantity
                    if m.kind == "adjustment":
                        after = before + m.quantity
                if after < level.reserved:
                    # A sale of units another order holds: the shop sold what it had on the
                    # shelf; we keep the ledger honest and floor at the reserved units.
                    raise ValidationError(
                        "quantity",
                        m.quantity,
                        f"at most {before - level.reserved} units out of {m.location_id} "
                        f"for {m.sku} ({level.reserved} of its {before} are reserved)",
                    )
                level.on_hand = after
                level.updated_at = self.clock()
                row.on_hand_change = after - before
                row.on_hand_after, row.reserved_after = after, level.reserved
        except IntegrityError:
            if self._recorded(m.key):
                return False  # the movement key is in the ledger already: applied before
            if retried:
                raise
            # Another writer created this SKU's level at the same moment: go again.
            return self._apply_one(m, retried=True)
        return True

    def _recorded(self, key: str) -> bool:
        with self.store.session() as session:
            found = session.scalars(
                select(StockMovement.id).where(StockMovement.movement_key == key)
            ).first()
            return found is not None

    # --- reservations ----------------------------------------------------------------

    def reserve(
        self,
        sku: str,
        quantity: int,
        *,
        location: str,
        key: str,
        ttl: timedelta = DEFAULT_TTL,
        channel: str | None = None,
        order_ref: str | None = None,
    ) -> dict[str, Any]:
        """Hold ``quantity`` units at ``location`` until ``ttl`` from now, once per ``key``.

        Raises ``NotAvailableError`` (409) when fewer units are available; a retried call
        with the same key returns the first reservation (``duplicate: true``).
        """
        _positive("quantity", quantity)
        if not key or len(key) > 200:
            raise ValidationError("key", key, "1 to 200 characters naming the reservation")
        if ttl <= timedelta(0) or ttl > MAX_TTL:
            raise ValidationError("ttl", str(ttl), "more than 0 seconds and at most 30 days")
        granted = self._try_reserve(sku, quantity, location, key, ttl, channel, order_ref)
        if granted is None:
            # Expired holds still count until swept: sweep this SKU's, then try once more.
            self.expire_due(sku=sku)
            granted = self._try_reserve(sku, quantity, location, key, ttl, channel, order_ref)
        if granted is None:
            level = self.level(location, sku)
            raise NotAvailableError(sku, quantity, level["available"], location)
        return granted

    def _try_reserve(
        self,
        sku: str,
        quantity: int,
        location: str,
        key: str,
        ttl: timedelta,
        channel: str | None,
        order_ref: str | None,
    ) -> dict[str, Any] | None:
        for attempt in range(LOCKED_RETRIES + 1):
            try:
                return self._grant(sku, quantity, location, key, ttl, channel, order_ref)
            except OperationalError as exc:
                # SQLite's busy timeout ran out behind other writers (a loaded machine):
                # nothing was written, so asking again is safe.
                if "locked" not in str(exc.orig) or attempt == LOCKED_RETRIES:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return None  # unreachable: the last attempt returns or raises

    def _grant(
        self,
        sku: str,
        quantity: int,
        location: str,
        key: str,
        ttl: timedelta,
        channel: str | None,
        order_ref: str | None,
    ) -> dict[str, Any] | None:
        """One transaction of Core statements (this is the hot path): grant, hold, ledger."""
        now = self.clock()
        held: dict[str, Any] = {
            "reservation_key": key,
            "location_id": location,
            "sku": sku,
            "quantity": quantity,
            "channel": channel,
            "order_ref": order_ref,
            "status": "active",
            "expires_at": now + ttl,
            "created_at": now,
            "updated_at": now,
        }
        try:
            if self.store.engine.dialect.name == "postgresql":
                with self.store.engine.begin() as con:
                    one = con.execute(
                        _GRANT_HOLD_LEDGER,
                        {
                            "q": quantity,
                            "now": now,
                            "location": location,
                            "sku": sku,
                            "key": key,
                            "channel": channel,
                            "order_ref": order_ref,
                            "expires": held["expires_at"],
                            "movement_key": f"reserve:{key}",
                        },
                    ).first()
                if one is None:
                    return None
                return _granted(held)
            with self.store.engine.begin() as con:
                # The write comes first, so SQLite takes its write lock before reading.
                after = con.execute(
                    _GRANT, {"b_location": location, "b_sku": sku, "b_q": quantity, "b_now": now}
                ).first()
                if after is None:
                    return None
                con.execute(insert(_RESERVATIONS), held)
                con.execute(
                    insert(_MOVEMENTS),
                    {
                        "movement_key": f"reserve:{key}",
                        "location_id": location,
                        "sku": sku,
                        "kind": "reserve",
                        "on_hand_change": 0,
                        "reserved_change": quantity,
                        "on_hand_after": int(after[0]),
                        "reserved_after": int(after[1]),
                        "source": "reservations",
                        "reference": key,
                        "occurred_at": now,
                        "recorded_at": now,
                    },
                )
        except IntegrityError:
            # The key was used before (a retry): the first reservation stands, rolled back here.
            with self.store.session() as session:
                existing = self._reservation(session, key)
            if existing is None:
                raise
            return {**existing, "duplicate": True}
        return _granted(held)

    def release(self, key: str, *, reason: str = "released") -> dict[str, Any]:
        """Give an active reservation's units back (``released``, or ``expired``)."""
        return self._finish(key, reason)

    def fulfil(self, key: str) -> dict[str, Any]:
        """The reserved units leave: on hand and reserved both go down."""
        return self._finish(key, "fulfilled")

    def _finish(self, key: str, status: str) -> dict[str, Any]:
        now = self.clock()
        with self.store.session() as session:
            # One conditional write first (SQLite's write lock before any read): of two
            # callers finishing the same reservation, exactly one changes it.
            finished = session.execute(
                update(StockReservation)
                .where(StockReservation.reservation_key == key, StockReservation.status == "active")
                .values(status=status, updated_at=now)
                .returning(StockReservation.id)
            ).first()
            held = session.scalars(
                select(StockReservation).where(StockReservation.reservation_key == key)
            ).first()
            if held is None:
                raise NotFoundError(f"no reservation with key {key!r}")
            if finished is None:
                return {**reservation_dict(held), "changed": False}
            out = held.quantity if status == "fulfilled" else 0
            after = session.execute(
                update(StockLevel)
                .where(StockLevel.location_id == held.location_id, StockLevel.sku == held.sku)
                .values(
                    reserved=StockLevel.reserved - held.quantity,
                    on_hand=StockLevel.on_hand - out,
                    updated_at=now,
                )
                .returning(StockLevel.on_hand, StockLevel.reserved)
            ).one()
            kind = {"fulfilled": "fulfil", "expired": "expire"}.get(status, "release")
            session.add(
                self._ledger(
                    f"{kind}:{key}", held.location_id, held.sku, kind, -out, -held.quantity, after
                )
            )
            return {**reservation_dict(held), "changed": True}

    def expire_due(self, *, sku: str | None = None, now: datetime | None = None) -> int:
        """Release every active reservation past its expiry; returns how many."""
        now = now or self.clock()
        with self.store.session() as session:
            query = select(StockReservation.reservation_key).where(
                StockReservation.status == "active", StockReservation.expires_at <= now
            )
            if sku is not None:
                query = query.where(StockReservation.sku == sku)
            keys = list(session.scalars(query))
        return sum(1 for key in keys if self._finish(key, "expired")["changed"])

    def reservations(
        self, *, sku: str | None = None, status: str | None = "active", limit: int = 100
    ) -> list[dict[str, Any]]:
        with self.store.session() as session:
            query = select(StockReservation).order_by(StockReservation.id.desc()).limit(limit)
            if sku is not None:
                query = query.where(StockReservation.sku == sku)
            if status is not None:
                query = query.where(StockReservation.status == status)
            return [reservation_dict(r) for r in session.scalars(query)]

    # --- reading ---------------------------------------------------------------------

    def level(self, location_id: str, sku: str) -> dict[str, Any]:
        with self.store.session() as session:
            row = session.get(StockLevel, (location_id, sku))
            if row is None:
                return level_dict(
                    StockLevel(
                        location_id=location_id, sku=sku, on_hand=0, reserved=0, safety_stock=0
                    )
                )
            return level_dict(row)

    def levels(
        self, sku: str | None = None, *, locations: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Levels with each location's kind and available units, most available first."""
        with self.store.session() as session:
            query = select(StockLevel, StockLocation).join(
                StockLocation, StockLocation.location_id == StockLevel.location_id
            )
            if sku is not None:
                query = query.where(StockLevel.sku == sku)
            if locations is not None:
                query = query.where(StockLevel.location_id.in_(list(locations)))
            rows = [
                {**level_dict(level), "kind": loc.kind, "name": loc.name}
                for level, loc in session.execute(query)
            ]
        return sorted(rows, key=lambda r: (-r["available"], r["location_id"], r["sku"]))

    def by_location(self) -> list[dict[str, Any]]:
        """Per location: SKUs stocked, units on hand, reserved and available (one query)."""
        levels, places = _LEVELS, cast(Table, StockLocation.__table__)
        query = (
            select(
                places.c.location_id,
                places.c.name,
                places.c.kind,
                func.count(levels.c.sku),
                func.coalesce(func.sum(levels.c.on_hand), 0),
                func.coalesce(func.sum(levels.c.reserved), 0),
                func.coalesce(func.sum(_AVAILABLE), 0),
            )
            .select_from(places.outerjoin(levels, levels.c.location_id == places.c.location_id))
            .group_by(places.c.location_id, places.c.name, places.c.kind)
            .order_by(places.c.kind, places.c.location_id)
        )
        with self.store.engine.connect() as con:
            return [
                {
                    "location_id": r[0],
                    "name": r[1],
                    "kind": r[2],
                    "skus": int(r[3]),
                    "on_hand": int(r[4]),
                    "reserved": int(r[5]),
                    "available": int(r[6]),
                }
                for r in con.execute(query)
            ]

    def available_by_kind(self, skus: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
        """Available units per SKU and location kind, of every SKU with a level (or ``skus``).

        Available-to-promise for a whole catalogue: each level counts
        ``max(0, on hand - reserved - safety stock)``, so one location's shortfall never
        hides another's stock. Read from ``stock_available``, the sums the store's triggers
        keep in the transaction that changes a level (``rev0020_stock_available``): one
        row per SKU and kind, not every level.
        """
        table = cast(Table, StockAvailable.__table__)
        query = select(table.c.sku, table.c.kind, table.c.units).where(table.c.levels > 0)
        if skus is not None:
            query = query.where(table.c.sku.in_(list(skus)))
        out: dict[str, dict[str, int]] = {}
        with self.store.engine.connect() as con:
            # Iterated, not ``.all()``: 0.13 s against 0.35 s for 200,000 rows.
            for sku, kind, units in con.execute(query):
                found = out.get(sku)
                if found is None:
                    out[sku] = found = {}
                found[kind] = units
        return out

    def movements(
        self, *, after: int = 0, sku: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Ledger rows after id ``after``, in order."""
        with self.store.session() as session:
            query = (
                select(StockMovement)
                .where(StockMovement.id > after)
                .order_by(StockMovement.id)
                .limit(limit)
            )
            if sku is not None:
                query = query.where(StockMovement.sku == sku)
            return [movement_dict(m) for m in session.scalars(query)]

    # --- helpers ---------------------------------------------------------------------

    def _level(
        self, session: Session, location_id: str, sku: str, *, create: bool, lock: bool = False
    ) -> StockLevel:
        query = select(StockLevel).where(
            StockLevel.location_id == location_id, StockLevel.sku == sku
        )
        if lock:
            query = query.with_for_update()
        level = session.scalars(query).first()
        if level is None:
            if not create:
                raise NotFoundError(f"no stock of {sku!r} at {location_id!r}")
            level = StockLevel(
                location_id=location_id,
                sku=sku,
                on_hand=0,
                reserved=0,
                safety_stock=0,
                updated_at=self.clock(),
            )
            session.add(level)
            session.flush()
        return level

    @staticmethod
    def _reservation(session: Session, key: str) -> dict[str, Any] | None:
        row = session.scalars(
            select(StockReservation).where(StockReservation.reservation_key == key)
        ).first()
        return reservation_dict(row) if row is not None else None

    def _ledger(
        self,
        key: str,
        location: str,
        sku: str,
        kind: str,
        on_hand_change: int,
        reserved_change: int,
        after: Any,
    ) -> StockMovement:
        now = self.clock()
        return StockMovement(
            movement_key=key,
            location_id=location,
            sku=sku,
            kind=kind,
            on_hand_change=on_hand_change,
            reserved_change=reserved_change,
            on_hand_after=int(after[0]),
            reserved_after=int(after[1]),
            source="reservations",
            reference=key,
            occurred_at=now,
            recorded_at=now,
        )


def _granted(held: dict[str, Any]) -> dict[str, Any]:
    """What ``reserve`` answers for a new hold (``held`` as the reservation row)."""
    return {
        "key": held["reservation_key"],
        "location_id": held["location_id"],
        "sku": held["sku"],
        "quantity": held["quantity"],
        "channel": held["channel"],
        "order_ref": held["order_ref"],
        "status": "active",
        "expires_at": held["expires_at"].isoformat(),
        "created_at": held["created_at"].isoformat(),
        "duplicate": False,
    }


def _is_hhmm(text: object) -> bool:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return False
    hours, minutes = text[:2], text[3:]
    return hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def location_dict(row: StockLocation) -> dict[str, Any]:
    return {
        "location_id": row.location_id,
        "name": row.name,
        "kind": row.kind,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "timezone": row.timezone,
        "opens": row.opens,
        "closes": row.closes,
        "capacity_per_day": row.capacity_per_day,
        "ship_cost": row.ship_cost,
        "pickup": row.pickup,
    }


def level_dict(row: StockLevel) -> dict[str, Any]:
    available = max(0, row.on_hand - row.reserved - row.safety_stock)
    return {
        "location_id": row.location_id,
        "sku": row.sku,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "safety_stock": row.safety_stock,
        "available": available,
    }


def reservation_dict(row: StockReservation) -> dict[str, Any]:
    return {
        "key": row.reservation_key,
        "location_id": row.location_id,
        "sku": row.sku,
        "quantity": row.quantity,
        "channel": row.channel,
        "order_ref": row.order_ref,
        "status": row.status,
        "expires_at": _iso(row.expires_at),
        "created_at": _iso(row.created_at),
    }


def movement_dict(row: StockMovement) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.movement_key,
        "location_id": row.location_id,
        "sku": row.sku,
        "kind": row.kind,
        "on_hand_change": row.on_hand_change,
        "reserved_change": row.reserved_change,
        "on_hand_after": row.on_hand_after,
        "reserved_after": row.reserved_after,
        "source": row.source,
        "reference": row.reference,
        "occurred_at": _iso(row.occurred_at),
    }
