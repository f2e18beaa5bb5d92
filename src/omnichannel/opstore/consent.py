"""Consent: the one current decision per subject and channel, changed by replacement.

Example::

    with store.session() as session:
        set_consent(session, subject_type="email", subject_value="li@example.com",
                    channel="email", status=ConsentStatus.UNSUBSCRIBED,
                    source="unsubscribe_link", actor="collector")
        get_consent(session, subject_type="email", subject_value="li@example.com",
                    channel="email")  # -> the row, status UNSUBSCRIBED
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnichannel.errors import ValidationError
from omnichannel.opstore.audit import record
from omnichannel.opstore.models import Consent, ConsentRecord, ConsentStatus, utcnow

PROFILE_SUBJECT = "profile"
_TOKEN_MAX = 32


def _check_token(field: str, value: str) -> str:
    token = value.strip().lower()
    if not token or len(token) > _TOKEN_MAX or not token.replace("_", "").isalnum():
        raise ValidationError(
            field, value, f"a lowercase word of letters, digits or '_' (at most {_TOKEN_MAX})"
        )
    return token


def get_consent(
    session: Session, *, subject_type: str, subject_value: str, channel: str
) -> Consent | None:
    """The current consent row, or None if this subject never said anything on ``channel``."""
    query = select(Consent).where(
        Consent.subject_type == _check_token("subject_type", subject_type),
        Consent.subject_value == subject_value,
        Consent.channel == _check_token("channel", channel),
    )
    return session.scalars(query).one_or_none()


def set_consent(
    session: Session,
    *,
    subject_type: str,
    subject_value: str,
    channel: str,
    status: ConsentStatus | str,
    source: str,
    actor: str,
    at: datetime | None = None,
    ledger: bool = True,
) -> Consent:
    """Replace the subject's consent on ``channel`` and write the change to the audit log
    and (unless ``ledger`` is False: the ledger itself calling) to the consent ledger's
    history as a ``marketing`` decision on a ``consent`` basis (privacy/ledger.py).

    One statement (INSERT ... ON CONFLICT DO UPDATE) so two writers racing on the same
    subject end with one row, never a unique-constraint error.
    """
    subject_type = _check_token("subject_type", subject_type)
    channel = _check_token("channel", channel)
    if not subject_value:
        raise ValidationError("subject_value", subject_value, "a non-empty profile id or value")
    try:
        status = ConsentStatus(status)
    except ValueError:
        accepted = ", ".join(member.value for member in ConsentStatus)
        raise ValidationError("status", status, f"one of {accepted}") from None
    values: dict[str, Any] = {
        "subject_type": subject_type,
        "subject_value": subject_value,
        "channel": channel,
        "status": status,
        "source": source,
        "updated_at": at or utcnow(),
    }
    previous = get_consent(
        session, subject_type=subject_type, subject_value=subject_value, channel=channel
    )
    previous_status = previous.status.value if previous is not None else None
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Consent).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["subject_type", "subject_value", "channel"],
        set_={key: statement.excluded[key] for key in ("status", "source", "updated_at")},
    )
    session.execute(statement)
    if ledger:
        session.add(
            ConsentRecord(
                at=values["updated_at"],
                subject_type=subject_type,
                subject_value=subject_value,
                purpose="marketing",
                channel=channel,
                status=status.value,
                lawful_basis="consent",
                source=source,
                actor=actor,
                text_version="",
                evidence={},
                separate=False,
            )
        )
    current = session.scalars(
        select(Consent)
        .where(
            Consent.subject_type == subject_type,
            Consent.subject_value == subject_value,
            Consent.channel == channel,
        )
        .execution_options(populate_existing=True)
    ).one()
    record(
        session,
        actor=actor,
        action="consent.set",
        object_type="consent",
        object_id=f"{subject_type}:{subject_value}:{channel}",
        details={"from": previous_status, "to": status.value, "source": source},
    )
    return current
