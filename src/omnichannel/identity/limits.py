"""Limits: keep shared identifiers from merging people, the way Segment's rules do.

Two set-based passes, both pure Ibis:

``over_shared``
    An identifier seen on records that carry more distinct values of a higher-priority,
    limited type than that type's limit allows (a store tablet seen with 7 user ids, a
    family phone on 2 loyalty cards) can only join strangers. It is refused outright.

``enforce_limits``
    What over-sharing cannot see (chains: A -email- B -phone- C, A and C with different
    user ids) is caught on the components themselves. A component that exceeds a limit
    is rebuilt type by type, from the highest priority to the lowest, as Segment and
    Hightouch process identifiers: at each type the merges it would make are checked,
    and the identifiers of that type whose merge would break a limit are refused, so the
    lowest-priority identifier that caused a conflict is the one that gives way.

Probabilistic links (type ``linkage``) are exempt from the limits of the rules'
``linkage_exempt_limits`` (by default ``crm_id`` and ``loyalty_card``): a person's second
card or duplicate contact is exactly what a link finds, while those limits exist to stop a
*shared* identifier (a family phone on two relatives' cards) from joining people. Such a
link may put two cards on one profile; an identifier merging afterwards may not add more.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.identity.components import Progress, Scratch, connected_components
from omnichannel.identity.observations import LINKAGE

NO_TYPES: frozenset[str] = frozenset()


def over_shared(obs: ir.Table, linkage_exempt: frozenset[str] = NO_TYPES) -> ir.Table:
    """``(id_type, id_value, rule, detail, records)`` of identifiers shared past a limit.

    ``obs`` has ``source, record_id, id_type, id_value, priority, lim`` (no blocked rows).
    A link's two records holding two values of a ``linkage_exempt`` type do not count.
    """
    a = obs.view()
    b = obs.view()
    pairs = a.join(
        b,
        [a.source == b.source, a.record_id == b.record_id, b.priority < a.priority],
    ).filter(b.lim.notnull())
    if linkage_exempt:
        pairs = pairs.filter(~((a.id_type == LINKAGE) & b.id_type.isin(sorted(linkage_exempt))))
    counts = pairs.group_by(
        id_type=a.id_type,
        id_value=a.id_value,
        anchor_type=b.id_type,
        anchor_priority=b.priority,
        anchor_limit=b.lim,
    ).agg(n=b.id_value.nunique())
    over = counts.filter(counts.n > counts.anchor_limit)
    # One row per identifier: the most trusted type it conflicts on explains it best.
    ranked = over.mutate(
        rank=ibis.row_number().over(
            group_by=[over.id_type, over.id_value],
            order_by=[over.anchor_priority, over.anchor_type],
        )
    )
    first = ranked.filter(ranked.rank == 0)
    carriers = obs.group_by(["id_type", "id_value"]).agg(
        records=(obs.source + ibis.literal("\x1f") + obs.record_id).nunique()
    )
    explained = first.join(carriers, ["id_type", "id_value"])
    return explained.select(
        "id_type",
        "id_value",
        rule=ibis.literal("over_shared"),
        detail=ibis.literal("seen with ")
        + explained.n.cast("string")
        + " "
        + explained.anchor_type
        + " values; a profile holds at most "
        + explained.anchor_limit.cast("string"),
        records=explained.records.cast("int64"),
    )


def violations(
    link: ir.Table,
    groups: ir.Table,
    key: str,
    *,
    exempt: frozenset[str] = NO_TYPES,
    part: str | None = None,
) -> ir.Table:
    """``(key, id_type, n, lim)``: the most trusted limit each group breaks, one row a group.

    ``link`` has ``rid, vid, id_type, priority, lim``; ``groups`` maps ``rid`` to ``key``.
    ``exempt`` types are not counted; with ``part`` (a column of ``groups`` naming the part
    of its group a record was in before this merge) they may hold as many values as the
    fullest part already did (two cards a link put on one profile), but not more.
    """
    joined = link.join(groups, "rid")
    counts = joined.group_by([key, "id_type", "priority", "lim"]).agg(n=joined.vid.nunique())
    if exempt and part is None:
        counts = counts.filter(~counts.id_type.isin(sorted(exempt)))
    elif exempt and part is not None:
        held = joined.filter(joined.id_type.isin(sorted(exempt)))
        per_part = held.group_by([key, part, "id_type"]).agg(m=held.vid.nunique())
        fullest = per_part.group_by([key, "id_type"]).agg(most=per_part.m.max())
        with_most = counts.left_join(fullest, [key, "id_type"])
        counts = with_most.select(
            key,
            "id_type",
            "priority",
            "n",
            lim=ibis.ifelse(
                with_most.lim.notnull() & with_most.most.notnull(),
                ibis.greatest(with_most.lim, with_most.most),
                with_most.lim,
            ),
        )
    over = counts.filter(counts.lim.notnull() & (counts.n > counts.lim))
    ranked = over.mutate(
        rank=ibis.row_number().over(group_by=over[key], order_by=[over.priority, over.id_type])
    )
    return ranked.filter(ranked.rank == 0).select(key, "id_type", "n", "lim")


def enforce_limits(
    scratch: Scratch,
    link: ir.Table,
    progress: Progress | None = None,
    linkage_exempt: frozenset[str] = NO_TYPES,
) -> tuple[ir.Table, ir.Table]:
    """Split components that break a limit; returns ``(rid, comp)`` and the refusals.

    ``link`` holds the linking observations (``rid, vid, id_type, id_value, priority,
    lim``) of the offending components only, so the work is proportional to the conflicts.
    Links merge past the limits of ``linkage_exempt`` types (see the module docstring).
    """
    live = scratch.keep(link)
    lab = scratch.keep(live.select("rid").distinct().mutate(comp=ibis._.rid))
    types = _bridging_types(live)
    refused: list[ir.Table] = []
    after_links = False  # a link may have put several values of an exempt type on a part
    for step, id_type in enumerate(types):
        if progress is not None:
            progress("limits", step, len(types))
        of_type = live.filter(live.id_type == id_type)
        touching = of_type.join(lab, "rid").select("vid", "comp").distinct()
        spread = touching.group_by("vid").agg(k=touching.comp.nunique())
        bridges = scratch.keep(touching.semi_join(spread.filter(spread.k >= 2), "vid"))
        if not scratch.rows(bridges):
            scratch.drop(bridges)
            continue
        merged = connected_components(scratch, bridges.select(a=bridges.comp, b=bridges.vid))
        grouped = lab.left_join(merged, lab.comp == merged.node)
        lab2 = scratch.keep(grouped.select("rid", "comp", grp=grouped.label.coalesce(grouped.comp)))
        if id_type == LINKAGE:
            found = violations(live, lab2.select("rid", "grp"), "grp", exempt=linkage_exempt)
            after_links = True
        elif after_links:
            parts = lab2.select("rid", "grp", "comp")
            found = violations(live, parts, "grp", exempt=linkage_exempt, part="comp")
        else:
            found = violations(live, lab2.select("rid", "grp"), "grp")
        bad = scratch.keep(found)
        if not scratch.rows(bad):  # every merge of this type holds: keep them all
            new_lab = scratch.keep(lab2.select("rid", comp=lab2.grp))
            scratch.drop(bridges, merged, lab2, bad, lab)
            lab = new_lab
            continue
        refusals = _refused_bridges(bridges, lab2, bad, live, id_type)
        kept_refusals = scratch.keep(refusals)
        refused.append(kept_refusals)
        reverted = lab2.left_join(bad.select("grp", flag=ibis.literal(1)), "grp")
        new_lab = scratch.keep(
            reverted.select(
                "rid", comp=ibis.ifelse(reverted.flag.isnull(), reverted.grp, reverted.comp)
            )
        )
        new_live = scratch.keep(live.anti_join(kept_refusals, "vid"))
        scratch.drop(bridges, merged, lab2, bad, lab, live)
        lab, live = new_lab, new_live
    if progress is not None:
        progress("limits", len(types), len(types))
    if refused:
        refusals_all = ibis.union(*refused, distinct=False)
    else:
        refusals_all = live.filter(ibis.literal(False)).select(
            "vid",
            "id_type",
            "id_value",
            rule=ibis.literal("limit"),
            detail=ibis.literal(""),
            records=ibis.literal(0, "int64"),
        )
    return lab, refusals_all


def _bridging_types(live: ir.Table) -> list[str]:
    """The types, most trusted first, with a value on two records or more: only they can
    merge anything. Groups only grow and ``live`` only shrinks from type to type, so a
    value on one record never bridges two groups later either."""
    spread = live.group_by(["id_type", "priority", "vid"]).agg(k=live.rid.nunique())
    shared = spread.filter(spread.k >= 2).select("id_type", "priority").distinct()
    return list(shared.order_by(["priority", "id_type"]).id_type.to_pyarrow().to_pylist())


def _refused_bridges(
    bridges: ir.Table, lab2: ir.Table, bad: ir.Table, live: ir.Table, id_type: str
) -> ir.Table:
    """The bridges of ``id_type`` inside groups that broke a limit, with the reason."""
    comp_grp = lab2.select("comp", "grp").distinct()
    hit = bridges.join(comp_grp, "comp").join(bad.rename(bad_type="id_type"), "grp")
    reasons = hit.group_by("vid").agg(
        bad_type=hit.bad_type.min(), n=hit.n.max(), lim=hit.lim.min(), comps=hit.comp.nunique()
    )
    values = (
        live.filter(live.id_type == id_type)
        .group_by("vid")
        .agg(id_value=live.id_value.min(), records=live.rid.nunique())
    )
    out = reasons.join(values, "vid")
    return out.select(
        "vid",
        id_type=ibis.literal(id_type),
        id_value=out.id_value,
        rule=ibis.literal("limit"),
        detail=ibis.literal("would join ")
        + out.comps.cast("string")
        + " profiles into one holding "
        + out.n.cast("string")
        + " "
        + out.bad_type
        + " values; limit "
        + out.lim.cast("string"),
        records=out.records.cast("int64"),
    )
