"""Who an event is about, for journeys: its identifiers, mapped to profiles in one query.

A journey enrolment's ``subject`` is the person's profile id when their identifiers are
linked to one, else the entry event's own identifier (``user_id:42``, then
``anonymous_id:abc``), so someone who has no profile yet can still enter, wait and
convert. The same person's later events must reach such an enrolment: every event is
therefore also known by its identifier subjects (its ``aliases``), and, when someone is
enrolled under an identifier, by every ``user_id`` / ``anonymous_id`` their profile links
(``identifier_subjects``).

Identifiers are typed as profiles read them (the identity rules' ``source_id_types``: a
store's ``user_id`` column may be its ``member_id``), and only *linked* identifiers
count, as everywhere profiles attribute facts. Both reads are one parameterised
statement per ``CHUNK`` identifiers on DuckDB and PostgreSQL (compiling an Ibis
expression costs more than the query for a batch), Ibis elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from omnichannel.identity.rules import IdentityRules
from omnichannel.warehouse import Warehouse

CHUNK = 500
# The event columns that carry identifiers, as (column, identifier type).
EVENT_IDENTIFIERS = (
    ("user_id", "user_id"),
    ("anonymous_id", "anonymous_id"),
    ("context_device_id", "device_id"),
)
# The subjects an enrolment made before a profile existed is stored under.
SUBJECT_TYPES = ("user_id", "anonymous_id")
# journey_enrolments.subject and .entry_ref are 300 characters.
TEXT_LIMIT = 300


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` as a column of ``limit`` characters holds it: unchanged when it fits, else
    its start and a hash of the whole, so the same long message id or user id always
    gives the same value (PostgreSQL refuses a longer value, which would fail its batch)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{text[: limit - len(digest) - 1]}~{digest}"


def typed_identifiers(row: dict[str, Any], rules: IdentityRules) -> list[tuple[str, str]]:
    """The ``(id_type, id_value)`` an event row carries, typed by its source's rules."""
    mapping = rules.source_id_types.get(str(row.get("source") or ""), {})
    found: list[tuple[str, str]] = []
    for column, id_type in EVENT_IDENTIFIERS:
        value = row.get(column)
        if isinstance(value, str) and value.strip():
            found.append((mapping.get(id_type, id_type), value.strip()))
    return found


def own_subjects(row: dict[str, Any]) -> list[str]:
    """The event's identifier subjects, ``user_id:42`` first, then ``anonymous_id:abc``."""
    out = []
    for column in SUBJECT_TYPES:
        value = row.get(column)
        if isinstance(value, str) and value.strip():
            out.append(fit(f"{column}:{value.strip()}"))
    return out


def profiles_of(wh: Warehouse, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The one profile each linked identifier belongs to (identifiers of none: left out)."""
    wanted = sorted(set(pairs))
    values = sorted({v for _, v in wanted})
    holders: dict[tuple[str, str], set[str]] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        for row in _linked(wh, "id_value", chunk):
            holders.setdefault((row["id_type"], row["id_value"]), set()).add(row["profile_id"])
    wanted_set = set(wanted)
    return {
        pair: next(iter(ids))
        for pair, ids in holders.items()
        if pair in wanted_set and len(ids) == 1
    }


def identifier_subjects(wh: Warehouse, profile_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per profile, the ``user_id:...`` / ``anonymous_id:...`` subjects it links."""
    ids = sorted(set(profile_ids))
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), CHUNK):
        for row in _linked(wh, "profile_id", ids[start : start + CHUNK]):
            if row["id_type"] in SUBJECT_TYPES:
                subject = fit(f"{row['id_type']}:{row['id_value']}")
                found.setdefault(row["profile_id"], []).append(subject)
    return found


def _linked(wh: Warehouse, column: str, values: Sequence[str]) -> list[dict[str, Any]]:
    if not values:
        return []
    if wh.engine in ("duckdb", "postgres"):
        from omnichannel.profiles.timeline_sql import query

        marks = ", ".join("?" for _ in values)
        return query(
            wh,
            "SELECT profile_id, id_type, id_value FROM profile_identifiers "
            f"WHERE status = 'linked' AND {column} IN ({marks})",
            list(values),
        )
    pi = wh.table("profile_identifiers")
    expr = pi.filter(pi.status == "linked", pi[column].isin(list(values)))
    return list(expr.select("profile_id", "id_type", "id_value").to_pyarrow().to_pylist())
