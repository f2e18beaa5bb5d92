"""The engine tests' helpers: a live journey and enrolments in the opstore, the email
channel pointed at a real SMTP server, and what the engine recorded.

Journeys and enrolments are written as rows (as ``journeys/store.py`` and
``journeys/enrol.py`` make them), so the engine is tested on its own tables.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from omnichannel.channels.settings import parse_channels_config
from omnichannel.journeys.definition import parse_journey
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyStep,
    JourneyVersion,
    OutboxMessage,
)
from omnichannel.platform import Platform

EMAIL_CONTENT = {"subject": "Hello {{ profile.first_name or 'friend' }}", "text": "Hi"}


def channels_yaml(smtp_port: int, extra: str = "") -> str:
    """Email to the SMTP stand-in on ``smtp_port``; the webhook endpoint ``crm``."""
    return (
        "email:\n"
        "  host: 127.0.0.1\n"
        f"  port: {smtp_port}\n"
        "  from_address: shop@example.com\n"
        "  starttls: false\n"
        "  rate_per_second: 5000\n"
        "  concurrency: 8\n"
        "  retry: {max_attempts: 5, base: 0.05, max: 0.5}\n"
        "webhook:\n"
        "  endpoints:\n"
        '    crm: {url: "http://127.0.0.1:9/crm", secret: journey-test-secret}\n' + extra
    )


def use_smtp(platform: Platform, smtp_port: int, extra: str = "") -> None:
    platform.messages.use_config(parse_channels_config(channels_yaml(smtp_port, extra)))


def add_journey(
    opstore: OpStore, document: dict[str, Any] | str, *, status: JourneyStatus = JourneyStatus.LIVE
) -> int:
    """A journey at version 1 with ``status`` (live by default); its id."""
    definition = parse_journey(document)
    with opstore.session() as session:
        journey = Journey(
            name=definition.name,
            status=status,
            version=1,
            approved_version=1,
            live_version=1,
            created_by="test",
        )
        session.add(journey)
        session.flush()
        session.add(
            JourneyVersion(
                journey_id=journey.id,
                version=1,
                definition=definition.document(),
                created_by="test",
            )
        )
        return int(journey.id)


def set_status(opstore: OpStore, journey_id: int, status: JourneyStatus) -> None:
    with opstore.session() as session:
        journey = session.get(Journey, journey_id)
        assert journey is not None
        journey.status = status


def enrol_people(
    opstore: OpStore,
    journey_id: int,
    subjects: list[tuple[str, str | None]],
    *,
    start: str,
    now: datetime,
    goal_within: timedelta | None = None,
    context: dict[str, Any] | None = None,
) -> list[int]:
    """One active enrolment per (subject, profile_id), due ``now`` at step ``start``."""
    rows = [
        JourneyEnrolment(
            journey_id=journey_id,
            journey_version=1,
            subject=subject,
            profile_id=profile_id,
            entry_key="",
            entry_ref=f"test:{subject}:{now.isoformat()}",
            open_key=f"{subject}\x1f",
            state=EnrolmentState.ACTIVE,
            step=start,
            visit=0,
            due_at=now,
            context=context or {"event": "Signed Up", "entry": {}},
            goal_until=now + goal_within if goal_within else None,
            entered_at=now,
        )
        for subject, profile_id in subjects
    ]
    with opstore.session() as session:
        session.add_all(rows)
        session.flush()
        return [int(r.id) for r in rows]


def enrolments(opstore: OpStore, journey_id: int) -> dict[str, JourneyEnrolment]:
    """The journey's enrolments by subject."""
    with opstore.session() as session:
        rows = session.scalars(
            select(JourneyEnrolment).where(JourneyEnrolment.journey_id == journey_id)
        )
        return {r.subject: r for r in rows}


def steps_of(opstore: OpStore, enrolment_id: int) -> list[tuple[int, str, str]]:
    """(visit, step, outcome) of each recorded step, in order."""
    with opstore.session() as session:
        rows = session.execute(
            select(JourneyStep.visit, JourneyStep.step, JourneyStep.outcome)
            .where(JourneyStep.enrolment_id == enrolment_id)
            .order_by(JourneyStep.visit)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def step_rows(opstore: OpStore, journey_id: int) -> list[JourneyStep]:
    with opstore.session() as session:
        return list(
            session.scalars(select(JourneyStep).where(JourneyStep.journey_id == journey_id))
        )


def outbox(opstore: OpStore) -> list[OutboxMessage]:
    with opstore.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def per_recipient(messages: list[Any]) -> Counter[str]:
    """How many messages the SMTP server received for each address."""
    return Counter(r for m in messages for r in m.recipients)
