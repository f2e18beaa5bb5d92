"""The runtime as ``omni serve`` runs it: started with the server's background work, it
runs steps as they come due (woken by entries, else at the earliest due time), sends
through the channel workers to a real SMTP server, reports in ``/metrics``, and stops
with the server."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from omnichannel.api.services import Services
from omnichannel.opstore.models import EnrolmentState, utcnow
from tests.channels.servers.smtp import smtp_server
from tests.journeys.e1_support import (
    EMAIL_CONTENT,
    add_journey,
    channels_yaml,
    enrol_people,
    enrolments,
    per_recipient,
)

MAIL = {
    "name": "served",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "soon",
    "steps": {
        "soon": {"wait": "2s", "next": "hello"},
        "hello": {"send": {"channel": "email", "content": EMAIL_CONTENT}, "next": "bye"},
        "bye": {"exit": {}},
    },
}


def _until(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_the_server_runs_due_steps_as_they_come_due_and_reports_them(journey_home):
    switch = sys.getswitchinterval()
    profiles = journey_home.profiles
    with smtp_server() as smtp:
        (journey_home.home / "channels.yaml").write_text(channels_yaml(smtp.port))
        settings = journey_home.settings.model_copy(
            update={"job_schedules": "profiles=off,segments=off,audiences=off,inbox=off"}
        )
        services = Services(settings)
        try:
            services.start_background()
            runtime = services.platform.journeys.runtime
            assert runtime.running
            journey_id = add_journey(services.platform.opstore, MAIL)
            people = [(profiles[p], profiles[p]) for p in ("ann", "bob", "eve")]
            enrol_people(services.platform.opstore, journey_id, people, start="soon", now=utcnow())
            runtime.wake()  # what entries do after enrolling
            opstore = services.platform.opstore

            def finished() -> bool:
                rows = enrolments(opstore, journey_id).values()
                return all(r.state == EnrolmentState.EXITED for r in rows)

            # The 2 s wait ends while the runtime sleeps: it wakes at the due time itself.
            assert _until(finished), enrolments(opstore, journey_id)
            assert _until(lambda: len(smtp.messages) == 2)
            assert per_recipient(smtp.messages) == {"john.smith@gmail.com": 1, "bob@mail.cn": 1}
            body, _ = services.metrics.exposition()
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(body.decode())
                for s in family.samples
            }
            assert (
                samples[("omni_journey_steps_total", (("kind", "wait"), ("outcome", "next")))] == 3
            )
            assert (
                samples[("omni_journey_steps_total", (("kind", "send"), ("outcome", "queued")))]
                == 2
            )
            assert (
                samples[("omni_journey_steps_total", (("kind", "send"), ("outcome", "dropped")))]
                == 1
            )
            assert samples[("omni_journey_runtime_up", ())] == 1
            assert samples[("omni_journey_due_backlog", ())] == 0
            # The wait, then the send and the exit together (run one after the other in a batch).
            assert samples[("omni_journey_batch_seconds_count", ())] >= 2
        finally:
            services.close()
            sys.setswitchinterval(switch)
    assert not runtime.running  # stopped with the server


def test_an_idle_runtime_sleeps_until_the_earliest_due_step(platform, journey_home):
    from omnichannel.journeys.runtime import JourneyRuntime

    profiles = journey_home.profiles
    journey_id = add_journey(platform.opstore, MAIL)
    now = utcnow()
    enrol_people(
        platform.opstore, journey_id, [(profiles["ann"], profiles["ann"])], start="soon", now=now
    )
    runtime = JourneyRuntime(platform, idle_seconds=600)
    assert runtime.run_due(now=now) == 1
    # Next due in 2 s: the thread sleeps that long (not the idle maximum, not zero).
    assert 0 < runtime._sleep_seconds() <= 2.0
    later = JourneyRuntime(platform, idle_seconds=600)
    later.run_due(now=now + timedelta(seconds=2))  # the send, then the exit
    assert later.run_due(now=now + timedelta(seconds=2)) == 0
    assert later._sleep_seconds() == 600  # nothing open: the idle maximum
