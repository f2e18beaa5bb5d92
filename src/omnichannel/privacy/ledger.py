"""The consent ledger: every decision a person made, per purpose and channel, kept whole.

A decision names its **purpose** (why the data is used), its **channel** (``*`` when the
purpose is not about contacting anyone), its **status** and the **lawful basis** the
processing rests on (GDPR art. 6; PIPL art. 13 has the same shape), with who recorded
it, from where (a form, an event, an import, an unsubscribe link, the service desk), the
evidence and the version of the text the person saw. Rows are only ever inserted.

The ledger backs the send path: a decision on ``marketing`` is projected onto the
``consents`` table (one current row per subject and channel), which the channels'
policy, the dispatcher's last check, segment exports, ad audiences and the profile's
``consent`` trait already read. ``opstore.consent.set_consent`` (unsubscribe links, STOP
replies, provider opt-outs) writes the ledger too, so no decision bypasses it.

PIPL (art. 29, 39, 23) wants a *separate* consent for sensitive personal information,
transfers abroad and sharing with another processor: a grant on those purposes must name
the ``text_version`` the person agreed to on its own, and is flagged ``separate``.

Example::

    with store.session() as session:
        record(session, subject_type="profile", subject_value="p-1", purpose="marketing",
               channel="email", status="withdrawn", source="preference_centre",
               actor="ana@shop.example")
        history(session, [("profile", "p-1")])    # -> [ConsentRecord(...)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from omnichannel.errors import ValidationError
from omnichannel.opstore.audit import record as audit
from omnichannel.opstore.consent import set_consent
from omnichannel.opstore.models import ConsentChannel, ConsentRecord, ConsentStatus, utcnow
from omnichannel.privacy.keyring import is_sealed

if TYPE_CHECKING:
    from omnichannel.privacy.keyring import Keyring

# Evidence (an IP address, a page, a file and line) is personal data: sealed at rest.
EVIDENCE_FIELD = "consent_records.evidence"
SEALED = "sealed"


@dataclass(frozen=True)
class Purpose:
    name: str
    description: str
    # PIPL's separate consent (单独同意): a grant needs its own text version.
    separate: bool = False


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose("marketing", "marketing messages on a channel (the send path reads it)"),
        Purpose("analytics", "measurement: funnels, KPIs, attribution"),
        Purpose("personalisation", "recommendations and personalised content"),
        Purpose("profiling", "automated decisions: propensity, segments by model score"),
        Purpose("sensitive_data", "sensitive personal information (PIPL art. 28-29)", True),
        Purpose("cross_border_transfer", "transfer outside the country (PIPL art. 39)", True),
        Purpose("third_party_sharing", "giving the data to another processor (PIPL art. 23)", True),
    )
}
LAWFUL_BASES: tuple[str, ...] = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)
STATUSES: tuple[str, ...] = ("granted", "denied", "withdrawn", "unsubscribed")
WITHHOLDING = frozenset({"denied", "withdrawn", "unsubscribed"})
ANY_CHANNEL = "*"
CHANNELS: tuple[str, ...] = (*(c.value for c in ConsentChannel), "web", ANY_CHANNEL)

Subject = tuple[str, str]


def _one_of(field: str, value: str, accepted: Sequence[str]) -> str:
    token = (value or "").strip().lower()
    if token not in accepted:
        raise ValidationError(field, value, "one of " + ", ".join(accepted))
    return token


def record(
    session: Session,
    *,
    subject_type: str,
    subject_value: str,
    purpose: str,
    channel: str = ANY_CHANNEL,
    status: str,
    lawful_basis: str = "consent",
    source: str,
    actor: str,
    evidence: dict[str, Any] | None = None,
    text_version: str = "",
    at: datetime | None = None,
    sealer: Keyring | None = None,
) -> ConsentRecord:
    """Add one decision to the ledger (and to ``consents`` when it is about marketing);
    with a ``sealer`` the evidence (IP address, page, file) is stored encrypted."""
    purpose = _one_of("purpose", purpose, tuple(PURPOSES))
    channel = _one_of("channel", channel, CHANNELS)
    status = _one_of("status", status, STATUSES)
    lawful_basis = _one_of("lawful_basis", lawful_basis, LAWFUL_BASES)
    subject_type = (subject_type or "").strip().lower()
    if not subject_type or not subject_type.replace("_", "").isalnum() or len(subject_type) > 32:
        raise ValidationError(
            "subject_type", subject_type, "profile or an identifier type (email, phone...)"
        )
    if not subject_value or len(subject_value) > 320:
        raise ValidationError("subject_value", subject_value, "a profile id or identifier value")
    if len(source) > 128 or len(text_version) > 64:
        raise ValidationError("source", source, "at most 128 characters (text_version 64)")
    separate = PURPOSES[purpose].separate
    if separate and status == "granted" and not text_version.strip():
        raise ValidationError(
            "text_version",
            text_version,
            f"the version of the separate consent text the person agreed to ({purpose} needs "
            "a consent of its own under PIPL)",
        )
    if purpose == "marketing" and channel == ANY_CHANNEL and status == "granted":
        raise ValidationError(
            "channel", channel, "a channel: a marketing opt-in is given per channel"
        )
    at = at or utcnow()
    entry = ConsentRecord(
        at=at,
        subject_type=subject_type,
        subject_value=subject_value,
        purpose=purpose,
        channel=channel,
        status=status,
        lawful_basis=lawful_basis,
        source=source,
        actor=actor,
        text_version=text_version,
        evidence=seal_evidence(dict(evidence or {}), sealer),
        separate=separate,
    )
    session.add(entry)
    if purpose == "marketing":
        projected = ConsentStatus.GRANTED if status == "granted" else _withheld(status)
        targets = [c.value for c in ConsentChannel] if channel == ANY_CHANNEL else [channel]
        for target in targets:
            set_consent(
                session,
                subject_type=subject_type,
                subject_value=subject_value,
                channel=target,
                status=projected,
                source=source,
                actor=actor,
                at=at,
                ledger=False,
            )
    else:
        audit(
            session,
            actor=actor,
            action="consent.record",
            object_type="consent",
            object_id=f"{subject_type}:{subject_value}:{purpose}:{channel}",
            details={"status": status, "lawful_basis": lawful_basis, "source": source},
        )
    session.flush()
    return entry


def _withheld(status: str) -> ConsentStatus:
    return ConsentStatus.DENIED if status == "denied" else ConsentStatus.UNSUBSCRIBED


def history(session: Session, subjects: Iterable[Subject]) -> list[ConsentRecord]:
    """Every decision on any of ``subjects``, oldest first."""
    wanted = sorted(set(subjects))
    if not wanted:
        return []
    query = (
        select(ConsentRecord)
        .where(tuple_(ConsentRecord.subject_type, ConsentRecord.subject_value).in_(wanted))
        .order_by(ConsentRecord.at, ConsentRecord.id)
    )
    return list(session.scalars(query))


def current(records: Sequence[ConsentRecord]) -> list[ConsentRecord]:
    """The decision in force per (purpose, channel): the latest one, a withholding one on
    a tie. A decision on ``*`` is overridden by a later one on a single channel."""
    latest: dict[tuple[str, str], ConsentRecord] = {}
    for entry in sorted(records, key=lambda r: (r.at, r.status in WITHHOLDING, r.id)):
        latest[(entry.purpose, entry.channel)] = entry
    return sorted(latest.values(), key=lambda r: (r.purpose, r.channel))


def allows(
    records: Sequence[ConsentRecord], purpose: str, channel: str = ANY_CHANNEL
) -> bool | None:
    """Does the ledger allow ``purpose`` on ``channel``? None: nothing recorded."""
    mine = [r for r in records if r.purpose == purpose and r.channel in (channel, ANY_CHANNEL)]
    if not mine:
        return None
    last = max(mine, key=lambda r: (r.at, r.status in WITHHOLDING, r.id))
    return last.status == "granted"


def seal_evidence(evidence: dict[str, Any], sealer: Keyring | None) -> dict[str, Any]:
    """The evidence as stored: ``{"sealed": "pii1:..."}`` when there is a keyring."""
    if sealer is None or not evidence:
        return evidence
    clear = json.dumps(evidence, sort_keys=True, ensure_ascii=False)
    return {SEALED: sealer.seal(EVIDENCE_FIELD, clear)}


def open_evidence(stored: dict[str, Any] | None, sealer: Keyring | None) -> dict[str, Any]:
    """The evidence in clear (rows written before sealing are clear already)."""
    stored = dict(stored or {})
    token = stored.get(SEALED)
    if not is_sealed(token):
        return stored
    if sealer is None:
        return {SEALED: "(encrypted)"}
    opened: dict[str, Any] = json.loads(sealer.open(EVIDENCE_FIELD, str(token)))
    return opened


def public(entry: ConsentRecord, sealer: Keyring | None = None) -> dict[str, Any]:
    """A ledger row as JSON-ready data (its evidence opened with ``sealer``)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat() if entry.at else None,
        "subject": f"{entry.subject_type}:{entry.subject_value}",
        "purpose": entry.purpose,
        "channel": entry.channel,
        "status": entry.status,
        "lawful_basis": entry.lawful_basis,
        "source": entry.source,
        "actor": entry.actor,
        "text_version": entry.text_version,
        "evidence": open_evidence(entry.evidence, sealer),
        "separate": entry.separate,
    }
