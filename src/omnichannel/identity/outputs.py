"""Writing the identity graph's tables: whole (a full run) or the re-resolved part only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnichannel.identity.components import Scratch
from omnichannel.identity.observations import LINKAGE
from omnichannel.warehouse import Warehouse

if TYPE_CHECKING:
    from omnichannel.identity.resolve import ScopeResult

RECORD = ["source", "record_id"]
VALUE = ["id_type", "id_value"]
OUTPUT_TABLES = ("record_profiles", "profile_identifiers", "identity_merges", "identity_refusals")


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


def rewrite(wh: Warehouse, result: ScopeResult) -> None:
    """A full run: every output table replaced."""
    wh.truncate([*OUTPUT_TABLES, "identity_observations"])
    _insert_all(wh, result)


def replace(wh: Warehouse, scratch: Scratch, scope: ir.Table, result: ScopeResult) -> None:
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
    wh.truncate(list(OUTPUT_TABLES))
    for name, table in kept.items():
        _insert(wh, name, table)
    _insert_all(wh, result)


def remember(wh: Warehouse, new: ir.Table, now: datetime) -> None:
    """Record the observations this run processed: the next incremental run's baseline."""
    _insert(wh, "identity_observations", new.mutate(resolved_at=ibis.literal(now)))


def _insert_all(wh: Warehouse, result: ScopeResult) -> None:
    _insert(wh, "record_profiles", result.record_profiles)
    _insert(wh, "profile_identifiers", result.profile_identifiers)
    _insert(wh, "identity_merges", result.merges)
    _insert(wh, "identity_refusals", result.refusals)


def _insert(wh: Warehouse, name: str, expr: ir.Table) -> None:
    spec = wh.spec(name)
    typed = expr.select(*[expr[c].cast(spec.schema[c]) for c in spec.schema.names])
    wh.con.insert(spec.name, typed)
