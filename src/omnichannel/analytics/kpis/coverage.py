"""Channel coverage: the share of profiles a channel can reach (an address and consent).

A profile is reachable on a channel when the identity graph links it to an identifier of
one of the channel's address types (email for email, phone for SMS, a WeChat OpenID...,
``channels/addresses.py``'s rule) and its latest consent decision on the channel,
captured on the profile or on any of its identifiers, is not ``denied`` or
``unsubscribed``; a channel in ``consent.require_opt_in`` needs a ``granted`` one.
Channels whose addresses are not identifiers (push tokens from events, webhook endpoints)
are reported as no data, naming why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.warehouse import Warehouse

REFUSED = ("denied", "unsubscribed")


def address_types() -> dict[str, tuple[str, ...]]:
    """Every registered channel and the identifier types its addresses are."""
    from omnichannel.channels import registry

    found: dict[str, tuple[str, ...]] = {}
    for name in registry.CHANNELS:
        adapter = registry.adapter_class(name)
        # An adapter that looks its addresses up elsewhere (push tokens) has none here.
        own = hasattr(adapter, "lookup_addresses")
        found[name] = () if own else tuple(getattr(adapter, "address_types", ()) or ())
    return found


def consent_table(rows: Sequence[Any]) -> ir.Table:
    """The opstore's consents as an Ibis memtable (``subject_type, subject_value,
    channel, status, updated_at`` naive UTC)."""

    def naive(at: datetime | None) -> datetime:
        if at is None:
            return datetime(1970, 1, 1)
        return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at

    table = pa.table(
        {
            "c_type": pa.array([str(r.subject_type) for r in rows], pa.string()),
            "c_value": pa.array([str(r.subject_value) for r in rows], pa.string()),
            "c_channel": pa.array([str(r.channel) for r in rows], pa.string()),
            "c_status": pa.array([str(r.status) for r in rows], pa.string()),
            "c_at": pa.array([naive(r.updated_at) for r in rows], pa.timestamp("us")),
        }
    )
    return ibis.memtable(table)


def coverage_rows(
    wh: Warehouse,
    types: dict[str, tuple[str, ...]],
    consents: ir.Table,
    opt_in: Sequence[str] = (),
) -> ir.Table:
    """``channel, addressable, reachable``: one Ibis expression over every channel with
    identifier addresses."""
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked")
    pairs = [(ch, t) for ch, ts in sorted(types.items()) for t in ts]
    if not pairs:
        return ibis.memtable(
            pa.table(
                {
                    "channel": pa.array([], pa.string()),
                    "addressable": pa.array([], pa.int64()),
                    "reachable": pa.array([], pa.int64()),
                }
            )
        )
    wanted = ibis.memtable(
        pa.table({"w_channel": [p[0] for p in pairs], "w_type": [p[1] for p in pairs]})
    )
    addressed = linked.join(wanted, linked.id_type == wanted.w_type)
    addressed = addressed.select(channel=addressed.w_channel, profile_id=addressed.profile_id)
    addressed = addressed.distinct()
    # Every decision on a profile, through the profile itself or one of its identifiers.
    on_ids = consents.join(
        linked, [consents.c_type == linked.id_type, consents.c_value == linked.id_value]
    ).select("c_channel", "c_status", "c_at", d_profile=linked.profile_id)
    on_profile = consents.filter(consents.c_type == "profile").select(
        "c_channel", "c_status", "c_at", d_profile=consents.c_value
    )
    decisions = ibis.union(on_ids, on_profile, distinct=False)
    latest_w = ibis.window(
        group_by=[decisions.d_profile, decisions.c_channel],
        order_by=[decisions.c_at.desc(), decisions.c_status],
    )
    decisions = decisions.mutate(_rank=ibis.row_number().over(latest_w))
    latest = decisions.filter(decisions._rank == 0).select("d_profile", "c_channel", "c_status")
    joined = addressed.left_join(
        latest,
        [addressed.profile_id == latest.d_profile, addressed.channel == latest.c_channel],
    )
    status = joined.c_status.fill_null("")
    needs_opt_in = joined.channel.isin(list(opt_in)) if opt_in else ibis.literal(False)
    ok = ~status.isin(REFUSED) & (~needs_opt_in | (status == "granted"))
    totals = joined.group_by("channel").agg(
        addressable=joined.profile_id.nunique(),
        reachable=ok.ifelse(joined.profile_id, ibis.null()).nunique(),
    )
    return totals.order_by("channel")


def channel_coverage(
    wh: Warehouse, consents: ir.Table, opt_in: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Per registered channel: profiles, addressable, reachable and the coverage share."""
    types = address_types()
    profiles = int(wh.table("profiles").count().to_pyarrow().as_py())
    rows = {
        r["channel"]: r
        for r in coverage_rows(wh, {c: t for c, t in types.items() if t}, consents, opt_in)
        .to_pyarrow()
        .to_pylist()
    }
    out: list[dict[str, Any]] = []
    for channel, kinds in sorted(types.items()):
        if not kinds:
            out.append(
                {
                    "channel": channel,
                    "address_types": [],
                    "profiles": profiles,
                    "addressable": None,
                    "reachable": None,
                    "value": None,
                    "status": "no_data",
                    "reason": f"{channel} addresses are not identity-graph identifiers "
                    "(device tokens, endpoints): not counted",
                }
            )
            continue
        row = rows.get(channel, {"addressable": 0, "reachable": 0})
        out.append(
            {
                "channel": channel,
                "address_types": list(kinds),
                "profiles": profiles,
                "addressable": int(row["addressable"] or 0),
                "reachable": int(row["reachable"] or 0),
                "value": round(int(row["reachable"] or 0) / profiles, 6) if profiles else None,
                "status": "ok" if profiles else "no_data",
                "reason": None if profiles else "no profiles built (omni profiles build)",
            }
        )
    return out
