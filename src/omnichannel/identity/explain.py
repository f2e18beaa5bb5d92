"""``explain``: which profile an identifier belongs to, and why."""

from __future__ import annotations

from typing import Any

from omnichannel.errors import ValidationError
from omnichannel.warehouse import Warehouse

MAX_ROWS = 200


def parse_identifier(text: str) -> tuple[str, str]:
    """``"email:ann@example.cn"`` -> ``("email", "ann@example.cn")``; emails lower-cased."""
    id_type, sep, value = text.partition(":")
    if not sep or not id_type.strip() or not value.strip():
        raise ValidationError("identifier", text, "TYPE:VALUE, e.g. email:ann@example.cn")
    id_type, value = id_type.strip(), value.strip()
    return id_type, value.lower() if id_type == "email" else value


def explain(wh: Warehouse, id_type: str, id_value: str) -> dict[str, Any]:
    """The profiles holding an identifier, their identifiers, merges and any refusal.

    Example::

        explain(wh, "phone", "+8613800000000")
        # {"identifier": {...}, "refusals": [...], "profiles": [{"profile_id": "p_...",
        #   "records": [...], "identifiers": [...], "merges": [...]}]}
    """
    pi = wh.table("profile_identifiers")
    holders = pi.filter(pi.id_type == id_type, pi.id_value == id_value)
    ids = sorted({r["profile_id"] for r in holders.select("profile_id").to_pyarrow().to_pylist()})
    refusals_t = wh.table("identity_refusals")
    refusals = (
        refusals_t.filter(refusals_t.id_type == id_type, refusals_t.id_value == id_value)
        .select("rule", "detail", "records", "refused_at")
        .to_pyarrow()
        .to_pylist()
    )
    if not ids and not refusals:
        raise ValidationError(
            "identifier",
            f"{id_type}:{id_value}",
            "an identifier the identity graph has seen (run `omni identity resolve` first)",
        )
    status = "linked"
    if refusals:
        status = str(refusals[0]["rule"])
    return {
        "identifier": {"id_type": id_type, "id_value": id_value, "status": status},
        "refusals": refusals,
        "profiles": [_profile(wh, pid) for pid in ids],
    }


def _profile(wh: Warehouse, profile_id: str) -> dict[str, Any]:
    rp = wh.table("record_profiles")
    records = (
        rp.filter(rp.profile_id == profile_id)
        .order_by(["first_seen", "source", "record_id"])
        .select("source", "record_id", "first_seen")
    )
    pi = wh.table("profile_identifiers")
    identifiers = (
        pi.filter(pi.profile_id == profile_id)
        .order_by(["id_type", "id_value"])
        .select("id_type", "id_value", "status", "records", "first_seen", "last_seen")
    )
    m = wh.table("identity_merges")
    merges = (
        m.filter(m.profile_id == profile_id)
        .order_by(["merged_at", "id_type", "id_value", "source", "record_id"])
        .select("id_type", "id_value", "source", "record_id", "rule", "merged_at")
    )
    n_records = int(records.count().to_pyarrow().as_py())
    n_merges = int(merges.count().to_pyarrow().as_py())
    return {
        "profile_id": profile_id,
        "record_count": n_records,
        "records": records.limit(MAX_ROWS).to_pyarrow().to_pylist(),
        "identifiers": identifiers.limit(MAX_ROWS).to_pyarrow().to_pylist(),
        "merge_count": n_merges,
        "merges": merges.limit(MAX_ROWS).to_pyarrow().to_pylist(),
    }
