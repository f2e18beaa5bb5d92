"""``platform.consent``: show, record and import consent decisions, read a person's history.

A person is named as ``TYPE:VALUE`` (``email:ann@x.com``, ``user_id:u1``) or
``profile:ID``. ``show`` and ``history`` read the decisions on the profile and on every
identifier it holds (an unsubscribe link keyed by address counts for the person);
``record`` keeps the decision on the subject as given, so an address never seen before
can still refuse (the send path reads identifiers as well as profiles).

Example::

    platform.consent.record("email:ann@x.com", purpose="marketing", channel="email",
                            status="withdrawn", source="service_desk", actor="sam@shop")
    platform.consent.show("email:ann@x.com")["channels"]   # {'email': 'withdrawn'}
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.errors import OmniError, ValidationError
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.privacy import ledger

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.privacy.keyring import Keyring

IMPORT_COLUMNS = ("identifier", "purpose", "channel", "status")
OPTIONAL_COLUMNS = ("lawful_basis", "at", "source", "text_version", "evidence")


class ConsentCapability:
    """The consent ledger, per person (privacy/ledger.py has the rules)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def _sealer(self) -> Keyring:
        return self._platform.privacy.keyring

    # -- who ----------------------------------------------------------------------------

    def subjects(self, person: str) -> tuple[str | None, list[ledger.Subject]]:
        """The profile ``person`` names (None if no profile holds it) and every subject
        whose consent counts for them: the profile, its identifiers, the one given."""
        kind, sep, value = person.partition(":")
        if not sep or not kind.strip() or not value.strip():
            raise ValidationError(
                "person", person, "TYPE:VALUE such as email:ann@example.com, or profile:ID"
            )
        kind, value = kind.strip().lower(), value.strip()
        platform = self._platform
        with platform.warehouse.reader() as wh:
            profile_id: str | None
            given: ledger.Subject
            if kind == PROFILE_SUBJECT:
                profile_id, given = value, (PROFILE_SUBJECT, value)
            else:
                id_type, id_value = platform.lookup.parse(wh, person)
                given = (id_type, id_value)
                try:
                    profile_id = platform.lookup.find(wh, person).profile_id
                except OmniError:
                    profile_id = None  # consent may come before the person is known
            found: list[ledger.Subject] = [given]
            if profile_id is not None:
                found.append((PROFILE_SUBJECT, profile_id))
                pi = wh.table("profile_identifiers")
                rows = (
                    pi.filter(pi.profile_id == profile_id)
                    .select("id_type", "id_value")
                    .to_pyarrow()
                    .to_pylist()
                )
                found.extend((r["id_type"], r["id_value"]) for r in rows)
        return profile_id, sorted(set(found))

    # -- reads --------------------------------------------------------------------------

    def history(self, person: str) -> list[dict[str, Any]]:
        """Every decision that counts for ``person``, oldest first."""
        _, subjects = self.subjects(person)
        with self._platform.opstore.session() as session:
            return [ledger.public(r, self._sealer) for r in ledger.history(session, subjects)]

    def show(self, person: str) -> dict[str, Any]:
        """The decisions in force per purpose and channel, and per channel for marketing."""
        profile_id, subjects = self.subjects(person)
        with self._platform.opstore.session() as session:
            records = ledger.history(session, subjects)
            current = [ledger.public(r, self._sealer) for r in ledger.current(records)]
        channels = {
            r["channel"]: r["status"]
            for r in sorted(current, key=lambda r: r["at"])
            if r["purpose"] == "marketing"
        }
        purposes = {
            name: ledger.allows(records, name) for name in ledger.PURPOSES if name != "marketing"
        }
        return {
            "person": person,
            "profile_id": profile_id,
            "subjects": [f"{t}:{v}" for t, v in subjects],
            "channels": channels,
            "purposes": purposes,
            "current": current,
            "decisions": len(records),
        }

    # -- writes -------------------------------------------------------------------------

    def record(
        self,
        person: str,
        *,
        purpose: str,
        status: str,
        channel: str = ledger.ANY_CHANNEL,
        lawful_basis: str = "consent",
        source: str,
        actor: str,
        evidence: dict[str, Any] | None = None,
        text_version: str = "",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record one decision on the subject ``person`` names (audited)."""
        subject = self._subject_of(person)
        with self._platform.opstore.session() as session:
            entry = ledger.record(
                session,
                subject_type=subject[0],
                subject_value=subject[1],
                purpose=purpose,
                channel=channel,
                status=status,
                lawful_basis=lawful_basis,
                source=source,
                actor=actor,
                evidence=evidence,
                text_version=text_version,
                at=at,
                sealer=self._sealer,
            )
            return ledger.public(entry, self._sealer)

    def import_file(self, path: str | Path, *, source: str, actor: str) -> dict[str, Any]:
        """Record every row of a CSV of decisions (columns ``identifier, purpose, channel,
        status`` and optionally ``lawful_basis, at, source, text_version, evidence``).

        All rows or none: the first bad row's number, field and value are named.
        """
        text = Path(path).read_text(encoding="utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in IMPORT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(
                "columns",
                ",".join(reader.fieldnames or []),
                "a header with "
                + ", ".join(IMPORT_COLUMNS)
                + " (optional: "
                + ", ".join(OPTIONAL_COLUMNS)
                + ")",
            )
        recorded = 0
        with self._platform.opstore.session() as session:
            for number, row in enumerate(reader, start=2):
                try:
                    subject = self._subject_of(row["identifier"] or "")
                    ledger.record(
                        session,
                        subject_type=subject[0],
                        subject_value=subject[1],
                        purpose=row["purpose"] or "",
                        channel=row["channel"] or ledger.ANY_CHANNEL,
                        status=row["status"] or "",
                        lawful_basis=row.get("lawful_basis") or "consent",
                        source=row.get("source") or source,
                        actor=actor,
                        evidence={"file": Path(path).name, "line": number}
                        | ({"note": row["evidence"]} if row.get("evidence") else {}),
                        text_version=row.get("text_version") or "",
                        at=_parse_at(row.get("at")),
                        sealer=self._sealer,
                    )
                except ValidationError as exc:
                    raise ValidationError(
                        f"line {number}: {exc.field}", exc.value, exc.accepted
                    ) from None
                recorded += 1
        return {"file": str(path), "recorded": recorded}

    def _subject_of(self, person: str) -> ledger.Subject:
        kind, sep, value = person.partition(":")
        if not sep or not kind.strip() or not value.strip():
            raise ValidationError(
                "person", person, "TYPE:VALUE such as email:ann@example.com, or profile:ID"
            )
        if kind.strip().lower() == PROFILE_SUBJECT:
            return PROFILE_SUBJECT, value.strip()
        with self._platform.warehouse.reader() as wh:
            return self._platform.lookup.parse(wh, person)


def _parse_at(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("at", text, "an ISO 8601 time such as 2026-05-01T09:30:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
