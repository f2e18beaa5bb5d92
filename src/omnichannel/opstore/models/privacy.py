"""Consent per subject and channel, and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnichannel.opstore.models.base import Base, UTCDateTime, str_enum, utcnow

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    WECHAT = "wechat"
    WEBHOOK = "webhook"
    ADS = "ads"
    PHONE = "phone"
    MAIL = "mail"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    UNSUBSCRIBED = "unsubscribed"


class Consent(Base):
    """The current consent of one subject for one channel.

    A subject is a profile (``subject_type='profile'``) or a raw identifier such as
    ``email``/``phone`` when consent arrives before the person is stitched into a
    profile (an unsubscribe link, a store sign-up sheet). Both parts are NOT NULL so
    the unique constraint holds: SQL treats NULLs as distinct, which would let two
    "current" rows slip in. History is kept in the audit log, not here.
    """

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("subject_type", "subject_value", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_value: Mapped[str] = mapped_column(String(320))
    # A plain string, not an enum constraint: channel adapters can be added by plugins,
    # and a new channel must not need a schema migration. ``ConsentChannel`` lists ours.
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[ConsentStatus] = mapped_column(str_enum(ConsentStatus, "consent_status"))
    # Where the decision was captured: "preference_centre", "unsubscribe_link", "pos", ...
    source: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One thing someone did. Rows are only ever inserted (see ``opstore.audit``)."""

    __tablename__ = "audit_log"

    # Order of insertion is the order of ``id``; ``at`` can tie or step back with clocks.
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
