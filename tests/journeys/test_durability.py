"""kill -9 of a real process running journeys, then a second one finishing its work.

The first process runs the journey runtime (small batches, a 2 s lease): its send steps
enqueue into the outbox. It is killed with SIGKILL while a batch is in flight (some
enrolments leased, some steps executed and not yet recorded, others not yet started).
A second process, another lease holder, takes over once the dead one's leases expire,
runs the rest and, with the email channel's worker, delivers to a real SMTP server.
Then: every enrolment finished, every visit has exactly one ``journey_steps`` row, and
the SMTP server received exactly one message per person per send step.

The email worker is not in the killed process: a channel worker killed between the SMTP
server's "250 queued" and its commit of that outcome (a few milliseconds) sends that
message again, with the same Message-ID, after its lease (at-least-once towards the
provider, see docs/channels.md); that is the channel's guarantee, tested by
tests/channels/test_email_kill.py, not the engine's, and would make this count depend on
where the kill lands.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omnichannel.config import Settings
from omnichannel.opstore import open_opstore
from omnichannel.opstore.models import (
    OPEN_ENROLMENT_STATES,
    JourneyEnrolment,
    JourneyStep,
    OutboxMessage,
    OutboxStatus,
    utcnow,
)
from omnichannel.opstore.sealed import home_sealer
from tests.channels.servers.smtp import smtp_server
from tests.cli.run import omni_env
from tests.journeys.e1_support import (
    STEPS_PER_PERSON,
    TWO_MAILS,
    add_journey,
    build_mail_home,
    enrol_people,
    worker_command,
)
from tests.support.cache import built_once, copy_home

PEOPLE = 60
ROOT = Path(__file__).parents[2]


@pytest.fixture
def mail_home(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> tuple[Path, dict]:
    built, profiles = built_once(
        tmp_path_factory,
        f"journey-mail-home-{PEOPLE}",
        lambda directory: build_mail_home(directory / "home", PEOPLE),
    )
    return copy_home(built / "home", tmp_path / "home"), dict(profiles)


def _counts(opstore) -> tuple[int, int, int]:
    """(steps recorded, open enrolments, enrolments held by a lease)."""
    with opstore.session() as session:
        steps = session.scalar(select(func.count()).select_from(JourneyStep))
        open_ = session.scalar(
            select(func.count()).where(JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES))
        )
        # A dead worker's lease stays written until another worker takes the row over.
        leased = session.scalar(
            select(func.count()).where(JourneyEnrolment.lease_holder.is_not(None))
        )
    return int(steps or 0), int(open_ or 0), int(leased or 0)


def _start(home: Path, port: int, env: dict[str, str], *, email: bool) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        worker_command(home, port, lease_seconds=2, batch=10, email=email),
        cwd=ROOT,
        env=omni_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the runtime runs
    assert line.startswith("ready"), process.stderr.read() if process.stderr else line
    return process


def _kill_nine_then_finish(home: Path, profiles: dict[str, str], opstore_url: str | None) -> None:
    env = {"OMNI_OPSTORE_URL": opstore_url} if opstore_url else {}
    settings = Settings(home=home, opstore_url=opstore_url)
    # The workers seal the outbox with the home's keyring; read it with the same keys.
    opstore = open_opstore(settings.resolved_opstore_url, sealer=home_sealer(home))
    with smtp_server() as smtp:
        journey_id = add_journey(opstore, TWO_MAILS)
        subjects = [(p, p) for p in profiles.values()]
        enrol_people(opstore, journey_id, subjects, start="hello", now=utcnow())
        first = _start(home, smtp.port, env, email=False)
        try:
            deadline = time.monotonic() + 120
            # Kill once a third of the steps are recorded while a batch holds leases.
            while time.monotonic() < deadline:
                steps, open_, leased = _counts(opstore)
                if steps >= PEOPLE * STEPS_PER_PERSON // 3 and leased:
                    break
                time.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
        steps_at_kill, open_at_kill, leased_at_kill = _counts(opstore)
        assert open_at_kill > 0 and steps_at_kill < PEOPLE * STEPS_PER_PERSON
        assert leased_at_kill > 0  # the dead worker held enrolments mid-batch
        second = _start(home, smtp.port, env, email=True)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                _, open_, _ = _counts(opstore)
                with opstore.session() as session:
                    unsent = session.scalar(
                        select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)
                    )
                if open_ == 0 and not unsent and len(smtp.messages) >= 2 * PEOPLE:
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # a duplicate delivery, were there one, would arrive by now
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        received = list(smtp.messages)
    with opstore.session() as session:
        rows = list(session.scalars(select(JourneyEnrolment)))
        recorded = Counter(
            (e, v) for e, v in session.execute(select(JourneyStep.enrolment_id, JourneyStep.visit))
        )
        outbox = list(session.scalars(select(OutboxMessage)))
    opstore.close()
    assert len(rows) == PEOPLE and all(not r.is_open for r in rows)
    assert all(r.visit == STEPS_PER_PERSON for r in rows)
    assert len(recorded) == PEOPLE * STEPS_PER_PERSON and set(recorded.values()) == {1}
    assert len(outbox) == 2 * PEOPLE and all(m.status == OutboxStatus.SENT for m in outbox)
    per_person = Counter((m.recipients[0], m.message["Subject"]) for m in received)
    emails = {f"{user}@mail.example" for user in profiles}
    assert set(per_person) == {(e, s) for e in emails for s in ("Hello", "Again")}
    distinct = {(m.recipients[0], m.message["Message-ID"]) for m in received}
    assert len(distinct) == 2 * PEOPLE  # no message was made twice
    assert set(per_person.values()) == {1}  # nor delivered twice


def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(mail_home) -> None:
    home, profiles = mail_home
    _kill_nine_then_finish(home, profiles, None)


@pytest.mark.postgres
def test_a_killed_worker_loses_nothing_on_postgresql(mail_home, postgres_database: str) -> None:
    home, profiles = mail_home
    _kill_nine_then_finish(
        home, profiles, postgres_database.replace("postgresql://", "postgresql+psycopg://")
    )
