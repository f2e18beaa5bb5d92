"""Many stock movements in one transaction: how a stock file is applied quickly.

``Inventory.apply`` hands a file's movements here first. In one transaction the keys
already in the ledger are skipped, each movement is checked against the level as the
movements before it left it (time order), and the levels and ledger rows are written
together. If another writer got in the way (a key it wrote at the same moment, SQLite's
lock wait running out), nothing of the batch is kept and ``Inventory.apply`` applies the
movements one transaction each, which gives the same result, only slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError, OperationalError

from omnichannel.errors import ValidationError
from omnichannel.opstore.models import StockLevel, StockLocation, StockMovement

if TYPE_CHECKING:
    from omnichannel.commerce.inventory import ApplyReport, Inventory, Movement

CHUNK = 500


def apply_batch(stock: Inventory, ordered: Sequence[Movement], report: ApplyReport) -> bool:
    """Apply ``ordered`` (time order, checked) in one transaction; False: nothing was kept."""
    from omnichannel.commerce.inventory import MOVEMENT_SIGNS

    now = stock.clock()
    try:
        with stock.store.session() as session:
            keys = [m.key for m in ordered]
            seen: set[str] = set()
            for i in range(0, len(keys), CHUNK):
                part = keys[i : i + CHUNK]
                seen |= set(
                    session.scalars(
                        select(StockMovement.movement_key).where(
                            StockMovement.movement_key.in_(part)
                        )
                    )
                )
            locations = set(session.scalars(select(StockLocation.location_id)))
            pairs = sorted({(m.location_id, m.sku) for m in ordered})
            levels: dict[tuple[str, str], StockLevel] = {}
            for i in range(0, len(pairs), CHUNK):
                query = select(StockLevel).where(
                    tuple_(StockLevel.location_id, StockLevel.sku).in_(pairs[i : i + CHUNK])
                )
                for level in session.scalars(query.with_for_update()):
                    levels[(level.location_id, level.sku)] = level
            for m in ordered:
                if m.key in seen:
                    report.already_applied += 1
                    continue
                if m.location_id not in locations:
                    report.refused.append(
                        {
                            "key": m.key,
                            "reason": f"location {m.location_id!r} is not a stock location",
                        }
                    )
                    continue
                found = levels.get((m.location_id, m.sku))
                if found is None:
                    found = StockLevel(
                        location_id=m.location_id,
                        sku=m.sku,
                        on_hand=0,
                        reserved=0,
                        safety_stock=0,
                        updated_at=now,
                    )
                    session.add(found)
                    levels[(m.location_id, m.sku)] = found
                level = found
                before = level.on_hand
                if m.kind == "count":
                    after = m.quantity
                elif m.kind == "adjustment":
                    after = before + m.quantity
                else:
                    after = before + MOVEMENT_SIGNS[m.kind] * m.quantity
                if after < level.reserved:
                    error = ValidationError(
                        "quantity",
                        m.quantity,
                        f"at most {before - level.reserved} units out of {m.location_id} "
                        f"for {m.sku} ({level.reserved} of its {before} are reserved)",
                    )
                    report.refused.append({"key": m.key, "reason": str(error)})
                    continue
                level.on_hand, level.updated_at = after, now
                session.add(
                    StockMovement(
                        movement_key=m.key,
                        location_id=m.location_id,
                        sku=m.sku,
                        kind=m.kind,
                        on_hand_change=after - before,
                        reserved_change=0,
                        on_hand_after=after,
                        reserved_after=level.reserved,
                        source=m.source,
                        reference=m.reference,
                        occurred_at=m.occurred_at or now,
                        recorded_at=now,
                    )
                )
                seen.add(m.key)
                report.applied += 1
    except (IntegrityError, OperationalError):
        return False
    return True
