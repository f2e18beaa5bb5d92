"""What marketers define: segments, journeys, and where each profile is in a journey."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnichannel.opstore.models.base import Base, UTCDateTime, str_enum, utcnow


class JourneyStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    LIVE = "live"
    PAUSED = "paused"
    ARCHIVED = "archived"


class EnrolmentState(StrEnum):
    ACTIVE = "active"
    WAITING = "waiting"
    COMPLETED = "completed"
    EXITED = "exited"


# A profile may go through a journey again after it finished, but never be in it twice
# at once: that would send every message twice.
OPEN_ENROLMENT_STATES = (EnrolmentState.ACTIVE, EnrolmentState.WAITING)
_OPEN_STATES_SQL = "state IN ('active', 'waiting')"


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


class JourneyDefinition(Base):
    """An automated strategy: trigger, steps, and its approval state.

    Names are not unique: an archived journey keeps its name and history while a new
    one with the same name is drafted.
    """

    __tablename__ = "journey_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[JourneyStatus] = mapped_column(
        str_enum(JourneyStatus, "journey_status"), default=JourneyStatus.DRAFT, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Actors are recorded by name (a user's email, or e.g. "cli"/"demo") rather than as a
    # foreign key: journeys created by the CLI or a service have no user row.
    created_by: Mapped[str] = mapped_column(String(320))
    approved_by: Mapped[str | None] = mapped_column(String(320), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    enrolments: Mapped[list[JourneyEnrolment]] = relationship(
        back_populates="journey", cascade="all, delete-orphan", passive_deletes=True
    )


class JourneyEnrolment(Base):
    """One profile's passage through one journey; the scheduler polls ``next_run_at``."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        # Enforced by the database, not by the engine, so two scheduler workers racing
        # on the same trigger event cannot both enrol a profile. Both SQLite and
        # PostgreSQL support partial unique indexes.
        Index(
            "uq_journey_enrolments_open",
            "journey_id",
            "profile_id",
            unique=True,
            sqlite_where=text(_OPEN_STATES_SQL),
            postgresql_where=text(_OPEN_STATES_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journey_definitions.id", ondelete="CASCADE"), index=True
    )
    # The journey version the profile entered, so editing a live journey can leave
    # people already in it on the steps they were promised.
    journey_version: Mapped[int] = mapped_column(Integer, default=1)
    profile_id: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[EnrolmentState] = mapped_column(
        str_enum(EnrolmentState, "enrolment_state"), default=EnrolmentState.ACTIVE
    )
    current_step: Mapped[str | None] = mapped_column(String(128), default=None)
    # Per-enrolment memory: the A/B arm drawn, the trigger event's properties, ...
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    journey: Mapped[JourneyDefinition] = relationship(back_populates="enrolments")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ENROLMENT_STATES
