"""The engine tests' helpers: a live journey and enrolments in the opstore, the email
channel pointed at a real SMTP server, and what the engine recorded.

Journeys and enrolments are written as rows (as ``journeys/store.py`` and
``journeys/enrol.py`` make them), so the engine is tested on its own tables.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
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


# --- a home of many people to mail, and a worker process to kill ----------------------


def build_mail_home(home: Path, people: int) -> dict[str, str]:
    """``people`` users (u00, u01...) each with an email, identity resolved; user -> profile."""
    import pyarrow as pa

    from omnichannel.config import Settings
    from omnichannel.installation import initialise
    from tests.profiles.support import T0

    settings = Settings(home=home)
    initialise(settings)
    users = [f"u{n:03d}" for n in range(people)]
    with Platform(settings) as platform:
        with platform.warehouse.writer() as wh:
            rows: dict[str, list[Any]] = {"record_id": [], "id_type": [], "id_value": []}
            for user in users:
                for id_type, value in (("user_id", user), ("email", f"{user}@mail.example")):
                    rows["record_id"].append(f"c-{user}")
                    rows["id_type"].append(id_type)
                    rows["id_value"].append(value)
            n = len(rows["record_id"])
            wh.append(
                "identifiers", pa.table({"source": ["crm"] * n, **rows, "observed_at": [T0] * n})
            )
        platform.identity.resolve()
        with platform.warehouse.reader() as wh:
            pi = wh.table("profile_identifiers")
            found = pi.filter(pi.id_type == "user_id").select("profile_id", "id_value")
            return {r["id_value"]: r["profile_id"] for r in found.to_pyarrow().to_pylist()}


TWO_MAILS = {
    "name": "two-mails",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "hello",
    "steps": {
        "hello": {
            "send": {"channel": "email", "content": {"subject": "Hello", "text": "one"}},
            "next": "pause",
        },
        "pause": {"wait": "1s", "next": "again"},
        "again": {
            "send": {"channel": "email", "content": {"subject": "Again", "text": "two"}},
            "next": "bye",
        },
        "bye": {"exit": {}},
    },
}
STEPS_PER_PERSON = 4  # hello, pause, again, bye


def worker_command(
    home: Path, smtp_port: int, *, lease_seconds: float, batch: int, email: bool = True
) -> list[str]:
    """A real process running the journey runtime and (``email``) the email channel's
    worker, as ``omni worker`` does, until SIGTERM or SIGKILL."""
    return [
        sys.executable,
        "-m",
        "tests.journeys.e1_support",
        str(home),
        str(smtp_port),
        str(lease_seconds),
        str(batch),
        "email" if email else "no-email",
    ]


def _run_worker(home: str, smtp_port: str, lease_seconds: str, batch: str, email: str) -> None:
    import signal
    import threading

    from omnichannel.config import get_settings
    from omnichannel.journeys.runtime import JourneyRuntime

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Platform(get_settings(home=Path(home))) as platform:
        use_smtp(platform, int(smtp_port))
        runtime = JourneyRuntime(
            platform, lease=timedelta(seconds=float(lease_seconds)), batch_size=int(batch)
        )
        if email == "email":
            platform.channels.start(["email"], poll_seconds=0.05)
        runtime.start()
        sys.stdout.write(f"ready {runtime.holder}\n")
        sys.stdout.flush()
        stop.wait()
        runtime.stop()


if __name__ == "__main__":
    _run_worker(*sys.argv[1:6])
