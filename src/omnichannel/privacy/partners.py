"""``platform.partners``: audiences shared with partners as salted hashes, overlap and
joint-campaign attribution reported only as counts of groups large enough (seed §8.3).

Both sides hash their people's normalised emails and phones with a salt they agreed on
(``partner_files.py`` has the format) and exchange the files; nobody sends an identifier
in clear. What we **send** holds only the people of the audience who granted
``third_party_sharing`` (PIPL art. 23 asks for separate consent; the ledger's decision in
force on the profile or any of its identifiers counts); the others are left out and
counted. What we **receive** is kept in the home (mode 0600) until it expires, then
removed; the row in ``partner_exchanges`` and the audit log remain.

The **overlap** of an audience with a received file and the **attribution** of a joint
campaign's orders per partner are counts, and a count below the minimum group size
(``OMNI_PARTNER_MIN_GROUP``, 50 by default; ``--min-group``) is withheld as ``null``
with ``below_minimum: true``: a count of three lets a partner guess who the three are.

Example::

    sent = platform.partners.share("vip", partner="acme", salt=salt, out=Path("vip.csv"))
    got = platform.partners.receive(Path("acme.csv"), partner="acme", salt=salt)
    platform.partners.overlap(got["id"], audience="vip", salt=salt)
    # the salt may be a function, called once the exchanges are found
    platform.partners.attribute("CMP-0034", [got["id"]], salt=lambda: salt_from(path))
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.opstore.audit import record as audit
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import ConsentRecord, PartnerExchange, utcnow
from omnichannel.privacy import ledger
from omnichannel.privacy.partner_files import (
    TYPES,
    SaltSource,
    fingerprint,
    read_hashes,
    resolve_salt,
    write_hashes,
)
from omnichannel.privacy.suppression import identifier_hash

if TYPE_CHECKING:
    from omnichannel.platform import Platform

ALL_PEOPLE = "all"
SHARING = "third_party_sharing"
RECEIVED_DIR = Path("privacy") / "partners"
DEFAULT_EXPIRY_DAYS = 30
MAX_EXPIRY_DAYS = 365


def _min_group() -> int:
    return int(os.environ.get("OMNI_PARTNER_MIN_GROUP", "50"))


def _check_partner(partner: str) -> str:
    name = partner.strip()
    if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValidationError("partner", partner, "a name of letters, digits, - _ or . (1-100)")
    return name


def _check_days(days: int) -> int:
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValidationError("expires_days", days, f"a whole number of days, 1-{MAX_EXPIRY_DAYS}")
    return days


def withheld(count: int, minimum: int) -> dict[str, Any]:
    """A count as reported to anyone: ``None`` below the minimum group size."""
    return {"count": count if count >= minimum else None, "below_minimum": count < minimum}


def public(row: PartnerExchange, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": row.id,
        "partner": row.partner,
        "direction": row.direction,
        "audience": row.audience,
        "file": row.file,
        "salt_fingerprint": row.salt_fingerprint,
        "rows": row.rows,
        "details": dict(row.details or {}),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "expired": row.purged_at is not None or row.expires_at <= now,
        "purged_at": row.purged_at.isoformat() if row.purged_at else None,
    }


class PartnersCapability:
    """Partner audiences of one installation (module docstring)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # -- who is in an audience ----------------------------------------------------------

    def _profiles(self, audience: str) -> list[str]:
        if audience == ALL_PEOPLE:
            with self._platform.warehouse.reader() as wh:
                ids = wh.table("profiles").select("profile_id").to_pyarrow()
            return sorted(ids.column("profile_id").to_pylist())
        members = self._platform.segments.members(audience)
        return list(members["profile_ids"])

    def _identifiers(self, profiles: list[str]) -> dict[str, list[tuple[str, str]]]:
        """profile id -> its linked emails and phones."""
        wanted = set(profiles)
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        with self._platform.warehouse.reader() as wh:
            pi = wh.table("profile_identifiers")
            rows = (
                pi.filter(pi.id_type.isin(list(TYPES)) & (pi.status == "linked"))
                .select("profile_id", "id_type", "id_value")
                .to_pyarrow()
                .to_pylist()
            )
        for row in rows:
            if row["profile_id"] in wanted and row["id_value"]:
                found[row["profile_id"]].append((row["id_type"], row["id_value"]))
        return found

    def _sharing_allowed(self, identifiers: dict[str, list[tuple[str, str]]]) -> set[str]:
        """The profiles whose decision in force on ``third_party_sharing`` is a grant."""
        with self._platform.opstore.session() as session:
            records = list(
                session.scalars(select(ConsentRecord).where(ConsentRecord.purpose == SHARING))
            )
        by_subject: dict[tuple[str, str], list[ConsentRecord]] = defaultdict(list)
        for entry in records:
            by_subject[(entry.subject_type, entry.subject_value)].append(entry)
        allowed = set()
        for profile_id, ids in identifiers.items():
            mine = [r for s in [(PROFILE_SUBJECT, profile_id), *ids] for r in by_subject.get(s, [])]
            if mine and ledger.allows(mine, SHARING):
                allowed.add(profile_id)
        return allowed

    # -- exchanges ----------------------------------------------------------------------

    def share(
        self,
        audience: str,
        *,
        partner: str,
        salt: bytes,
        out: Path,
        actor: str = "library",
        expires_days: int = DEFAULT_EXPIRY_DAYS,
    ) -> dict[str, Any]:
        """Write the hashes of the audience's consenting people to ``out``."""
        partner, days = _check_partner(partner), _check_days(expires_days)
        profiles = self._profiles(audience)
        identifiers = self._identifiers(profiles)
        allowed = self._sharing_allowed(identifiers)
        rows = [
            (t, identifier_hash(salt, t, v)) for p in sorted(allowed) for t, v in identifiers[p]
        ]
        written = write_hashes(out, rows)
        details = {
            "people": len(profiles),
            "shared": len(allowed),
            "left_out_without_consent": len([p for p in profiles if p not in allowed]),
        }
        return self._record(
            partner, "sent", audience, str(out), salt, written, details, actor, days
        )

    def receive(
        self,
        path: Path,
        *,
        partner: str,
        salt: bytes,
        actor: str = "library",
        expires_days: int = DEFAULT_EXPIRY_DAYS,
    ) -> dict[str, Any]:
        """Check a partner's file and keep a copy until it expires."""
        partner, days = _check_partner(partner), _check_days(expires_days)
        hashes = read_hashes(path)  # refuses a malformed file before anything is kept
        rows = sum(len(v) for v in hashes.values())
        details = {"by_type": {t: len(v) for t, v in hashes.items()}, "original": path.name}
        answer = self._record(partner, "received", "", "", salt, rows, details, actor, days)
        kept = self._platform.settings.home / RECEIVED_DIR / f"received-{answer['id']}.csv"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kept)
        kept.chmod(0o600)
        with self._platform.opstore.session() as session:
            row = session.get(PartnerExchange, answer["id"])
            assert row is not None
            row.file = str(kept)
            return public(row)

    def _record(
        self,
        partner: str,
        direction: str,
        audience: str,
        file: str,
        salt: bytes,
        rows: int,
        details: dict[str, Any],
        actor: str,
        days: int,
    ) -> dict[str, Any]:
        now = utcnow()
        with self._platform.opstore.session() as session:
            row = PartnerExchange(
                partner=partner,
                direction=direction,
                audience=audience,
                file=file,
                salt_fingerprint=fingerprint(salt),
                rows=rows,
                details=details,
                created_by=actor,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            session.add(row)
            session.flush()
            audit(
                session,
                actor=actor,
                action=f"partners.{direction}",
                object_type="partner_exchange",
                object_id=str(row.id),
                details={"partner": partner, "audience": audience, "rows": rows, **details},
            )
            return public(row)

    def exchanges(self, *, partner: str | None = None) -> list[dict[str, Any]]:
        """Every exchange, newest first (expired ones too: the record stays)."""
        self.purge_expired()
        with self._platform.opstore.session() as session:
            query = select(PartnerExchange).order_by(PartnerExchange.id.desc())
            if partner is not None:
                query = query.where(PartnerExchange.partner == partner)
            return [public(r) for r in session.scalars(query)]

    def purge_expired(self, *, now: datetime | None = None, actor: str = "expiry") -> list[int]:
        """Remove the kept copies (and files we sent) of exchanges past their expiry."""
        now = now or utcnow()
        purged = []
        with self._platform.opstore.session() as session:
            due = session.scalars(
                select(PartnerExchange).where(
                    PartnerExchange.expires_at <= now, PartnerExchange.purged_at.is_(None)
                )
            )
            for row in due:
                Path(row.file).unlink(missing_ok=True)
                row.purged_at = now
                purged.append(row.id)
                audit(
                    session,
                    actor=actor,
                    action="partners.expired",
                    object_type="partner_exchange",
                    object_id=str(row.id),
                    details={"partner": row.partner, "file": row.file},
                )
        return purged

    def _received(self, exchange_id: int) -> tuple[dict[str, Any], dict[str, set[str]]]:
        self.purge_expired()
        with self._platform.opstore.session() as session:
            row = session.get(PartnerExchange, exchange_id)
            if row is None or row.direction != "received":
                raise NotFoundError(f"no received partner file {exchange_id} (omni partners list)")
            found = public(row)
        if found["expired"]:
            raise ValidationError(
                "exchange", exchange_id, f"a file not past its expiry ({found['expires_at']})"
            )
        return found, read_hashes(Path(found["file"]))

    # -- counts -------------------------------------------------------------------------

    def overlap(
        self,
        exchange_id: int,
        *,
        audience: str,
        salt: SaltSource,
        min_group: int | None = None,
        actor: str = "library",
    ) -> dict[str, Any]:
        """How many of the audience's people the partner's file also holds, as counts."""
        minimum = min_group if min_group is not None else _min_group()
        exchange, theirs = self._received(exchange_id)
        key = resolve_salt(salt)
        self._check_salt(exchange, key)
        profiles = self._profiles(audience)
        identifiers = self._identifiers(profiles)
        matched = self._matched(identifiers, theirs, key)
        by_type = {
            t: withheld(len({p for p, types in matched.items() if t in types}), minimum)
            for t in TYPES
        }
        answer = {
            "exchange": exchange_id,
            "partner": exchange["partner"],
            "audience": audience,
            "audience_people": len(profiles),
            "partner_rows": exchange["rows"],
            "overlap": withheld(len(matched), minimum),
            "by_type": by_type,
            "min_group": minimum,
        }
        self._audit(actor, "partners.overlap", exchange_id, answer)
        return answer

    def attribute(
        self,
        campaign: str,
        exchange_ids: list[int],
        *,
        salt: SaltSource,
        min_group: int | None = None,
        actor: str = "library",
    ) -> dict[str, Any]:
        """The joint campaign's orders per partner whose file holds the buyer; a buyer in
        several partners' files counts a share for each (1/n of the order and revenue)."""
        minimum = min_group if min_group is not None else _min_group()
        received = [self._received(exchange_id) for exchange_id in dict.fromkeys(exchange_ids)]
        key = resolve_salt(salt)
        files = {}
        for exchange, theirs in received:
            self._check_salt(exchange, key)
            files[exchange["id"]] = (exchange["partner"], theirs)
        buyers = self._campaign_buyers(campaign)
        identifiers = self._identifiers(sorted(buyers))
        partners_of: dict[str, set[str]] = defaultdict(set)
        for _, (partner, theirs) in files.items():
            for profile_id in self._matched(identifiers, theirs, key):
                partners_of[profile_id].add(partner)
        shares: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for profile_id, (orders, revenue) in buyers.items():
            for partner in partners_of.get(profile_id, set()):
                n = len(partners_of[profile_id])
                shares[partner]["buyers"] += 1
                shares[partner]["orders"] += orders / n
                shares[partner]["revenue"] += revenue / n
        per_partner = []
        for partner in sorted({p for p, _ in files.values()}):
            got = shares.get(partner, {})
            buyers_count = int(got.get("buyers", 0))
            small = buyers_count < minimum
            per_partner.append(
                {
                    "partner": partner,
                    "buyers": withheld(buyers_count, minimum),
                    "orders": None if small else round(got.get("orders", 0.0), 2),
                    "revenue": None if small else round(got.get("revenue", 0.0), 2),
                }
            )
        answer = {
            "campaign": campaign,
            "buyers": len(buyers),
            "orders": sum(o for o, _ in buyers.values()),
            "partners": per_partner,
            "min_group": minimum,
        }
        for exchange_id in files:
            self._audit(actor, "partners.attribute", exchange_id, answer)
        return answer

    def _campaign_buyers(self, campaign: str) -> dict[str, tuple[int, float]]:
        """profile id -> (orders, revenue) of the campaign's orders."""
        with self._platform.warehouse.reader() as wh:
            o, rp = wh.table("orders"), wh.table("record_profiles")
            joined = o.filter(o.campaign_id == campaign).join(
                rp, [o.source == rp.source, o.order_id == rp.record_id]
            )
            rows = (
                joined.group_by(rp.profile_id)
                .aggregate(orders=o.order_id.count(), revenue=o.total.sum())
                .to_pyarrow()
                .to_pylist()
            )
        if not rows:
            raise NotFoundError(f"campaign {campaign!r} has no orders (orders.campaign_id)")
        return {r["profile_id"]: (int(r["orders"]), float(r["revenue"] or 0)) for r in rows}

    @staticmethod
    def _matched(
        identifiers: dict[str, list[tuple[str, str]]], theirs: dict[str, set[str]], salt: bytes
    ) -> dict[str, set[str]]:
        """profile id -> the identifier types of theirs found in the partner's file."""
        matched: dict[str, set[str]] = defaultdict(set)
        for profile_id, ids in identifiers.items():
            for id_type, value in ids:
                if identifier_hash(salt, id_type, value) in theirs.get(id_type, set()):
                    matched[profile_id].add(id_type)
        return matched

    @staticmethod
    def _check_salt(exchange: dict[str, Any], salt: bytes) -> None:
        if fingerprint(salt) != exchange["salt_fingerprint"]:
            raise ValidationError(
                "salt",
                fingerprint(salt),
                f"the salt exchange {exchange['id']} was received with "
                f"(fingerprint {exchange['salt_fingerprint']})",
            )

    def _audit(self, actor: str, action: str, exchange_id: int, answer: dict[str, Any]) -> None:
        with self._platform.opstore.session() as session:
            audit(
                session,
                actor=actor,
                action=action,
                object_type="partner_exchange",
                object_id=str(exchange_id),
                details=answer,
            )
