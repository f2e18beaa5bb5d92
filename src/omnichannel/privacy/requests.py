"""Data-subject requests tracked to their legal deadline.

GDPR art. 12(3): one month from receipt (``OMNI_PRIVACY_GDPR_DAYS``, 30 by default);
PIPL art. 50 and its implementing rules: 15 working days (``OMNI_PRIVACY_PIPL_WORKING_DAYS``;
Saturdays and Sundays do not count; public holidays are not known here, so the date is
the earliest the law could mean). A request is ``open`` until its export or erasure is
done (``done``, with the receipt) or fails (``failed``, with the error); ``overdue`` is
computed, never stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError
from omnichannel.opstore.models import PrivacyRequest, utcnow
from omnichannel.privacy.keyring import is_sealed

if TYPE_CHECKING:
    from omnichannel.privacy.keyring import Keyring

# How a request arrived is free text that often quotes the person: sealed at rest.
NOTE_FIELD = "privacy_requests.note"

KINDS = ("export", "erasure")
REGULATIONS = ("gdpr", "pipl")
STATUSES = ("open", "done", "failed")


def due_date(
    received: datetime, regulation: str, *, gdpr_days: int, pipl_working_days: int
) -> datetime:
    """When the answer is due under ``regulation`` for a request received at ``received``."""
    if regulation == "gdpr":
        return received + timedelta(days=gdpr_days)
    if regulation == "pipl":
        due, left = received, pipl_working_days
        while left > 0:
            due += timedelta(days=1)
            if due.weekday() < 5:
                left -= 1
        return due
    raise ValidationError("regulation", regulation, "one of " + ", ".join(REGULATIONS))


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError("kind", kind, "one of " + ", ".join(KINDS))
    return kind


def check_regulation(regulation: str) -> str:
    token = (regulation or "").strip().lower()
    if token not in REGULATIONS:
        raise ValidationError("regulation", regulation, "one of " + ", ".join(REGULATIONS))
    return token


def seal_note(note: str, sealer: Keyring) -> str:
    return sealer.seal(NOTE_FIELD, note) if note else ""


def public(
    request: PrivacyRequest, sealer: Keyring | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    note = request.note
    if is_sealed(note):
        note = sealer.open(NOTE_FIELD, note) if sealer is not None else "(encrypted)"
    overdue = request.status == "open" and request.due_at < now
    return {
        "id": request.id,
        "kind": request.kind,
        "regulation": request.regulation,
        "status": "overdue" if overdue else request.status,
        "subject_hash": request.subject_hash,
        "requested_by": request.requested_by,
        "received_at": request.received_at.isoformat(),
        "due_at": request.due_at.isoformat(),
        "days_left": round((request.due_at - now).total_seconds() / 86400, 1),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
        "receipt": request.receipt,
        "note": note,
    }
