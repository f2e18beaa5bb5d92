"""Consent per channel, from the operational store's ``consents`` table.

A consent row's subject is a profile (``subject_type = 'profile'``) or an identifier
(``email``, ``phone``, ``wechat_openid``...) captured before the person was stitched. An
identifier's decision applies to every profile listing that identifier. Per profile and
channel the profile's own decision wins; otherwise the most recent one does. The trait
is a JSON object ``{"email": "granted", "sms": "unsubscribed"}``, NULL when nothing is
known (the demo records no consent).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy import select

from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import Consent
from omnichannel.profiles.traits.base import json_object, json_string
from omnichannel.warehouse import Warehouse

CONSENT_SCHEMA = pa.schema(
    [
        ("subject_type", pa.string()),
        ("subject_value", pa.string()),
        ("channel", pa.string()),
        ("status", pa.string()),
        ("updated_at", pa.timestamp("us")),
    ]
)


def read_consents(opstore_url: str) -> pa.Table:
    """Every current consent row of the operational store, as an Arrow table."""
    from omnichannel.opstore import open_opstore

    store = open_opstore(opstore_url)
    try:
        with store.session() as session:
            rows = session.execute(
                select(
                    Consent.subject_type,
                    Consent.subject_value,
                    Consent.channel,
                    Consent.status,
                    Consent.updated_at,
                )
            ).all()
    finally:
        store.engine.dispose()
    return consent_table(
        [
            {
                "subject_type": r.subject_type,
                "subject_value": r.subject_value,
                "channel": r.channel,
                "status": getattr(r.status, "value", r.status),
                "updated_at": r.updated_at.replace(tzinfo=None) if r.updated_at else None,
            }
            for r in rows
        ]
    )


def consent_table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CONSENT_SCHEMA)


def consent_traits(wh: Warehouse, consents: pa.Table) -> ir.Table | None:
    """``profile_id, consent`` for profiles with any decision; None when there are none."""
    if consents.num_rows == 0:
        return None
    c = ibis.memtable(consents)
    direct = c.filter(c.subject_type == PROFILE_SUBJECT)
    direct = direct.select(
        "channel", "status", "updated_at", profile_id=direct.subject_value, own=ibis.literal(1)
    )
    pi = wh.table("profile_identifiers").select("profile_id", "id_type", "id_value")
    ids = c.filter(c.subject_type != PROFILE_SUBJECT)
    via = ids.join(pi, [ids.subject_type == pi.id_type, ids.subject_value == pi.id_value])
    via = via.select("channel", "status", "updated_at", "profile_id", own=ibis.literal(0))
    both = ibis.union(direct, via, distinct=False)
    ranked = both.mutate(
        _n=ibis.row_number().over(
            group_by=["profile_id", "channel"],
            order_by=[ibis.desc(both.own), ibis.desc(both.updated_at), both.status],
        )
    )
    current = ranked.filter(ranked._n == 0)
    return current.group_by("profile_id").agg(
        consent=json_object(current, current.channel, json_string(current.status), current.channel)
    )
