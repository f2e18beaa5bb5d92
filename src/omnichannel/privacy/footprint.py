"""Everything that names one person: their profile, records, identifiers and names.

A data-subject request starts here. From any one identifier the profile is found, then
every source record stitched into it (``record_profiles``), every identifier those
records carried (``identity_observations``, ``profile_identifiers``: emails, phones,
user ids, anonymous ids, OpenIDs...) and the names the records give. Export and erasure
both work from this list, so they reach the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnichannel.errors import OmniError, ValidationError
from omnichannel.opstore.consent import PROFILE_SUBJECT

if TYPE_CHECKING:
    from omnichannel.platform import Platform

# Values shorter than this are matched whole, never inside a longer text (an id "u1"
# must not erase "u10"'s rows, nor every JSON document holding "u1" somewhere).
MIN_CONTAINED = 6


@dataclass
class Footprint:
    """The person a request is about, as the stores know them."""

    person: str
    profile_ids: list[str] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def values(self) -> list[str]:
        """Every value to look for: identifiers' values and profile ids."""
        found = {v for _, v in self.identifiers if v} | set(self.profile_ids)
        return sorted(found)

    @property
    def contained(self) -> list[str]:
        """Identifier values long enough to be looked for inside texts (JSON, payloads,
        files). Names are not among them: two people can share one, an email contains one."""
        return sorted({v.lower() for v in self.values if len(v) >= MIN_CONTAINED})

    @property
    def mentions(self) -> list[str]:
        """What a free text (a comment, the audit log) may name them by: long identifier
        values and full names, redacted there (never a reason to delete a row)."""
        return sorted({*self.contained, *(n.lower() for n in self.names)})

    @property
    def subjects(self) -> list[tuple[str, str]]:
        """Consent subjects: the profile(s) and every identifier."""
        return sorted({(PROFILE_SUBJECT, p) for p in self.profile_ids} | set(self.identifiers))

    def public(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "profile_ids": self.profile_ids,
            "records": [f"{s}:{r}" for s, r in self.records],
            "identifiers": [f"{t}:{v}" for t, v in self.identifiers],
            "names": self.names,
        }


def find_person(platform: Platform, person: str) -> Footprint:
    """The footprint of the person ``TYPE:VALUE`` (or ``profile:ID``) names."""
    kind, sep, value = person.partition(":")
    if not sep or not kind.strip() or not value.strip():
        raise ValidationError("person", person, "TYPE:VALUE such as email:ann@x.com, or profile:ID")
    found = Footprint(person)
    with platform.warehouse.reader() as wh:
        if kind.strip().lower() == PROFILE_SUBJECT:
            profile_id: str | None = value.strip()
        else:
            id_type, id_value = platform.lookup.parse(wh, person)
            found.identifiers.append((id_type, id_value))
            try:
                profile_id = platform.lookup.find(wh, person).profile_id
            except OmniError:
                profile_id = None
        if profile_id is None:
            return found
        found.profile_ids = [profile_id]
        rp = wh.table("record_profiles")
        records = rp.filter(rp.profile_id == profile_id).select("source", "record_id")
        found.records = sorted(
            (r["source"], r["record_id"]) for r in records.to_pyarrow().to_pylist()
        )
        pi = wh.table("profile_identifiers")
        ids = pi.filter(pi.profile_id == profile_id).select("id_type", "id_value")
        seen = {(r["id_type"], r["id_value"]) for r in ids.to_pyarrow().to_pylist()}
        obs = wh.table("identity_observations")
        observed = obs.semi_join(records, ["source", "record_id"]).select("id_type", "id_value")
        seen |= {(r["id_type"], r["id_value"]) for r in observed.to_pyarrow().to_pylist()}
        found.identifiers = sorted(seen | set(found.identifiers))
        cr = wh.table("customer_records")
        named = cr.semi_join(records, ["source", "record_id"]).select("first_name", "last_name")
        names: set[str] = set()
        for row in named.to_pyarrow().to_pylist():
            first, last = (row["first_name"] or "").strip(), (row["last_name"] or "").strip()
            if first and last:
                names |= {f"{first} {last}", f"{last} {first}"}
        found.names = sorted(names)
    return found
