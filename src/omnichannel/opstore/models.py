"""Every table of the operational store, on one ``Base.metadata`` that Alembic compares.

Sections: shared types; access (sources, write keys, users, API tokens, web sessions,
admin tokens, refused anonymous requests); marketing (segments, journeys, enrolments);
channels (the outbox, templates, suppressions, in-app inbox); privacy (consent, audit
log); background jobs; durable event consumers; analytics (alert rules and alerts,
experiments and their exposures).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from omnichannel.opstore.sealed import (
    INBOX_USER,
    OUTBOX_ADDRESS,
    SUPPRESSION_ADDRESS,
    SealedJSON,
    SealedText,
    blind_default,
    unique_key_default,
)

# Named constraints let Alembic drop or alter them later; SQLite's batch mode in
# particular cannot touch an unnamed constraint. Names stay well under PostgreSQL's
# 63-character identifier limit for the table and column names used here.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and would hand back naive
    values, so everything is converted to UTC on the way in and tagged UTC on the way
    out. Naive datetimes are refused rather than guessed at: a local time silently read
    as UTC would shift a journey's send time by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"datetime {value.isoformat()} has no time zone; the operational store "
                "accepts timezone-aware datetimes only (e.g. datetime.now(UTC))"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every operational-store table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        # Enough to recognise a row in a failing test or a log line, never secrets.
        key = getattr(self, "id", None)
        label = getattr(self, "name", None) or getattr(self, "email", None)
        extra = f" {label!r}" if label else ""
        return f"<{type(self).__name__} id={key}{extra}>"


def str_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """A VARCHAR + CHECK column for a ``StrEnum``: portable, and readable in raw SQL.

    Native PostgreSQL enums are avoided because adding a value needs a non-transactional
    ``ALTER TYPE``; a CHECK constraint is altered like any other, on both databases.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


# --- access ----------------------------------------------------------------------


class SourceKind(StrEnum):
    """Source kinds shipped with Omnichannel; decides which connector reads a source."""

    HTTP = "http"
    FILE = "file"
    ECOMMERCE = "ecommerce"
    POS = "pos"
    CRM = "crm"
    SOCIAL = "social"
    ADS = "ads"


class UserRole(StrEnum):
    """Roles of users and API tokens; what each may do is ``omnichannel.access.permissions``."""

    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    APPROVER = "approver"
    VIEWER = "viewer"
    SERVICE_DESK = "service_desk"
    DPO = "dpo"


class Source(Base):
    """One place data comes from (a website, a store's POS export, an ad account)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # Open set (connectors can be added without a migration); ``SourceKind`` lists ours.
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    write_keys: Mapped[list[WriteKey]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class WriteKey(Base):
    """A secret the collector accepts for one source; only its SHA-256 digest is kept.

    The key itself is shown once when created. ``prefix`` (the first few characters)
    lets an operator tell keys apart in a list without the list being a leak.
    """

    __tablename__ = "write_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    # Hex SHA-256; unique so the collector's lookup is one index probe.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    source: Mapped[Source] = relationship(back_populates="write_keys")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class User(Base):
    """A person (or a service account) who signs in to the UI or API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role"))
    # Null for accounts that cannot sign in with a password (service accounts, SSO).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A one-time password (``omni init``, a reset by an admin) must be changed at login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiToken(Base):
    """A user's bearer token for programs, scoped to a role no wider than the user's own.

    Only its SHA-256 digest is kept (256 random bits: a fast hash is enough); shown once.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "api_token_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebSession(Base):
    """A signed-in browser: the cookie carries the secret, the row its digest and expiry."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The synchronizer token every state-changing form and htmx request must carry.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AdminToken(Base):
    """A bearer token for the management and profile routes; only its SHA-256 digest is kept.

    Made by ``omni init`` (shown once) and replaced by ``omni admin token``; until users
    and roles arrive, holding an active token is being an administrator.
    """

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UnauthorizedCount(Base):
    """Collector requests refused for want of a valid write key, counted per UTC hour.

    All are counted here; only a bounded sample of them is kept in dead letters, so
    anonymous traffic cannot fill the event log.
    """

    __tablename__ = "unauthorized_requests"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # "missing_key" or "invalid_key" (unknown or revoked).
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    sampled: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


# --- marketing -------------------------------------------------------------------


class SegmentDefinition(Base):
    """A named condition tree over profiles; membership itself lives in the warehouse."""

    __tablename__ = "segment_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # JSON columns are not mutation-tracked: assign a new dict to change a definition.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Bumped on every change of the definition, so memberships can say which one made them.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JourneyStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    LIVE = "live"
    PAUSED = "paused"
    ARCHIVED = "archived"


class EnrolmentState(StrEnum):
    ACTIVE = "active"  # due to run its current step at ``due_at``
    WAITING = "waiting"  # waiting for an event (or its timeout at ``due_at``)
    COMPLETED = "completed"  # came to the end of a path, or reached the goal
    EXITED = "exited"  # an exit step, the goal with exit, a paused-and-archived journey


OPEN_ENROLMENT_STATES = (EnrolmentState.ACTIVE, EnrolmentState.WAITING)


class Journey(Base):
    """An automated strategy: its name, lifecycle and which version runs (rev 0007).

    The document itself is in ``journey_versions``: every save is a new version, and the
    live version is the one approved, so a draft edit never changes what people in flight
    go through. Actors are recorded by name (a user's email, "cli", "demo").
    """

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[JourneyStatus] = mapped_column(
        str_enum(JourneyStatus, "journey_status"), default=JourneyStatus.DRAFT, index=True
    )
    # The newest saved version, the one approved, and the one new entries follow.
    version: Mapped[int] = mapped_column(Integer, default=1)
    approved_version: Mapped[int | None] = mapped_column(Integer, default=None)
    live_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(320))
    approved_by: Mapped[str | None] = mapped_column(String(320), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JourneyVersion(Base):
    """One saved version of a journey's document (JSON, as ``journeys.definition`` parses)."""

    __tablename__ = "journey_versions"

    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyEnrolment(Base):
    """One person's passage through one journey (per entry key): where they are, when
    their next step is due, and which worker holds them.

    Two constraints the database enforces, so neither a replayed event nor two workers
    racing can break them: one enrolment per entry (``entry_ref``: the entry event's
    message id, a schedule's tick), and one open enrolment per person and entry key
    (``open_key`` is set while open and NULL once finished; NULLs never collide).
    """

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        UniqueConstraint("journey_id", "entry_ref"),
        UniqueConstraint("journey_id", "open_key"),
        # The engine's queue: open enrolments by when they are due.
        Index("ix_journey_enrolments_due", "state", "due_at"),
        # The trigger's lookup of people waiting for an event.
        Index("ix_journey_enrolments_waiting", "wait_event", "subject"),
        Index("ix_journey_enrolments_person", "subject", "journey_id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    # The version entered: editing a live journey leaves people in flight on theirs.
    journey_version: Mapped[int] = mapped_column(Integer)
    # Who: the profile, or (before their profile is built) the identifier of the entry
    # event, "user_id:42"; ``subject`` is whichever is known, the key of uniqueness.
    profile_id: Mapped[str | None] = mapped_column(String(128), default=None)
    subject: Mapped[str] = mapped_column(String(300))
    entry_key: Mapped[str] = mapped_column(String(300), default="")
    entry_ref: Mapped[str] = mapped_column(String(300))
    open_key: Mapped[str | None] = mapped_column(String(700), default=None)
    state: Mapped[EnrolmentState] = mapped_column(
        str_enum(EnrolmentState, "enrolment_state"), default=EnrolmentState.ACTIVE
    )
    # The step to run next, and how many steps this enrolment has run before it: the
    # pair (enrolment, visit) names each execution, once.
    step: Mapped[str | None] = mapped_column(String(64), default=None)
    visit: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A wait_for step: the event awaited (its timeout is ``due_at``), and when it came.
    wait_event: Mapped[str | None] = mapped_column(String(200), default=None)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The split arm drawn ("holdout" for people held out), for Measurement.
    arm: Mapped[str | None] = mapped_column(String(64), default=None)
    # The entry event's properties and what steps learned (matched event, ...).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    goal_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    exit_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Held by a worker until ``lease_until``; a dead worker's enrolments are taken over.
    lease_holder: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ENROLMENT_STATES


class JourneyStep(Base):
    """One executed step of one enrolment, written in the transaction that moves the
    enrolment on: a step recorded here is never run again (unique per visit)."""

    __tablename__ = "journey_steps"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "visit"),
        # Counts per step and branch.
        Index("ix_journey_steps_journey", "journey_id", "step"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("journey_enrolments.id", ondelete="CASCADE")
    )
    journey_id: Mapped[int] = mapped_column(Integer)
    visit: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    # What happened: the route taken ("next", "then", "on_timeout", an arm's name), or
    # the send's status; detail says more (the outbox id's reason, the matched event).
    outcome: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- channels --------------------------------------------------------------------


class MessageKind(StrEnum):
    """Marketing messages obey frequency caps and quiet hours; transactional ones (a
    receipt, a password reset) are exempt from both, never from consent or suppression
    of their own channel."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class OutboxStatus(StrEnum):
    QUEUED = "queued"  # waiting for its channel's worker (next_attempt_at: not before)
    HELD = "held"  # kept back by a rule that ends (quiet hours) until next_attempt_at
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"  # the provider accepted it
    FAILED = "failed"  # permanent failure or retries exhausted: the channel's dead letter
    DROPPED = "dropped"  # a rule said never (consent, suppression, frequency cap)


class OutboxMessage(Base):
    """One message to one person on one channel: the durable queue of every channel and
    the record of what became of the message.

    Every send path (journeys, campaigns, test sends, the API) inserts here and nowhere
    else, so the checks of ``channels.policy`` cannot be skipped by one of them. Each
    channel's worker claims only its own rows, so a hung provider holds up nothing else.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claim", "channel", "status", "next_attempt_at"),
        Index("ix_outbox_profile_sent", "profile_id", "sent_at"),
        # Provider callbacks (Twilio status, WeChat job finished) find their message by
        # the provider's id (revision 0006).
        Index("ix_outbox_provider_message", "channel", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    # Unique: a retried request, a replayed journey step or a double click enqueues once.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind, "message_kind"))
    profile_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # Where it goes on that channel: an email address, an E.164 phone, a device token, an
    # OpenID, an inbox user id, a webhook endpoint name. Sealed at rest (opstore/sealed.py);
    # address_key is its blind index, what frequency caps and erasure look it up by.
    address: Mapped[str] = mapped_column(SealedText(OUTBOX_ADDRESS))
    # Not indexed, as the address never was: the caps' query is not made slower by an
    # index SQLite prefers and that selects little (many messages go to one endpoint).
    address_key: Mapped[str | None] = mapped_column(
        String(64), default=blind_default("address", OUTBOX_ADDRESS)
    )
    template: Mapped[str | None] = mapped_column(String(200), default=None)
    template_version: Mapped[int | None] = mapped_column(Integer, default=None)
    # Who asked: "journey", "campaign", "test", "api"; and which one.
    origin: Mapped[str] = mapped_column(String(32), default="api")
    campaign: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    journey_id: Mapped[int | None] = mapped_column(Integer, default=None)
    journey_step: Mapped[str | None] = mapped_column(String(128), default=None)
    # The rendered message, in the channel's parts (subject/text/html, title/body/data...).
    content: Mapped[dict[str, Any]] = mapped_column(SealedJSON("outbox.content"), default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.QUEUED
    )
    # The rule that held or dropped it ("consent", "suppression", "cap:marketing_week",
    # "quiet_hours", ...) or why it failed; detail says more in words.
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Sealed: it quotes the address ("ann@x.com is suppressed on email").
    reason_detail: Mapped[str | None] = mapped_column(
        SealedText("outbox.reason_detail"), default=None
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lease_holder: Mapped[str | None] = mapped_column(String(256), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(256), default=None)
    # The provider's last answer (status line and body, trimmed): what a dead letter shows.
    # Sealed: providers echo the recipient (Twilio's answer names the "to" phone).
    provider_response: Mapped[str | None] = mapped_column(
        SealedText("outbox.provider_response"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MessageTemplate(Base):
    """A named message for one channel; its content lives in numbered versions."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[MessageKind] = mapped_column(
        str_enum(MessageKind, "message_kind"), default=MessageKind.MARKETING
    )
    description: Mapped[str] = mapped_column(Text, default="")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    versions: Mapped[list[MessageTemplateVersion]] = relationship(
        back_populates="template", cascade="all, delete-orphan", passive_deletes=True
    )


class MessageTemplateVersion(Base):
    """One saved version of a template; never changed, so a sent message can always say
    exactly what it was rendered from."""

    __tablename__ = "message_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("message_templates.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    # The channel's parts as Jinja2 sources: {"subject", "text", "html"} for email,
    # {"body"} for SMS, {"title", "body", "data"} for push, {"template_id", "data", "url"}
    # for WeChat, {"body"} (a JSON template) for webhooks.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[MessageTemplate] = relationship(back_populates="versions")


class Suppression(Base):
    """An address a channel must not send to: a hard bounce, a complaint, a manual block.

    Keyed by the address, not the profile: a bounced mailbox stays dead whichever
    profile it is later stitched into. ``expires_at`` lets a soft rule lapse.
    """

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    # Sealed at rest (opstore/sealed.py); address_key, its blind index, is what the list is
    # keyed and looked up by. A row written before sealing, or by a store without a
    # keyring, holds the clear address in both (revision 0022).
    address: Mapped[str] = mapped_column(SealedText(SUPPRESSION_ADDRESS))
    address_key: Mapped[str] = mapped_column(
        String(512), default=unique_key_default("address", SUPPRESSION_ADDRESS)
    )
    # "hard_bounce", "complaint", "manual", "invalid_address", ...
    reason: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class InboxMessage(Base):
    """A message waiting in a person's in-app inbox, fetched by the app."""

    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    profile_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # The id the app knows the person by (the Segment userId it sends events with), sealed
    # at rest like the message; the app's inbox is looked up by its blind index user_key.
    user_id: Mapped[str] = mapped_column(SealedText(INBOX_USER))
    user_key: Mapped[str | None] = mapped_column(
        String(64), default=blind_default("user_id", INBOX_USER), index=True
    )
    title: Mapped[str] = mapped_column(SealedText("inbox_messages.title"), default="")
    body: Mapped[str] = mapped_column(SealedText("inbox_messages.body"), default="")
    data: Mapped[dict[str, Any]] = mapped_column(SealedJSON("inbox_messages.data"), default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


# --- privacy ---------------------------------------------------------------------


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


class ConsentRecord(Base):
    """One consent decision as it was made, never changed: the ledger's history.

    ``consents`` holds the current marketing decision per channel (what the send path
    reads); this table holds every decision on every purpose, with who recorded it,
    where, on which lawful basis, with what evidence and under which text version
    (``omnichannel.privacy.ledger``).
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_subject", "subject_type", "subject_value"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_value: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(32))
    # A channel, or "*": the decision holds on every channel (analytics, profiling...).
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    lawful_basis: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128), default="")
    actor: Mapped[str] = mapped_column(String(320), default="")
    text_version: Mapped[str] = mapped_column(String(64), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # PIPL art. 29/39: sensitive data and transfers abroad need a separate consent.
    separate: Mapped[bool] = mapped_column(Boolean, default=False)


class PrivacyRequest(Base):
    """A data-subject request (export or erasure), tracked to its legal deadline.

    The subject is kept only as keyed hashes of their identifiers, so a finished
    erasure leaves nothing here that names the person.
    """

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # export | erasure
    regulation: Mapped[str] = mapped_column(String(16))  # gdpr | pipl
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | failed
    subject_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(320))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class ErasedIdentifier(Base):
    """The suppression list: a keyed hash of each identifier of an erased person, so
    later events carrying it are dropped instead of re-creating them."""

    __tablename__ = "erased_identifiers"

    identifier_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerExchange(Base):
    """A file of salted identifier hashes sent to or received from a partner
    (``privacy/partners.py``): never an identifier in clear, only counts kept of a match.
    A received file is kept in the home until ``expires_at``, then removed (``purged_at``).
    """

    __tablename__ = "partner_exchanges"
    __table_args__ = (Index("ix_partner_exchanges_partner", "partner", "direction"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(16))  # sent | received
    audience: Mapped[str] = mapped_column(String(200), default="")
    file: Mapped[str] = mapped_column(String(1000))
    # The first hex digits of SHA-256 of the shared salt: which salt, never the salt.
    salt_fingerprint: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


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
    # Sealed at rest (opstore/sealed.py): details and states often quote identifiers.
    details: Mapped[dict[str, Any]] = mapped_column(SealedJSON("audit_log.details"), default=dict)
    # The object's state before and after the change (None: it did not exist / is gone).
    before: Mapped[Any] = mapped_column(SealedJSON("audit_log.before"), nullable=True, default=None)
    after: Mapped[Any] = mapped_column(SealedJSON("audit_log.after"), nullable=True, default=None)


# --- background jobs -------------------------------------------------------------


class JobRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(Base):
    """One run of a background job: when, why, how far, what it did, or why it failed."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(128), index=True)
    # "schedule", "manual" (CLI/API), or "event" (triggered by new data).
    trigger: Mapped[str] = mapped_column(String(32))
    # Which process ran it: host, pid and a random tag, as in the job's lock.
    runner: Mapped[str] = mapped_column(String(256))
    status: Mapped[JobRunStatus] = mapped_column(str_enum(JobRunStatus, "job_run_status"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    rows: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Latest progress report {"stage": ..., "done": n, "total": m}, and the job's summary.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class JobLock(Base):
    """Who holds a job right now, until when: two runs of one job never overlap,
    whether they start in one process (schedule and a manual run) or two (serve, worker)."""

    __tablename__ = "job_locks"

    job: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- durable event consumers -----------------------------------------------------


class ConsumerCheckpoint(Base):
    """How far one durable consumer has read ``events``, by ``load_seq``."""

    __tablename__ = "consumer_checkpoints"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- alerts (analytics/alerts/) ----------------------------------------------------


class AlertRule(Base):
    """A stored alert rule: its kind and its checked document (docs/alerts.md)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """One alert: a rule's subject out of its normal range, opened and later resolved."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_subject_state", "rule_name", "subject", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64))
    # What the rule watched: a KPI and its filters, a source/event, a campaign, a funnel step.
    subject: Mapped[str] = mapped_column(String(320))
    # open or resolved.
    state: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[float | None] = mapped_column(default=None)
    low: Mapped[float | None] = mapped_column(default=None)
    high: Mapped[float | None] = mapped_column(default=None)
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320), default=None)


# --- experiments (analytics/experiments/) -------------------------------------------


class Experiment(Base):
    """A stored experiment: its checked document (docs/experiments.md) and its state."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    # running (assigns and records exposures) or stopped (assigns, records nothing new).
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by stop (revision 0011): the arm it was concluded with (everyone gets it from
    # then on), or NULL when stopped without one.
    winner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class ExperimentExposure(Base):
    """A person's first exposure to an experiment: the variant drawn and when.

    One row per (experiment, person): the assignment is a pure function of the salt and
    the person, so the row records *when* the person was first shown it (the start of
    their metric window) and is what the analysis counts.
    """

    __tablename__ = "experiment_exposures"
    __table_args__ = (Index("ix_experiment_exposures_variant", "experiment_id", "variant"),)

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    person: Mapped[str] = mapped_column(String(300), primary_key=True)
    variant: Mapped[str] = mapped_column(String(64))
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- surveys (C19): definitions and versions, invitations (links), responses ----------


class Survey(Base):
    """A survey (NPS, CSAT, CES or custom) by name; its documents are ``survey_versions``."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyVersion(Base):
    """One saved document of a survey; answers keep the version they were given on."""

    __tablename__ = "survey_versions"

    survey_id: Mapped[int] = mapped_column(
        ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyInvitation(Base):
    """One signed link: a person asked on a channel (a message, an in-app prompt) or a
    store receipt's QR code. ``link_key`` makes a retried send reuse its link."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        Index("ix_survey_invitations_profile_id_created_at", "profile_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    link_key: Mapped[str] = mapped_column(String(300), unique=True)
    profile_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    store: Mapped[str | None] = mapped_column(String(100), nullable=True)
    receipt: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(Base):
    """The answers given through one link (one per link: a replay is refused), kept
    as they come (partial until ``completed_at``)."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_survey_id_started_at", "survey_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="CASCADE"), unique=True
    )
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column(nullable=True)
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- models (C14): every trained version, its metrics over time, the one in use ---------


class ModelVersion(Base):
    """One trained version of a model (``models/``): its algorithm, artefact and scores.

    ``status`` is ``trained`` (a candidate), ``active`` (the one in use; at most one per
    model) or ``retired`` (was active, replaced). ``metrics`` are the training evaluation's
    (the time split's scores); ``model_evaluations`` keeps every evaluation since.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model", "version"),
        Index("ix_model_versions_status", "model", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    algorithm: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="trained")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    primary_metric: Mapped[str] = mapped_column(String(64))
    # Relative to the home: models/<model>/v<version>.pkl
    artefact: Mapped[str] = mapped_column(String(500))
    trained_by: Mapped[str] = mapped_column(String(320))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ModelEvaluation(Base):
    """One evaluation of a model version: its scores on a time split, when and why."""

    __tablename__ = "model_evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The split: cut-off and held-out days, people scored.
    split: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(64))


# --- teams and reports (reports/) ----------------------------------------------------


class Team(Base):
    """A named set of users a report can be shared with (docs/access.md, "Teams")."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    """One user in one team."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A saved report: its owner, who it is shared with, its schedule; versions below."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(320), index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    # {"every": "day"|"week"|"month", "hour": 0-23, "weekday": 0-6, "day": 1-28} or None.
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportVersion(Base):
    """Every saved definition of a report (metric, dimensions, filters, presentation)."""

    __tablename__ = "report_versions"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- collaboration (collaboration/) and large sends (channels/large_sends.py) ---------


class Comment(Base):
    """A comment on a segment, journey or report; ``edits`` keeps each earlier body."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_subject", "subject_kind", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    # Emails of the users it mentions (resolved when written).
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Earlier bodies, oldest first: [{"body", "until"}].
    edits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Notification(Base):
    """Something for one user to see: a mention of them in a comment (the bell)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_email", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(320))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(200))
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LargeSend(Base):
    """A send to a segment above ``OMNI_LARGE_SEND_THRESHOLD`` people, waiting for (or
    given) a second person's approval; nothing is queued until it is approved."""

    __tablename__ = "large_sends"
    __table_args__ = (Index("ix_large_sends_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # pending_approval -> sending -> sent, or rejected
    status: Mapped[str] = mapped_column(String(24), default="pending_approval")
    segment: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(32))
    template: Mapped[str | None] = mapped_column(String(100), nullable=True)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    audience: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # What the send did once approved (send_segment's counts).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# --- commerce (commerce/: catalogue listings, inventory, orders) -------------------


class ChannelListing(Base):
    """One product (our SKU) on one sales channel: that channel's own code, whether it
    is listed there (assortment), its title and price there, attributes."""

    __tablename__ = "channel_listings"
    __table_args__ = (
        UniqueConstraint("sku", "channel"),
        UniqueConstraint("channel", "channel_sku"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_sku: Mapped[str] = mapped_column(String(128))
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    price: Mapped[float | None] = mapped_column(default=None)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLocation(Base):
    """Where stock is: a warehouse, a store or stock in transit; what routing weighs."""

    __tablename__ = "stock_locations"
    __table_args__ = (CheckConstraint("kind IN ('warehouse', 'store', 'transit')", name="kind"),)

    location_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Local opening hours "HH:MM"; NULL: always open (a warehouse).
    opens: Mapped[str | None] = mapped_column(String(5), nullable=True)
    closes: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # Orders it can fulfil per local day; NULL: no limit.
    capacity_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What one shipment from here costs (pick, pack, carrier base).
    ship_cost: Mapped[float] = mapped_column(default=0.0)
    pickup: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLevel(Base):
    """One SKU at one location. The CHECKs are the last line against oversell: no
    update can leave fewer units on hand than are reserved."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved"),
        CheckConstraint("safety_stock >= 0", name="safety_stock"),
    )

    location_id: Mapped[str] = mapped_column(
        ForeignKey("stock_locations.location_id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockAvailable(Base):
    """Per SKU and location kind: the units that can be promised and how many levels count.

    Kept by triggers (``rev0020_stock_available``) in the transaction that changes a level
    or a location's kind, whatever path wrote it, so available-to-promise of a whole
    catalogue reads 100,000 x 3 rows instead of summing 20,000,000 levels.
    ``units`` sums ``max(0, on hand - reserved - safety stock)`` over the levels.
    """

    __tablename__ = "stock_available"

    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    units: Mapped[int] = mapped_column(Integer, default=0)
    levels: Mapped[int] = mapped_column(Integer, default=0)


class StockReservation(Base):
    """Units held for an order or a cart until ``expires_at``; keyed for retries."""

    __tablename__ = "stock_reservations"
    __table_args__ = (Index("ix_stock_reservations_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reservation_key: Mapped[str] = mapped_column(String(200), unique=True)
    location_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    order_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # active -> released | expired | fulfilled
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockMovement(Base):
    """The inventory ledger: every change of a stock level, in order, once per key."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_location_sku", "location_id", "sku"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The movement's idempotency key (a POS ticket line, a reservation's step...).
    movement_key: Mapped[str] = mapped_column(String(300), unique=True)
    location_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    on_hand_change: Mapped[int] = mapped_column(Integer, default=0)
    reserved_change: Mapped[int] = mapped_column(Integer, default=0)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommerceOrder(Base):
    """An order of any channel as fulfilment sees it: lines, routing, current status."""

    __tablename__ = "commerce_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    customer: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # pickup (buy online, pick up in store) or ship (from a store or a warehouse).
    fulfilment: Mapped[str] = mapped_column(String(16))
    pickup_location: Mapped[str | None] = mapped_column(String(64), nullable=True)
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(24), default="received", index=True)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderShipment(Base):
    """One location's part of a routed order (several for a split shipment)."""

    __tablename__ = "order_shipments"
    __table_args__ = (Index("ix_order_shipments_location_day", "location_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("commerce_orders.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[str] = mapped_column(String(64))
    # pickup_in_store, ship_from_store or ship_from_warehouse
    method: Mapped[str] = mapped_column(String(24))
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The location's local day it counts against (capacity per day).
    day: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderStatusChange(Base):
    """An order's status history, in order."""

    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("commerce_orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(320), default="system")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- budget (C12): plans for a period and, after it, their outcomes ---------------------


class BudgetPlan(Base):
    """A budget split stored for a period (``budget/loop.py``): what was recommended per
    channel and what the response model predicted of it, with its interval.

    ``status`` is ``planned`` until the period is over and evaluated, then ``evaluated``.
    ``channels`` and ``predicted`` are ``allocate``'s rows and outcome; ``model`` the curves
    the prediction came from (without their draws) and where they came from.
    """

    __tablename__ = "budget_plans"
    __table_args__ = (Index("ix_budget_plans_period", "starts", "ends"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(8))  # day or week: the model's
    starts: Mapped[str] = mapped_column(String(10))  # ISO date, inclusive
    ends: Mapped[str] = mapped_column(String(10))  # ISO date, exclusive
    goal: Mapped[str] = mapped_column(String(16))
    total: Mapped[float] = mapped_column(Float)  # per period
    target: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    channels: Mapped[list[Any]] = mapped_column(JSON)
    predicted: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BudgetOutcome(Base):
    """After a plan's period, one channel's predicted against actual (``(total)`` for all)."""

    __tablename__ = "budget_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("budget_plans.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(100))
    planned_spend: Mapped[float] = mapped_column(Float)
    actual_spend: Mapped[float] = mapped_column(Float)
    predicted: Mapped[float] = mapped_column(Float)
    predicted_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    predicted_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The curve's effect at what was actually spent: a miss of plan apart from the model's.
    predicted_at_actual: Mapped[float] = mapped_column(Float)
    actual: Mapped[float | None] = mapped_column(Float, nullable=True)
    actual_orders: Mapped[int] = mapped_column(Integer, default=0)
    actual_revenue: Mapped[float] = mapped_column(Float, default=0.0)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
