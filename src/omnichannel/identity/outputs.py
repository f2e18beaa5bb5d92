"""Writing the identity graph's tables: whole (a full run) or the re-resolved part only.

Either way the four output tables are written aside and swapped in with one transaction
(``Warehouse.replace_all``), so a reader (the Profile API's index, a profile build) never
sees them empty or half-written. ``record_profiles`` and ``profile_identifiers`` are written
sorted by ``profile_id``, so reading one profile's records or identifiers skips the
other row groups (DuckDB) or uses an index (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnichannel.identity.components import Scratch
from omnichannel.identity.observations import LINKAGE
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.replace import Replacement

if TYPE_CHECKING:
    from omnichannel.identity.resolve import ScopeResult

RECORD = ["source", "record_id"]
Written = Callable[[str], None]
VALUE = ["id_type", "id_value"]
OUTPUT_TABLES = ("record_profiles", "profile_identifiers", "identity_merges", "identity_refusals")
# Physical order and PostgreSQL index of each output table.
LAYOUT: dict[str, tuple[str, ...]] = {
    "record_profiles": ("profile_id", "source", "record_id"),
    "profile_identifiers": ("profile_id", "id_type", "id_value"),
    "identity_merges": ("profile_id",),
    "identity_refusals": ("id_type", "id_value"),
}


def profile_identifiers(obs: ir.Table, named: ir.Table, refusals: ir.Table) -> ir.Table:
    """Each identifier under each profile whose records carry it, linked or refused.

    Probabilistic links are not identifiers of the person (``identity_merges`` and
    ``identity_refusals`` show them), so they are left out.
    """
    obs = obs.filter(obs.id_type != LINKAGE)
    joined = obs.join(named.select("rid", "profile_id"), "rid")
    grouped = joined.group_by(["profile_id", *VALUE]).agg(
        records=joined.rid.nunique(),
        first_seen=joined.observed_at.min(),
        last_seen=joined.observed_at.max(),
    )
    reasons = refusals.select(*VALUE, "rule")
    out = grouped.left_join(reasons, VALUE)
    return out.select(
        "profile_id",
        "id_type",
        "id_value",
        status=out.rule.coalesce(ibis.literal("linked")),
        records=out.records.cast("int64"),
        first_seen=out.first_seen,
        last_seen=out.last_seen,
    )


def merges(link: ir.Table, named: ir.Table) -> ir.Table:
    """Every record an identifier joined to at least one other record of its profile."""
    joined = link.join(named.select("rid", "profile_id"), "rid")
    shared = joined.group_by(["profile_id", "vid"]).agg(n=joined.rid.nunique())
    joins = joined.semi_join(shared.filter(shared.n >= 2), ["profile_id", "vid"])
    return joins.select(
        "profile_id",
        "id_type",
        "id_value",
        "source",
        "record_id",
        rule=ibis.ifelse(
            joins.id_type == LINKAGE, ibis.literal(LINKAGE), ibis.literal("shared ") + joins.id_type
        ),
        merged_at=joins.observed_at,
    )


def rewrite(wh: Warehouse, result: ScopeResult, *, written: Written | None = None) -> None:
    """A full run: every output table replaced."""
    wh.truncate(["identity_observations"])
    _swap(wh, _results(result), written)


def replace(
    wh: Warehouse,
    scratch: Scratch,
    scope: ir.Table,
    result: ScopeResult,
    *,
    written: Written | None = None,
) -> None:
    """An incremental run: rows of the re-resolved records, profiles and values replaced."""
    records = scope.select(*RECORD).distinct()
    values = scope.select(*VALUE).distinct()
    rp = wh.table("record_profiles")
    old_profiles = rp.semi_join(records, RECORD).select("profile_id").distinct()
    kept = {
        "record_profiles": scratch.keep(rp.anti_join(records, RECORD)),
        "profile_identifiers": scratch.keep(
            wh.table("profile_identifiers").anti_join(old_profiles, "profile_id")
        ),
        "identity_merges": scratch.keep(
            wh.table("identity_merges").anti_join(old_profiles, "profile_id")
        ),
        "identity_refusals": scratch.keep(wh.table("identity_refusals").anti_join(values, VALUE)),
    }
    new = _results(result)
    _swap(wh, {name: _union(kept[name], new[name], name) for name in OUTPUT_TABLES}, written)


def remember(wh: Warehouse, new: ir.Table, now: datetime) -> None:
    """Record the observations this run processed: the next incremental run's baseline."""
    wh.append("identity_observations", new.mutate(resolved_at=ibis.literal(now)))


def _results(result: ScopeResult) -> dict[str, ir.Table]:
    return {
        "record_profiles": result.record_profiles,
        "profile_identifiers": result.profile_identifiers,
        "identity_merges": result.merges,
        "identity_refusals": result.refusals,
    }


def _union(kept: ir.Table, new: ir.Table, name: str) -> ir.Table:
    schema = Warehouse.spec(name).schema
    typed = [t.select(*[t[c].cast(schema[c]).name(c) for c in schema.names]) for t in (kept, new)]
    return ibis.union(*typed, distinct=False)


def _swap(wh: Warehouse, tables: dict[str, ir.Table], written: Written | None) -> None:
    wh.replace_all(
        [
            Replacement(
                name,
                rows,
                Warehouse.spec(name).schema,
                order_by=LAYOUT[name],
                index=LAYOUT[name][:1],
            )
            for name, rows in tables.items()
        ],
        written=written,
    )
