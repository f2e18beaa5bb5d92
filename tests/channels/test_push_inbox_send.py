"""Push and the inbox through the one send path: addresses found, opted-out people never reached.

The installation is the channel tests' people (conftest.py); ann's app sends a push token
on one of her events, added here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from omnichannel.channels.inbox import list_inbox
from omnichannel.opstore.consent import PROFILE_SUBJECT, set_consent
from omnichannel.opstore.models import OutboxStatus
from tests.channels.conftest import wait_for
from tests.channels.servers.fcm import PROJECT, FcmStandIn, service_account
from tests.profiles.support import T0

PUSH = {"title": "Back in stock", "body": "Your size is back, {{ profile.profile_id }}"}
NOTE = {"title": "Points", "body": "You have 200 points"}


@pytest.fixture
def fcm() -> Iterator[FcmStandIn]:
    with FcmStandIn().running() as server:
        assert isinstance(server, FcmStandIn)
        yield server


def yaml_for(fcm: FcmStandIn) -> str:
    key = json.dumps(json.dumps(service_account(fcm.base_url + "/token")))
    return (
        "push:\n"
        f"  base_url: {fcm.base_url}\n"
        f"  project_id: {PROJECT}\n"
        f"  service_account_json: {key}\n"
        "  timeout: 2\n"
        "  retry: {max_attempts: 2, base: 0.05, max: 0.1}\n"
        "inbox: {}\n"
    )


def _token_event(platform: Any, user: str, token: str) -> None:
    _devices(platform, user, [token])


def _withhold(platform: Any, profile_id: str, channel: str) -> None:
    with platform.opstore.session() as session:
        set_consent(
            session,
            subject_type=PROFILE_SUBJECT,
            subject_value=profile_id,
            channel=channel,
            status="unsubscribed",
            source="preference_centre",
            actor="test",
        )


def _status(platform: Any, outbox_id: int) -> str:
    return str(platform.messages.get(outbox_id, history=False)["status"])


def test_a_push_goes_to_the_token_of_the_persons_latest_app_event(open_platform, people_home, fcm):
    platform = open_platform(yaml_for(fcm))
    ann = people_home[1]["ann"]
    _token_event(platform, "ann", "ann-device-token")
    queued = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    assert queued["status"] == "queued" and queued["address"] == "ann-device-token"
    bob = platform.messages.send(channel="push", profile_id=people_home[1]["bob"], content=PUSH)
    assert bob["status"] == "dropped" and "push_token" in bob["detail"]  # no app, no token
    platform.channels.start(["push"], poll_seconds=0.05)
    wait_for(
        lambda: _status(platform, queued["outbox_id"]) == OutboxStatus.SENT.value,
        what="the push to be sent",
    )
    (message,) = fcm.messages
    assert message["token"] == "ann-device-token"
    assert message["notification"]["body"] == f"Your size is back, {ann}"


def test_an_uninstalled_app_token_is_suppressed_and_not_tried_again(
    open_platform, people_home, fcm
):
    platform = open_platform(yaml_for(fcm))
    ann = people_home[1]["ann"]
    _token_event(platform, "ann", "gone-token")
    fcm.unregistered.add("gone-token")
    first = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    platform.channels.start(["push"], poll_seconds=0.05)
    wait_for(
        lambda: _status(platform, first["outbox_id"]) == OutboxStatus.FAILED.value,
        what="the push to fail",
    )
    again = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    assert again["status"] == "dropped" and again["reason"] == "suppression"
    assert len(fcm.received("messages:send")) == 1


def test_an_opted_out_person_gets_no_push_and_no_inbox_message(open_platform, people_home, fcm):
    platform = open_platform(yaml_for(fcm))
    ann = people_home[1]["ann"]
    _token_event(platform, "ann", "ann-device-token")
    _withhold(platform, ann, "push")
    _withhold(platform, ann, "inbox")
    platform.channels.start(["push", "inbox"], poll_seconds=0.05)
    push = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    note = platform.messages.send(channel="inbox", profile_id=ann, content=NOTE)
    assert push["status"] == note["status"] == "dropped"
    assert push["reason"] == note["reason"] == "consent"
    # Someone who did not opt out is reached on the same channel by the same workers.
    bob = platform.messages.send(channel="inbox", profile_id=people_home[1]["bob"], content=NOTE)
    assert bob["address"] == "bob"
    wait_for(
        lambda: _status(platform, bob["outbox_id"]) == OutboxStatus.SENT.value,
        what="bob's inbox message",
    )
    assert fcm.received("messages:send") == []
    assert list_inbox(platform.opstore, "ann")["messages"] == []
    assert [m["body"] for m in list_inbox(platform.opstore, "bob")["messages"]] == [NOTE["body"]]


def _devices(platform: Any, user: str, tokens: list[str]) -> None:
    """``user``'s app opened on each device, the last of ``tokens`` most recently."""
    with platform.warehouse.writer() as wh:
        wh.append(
            "events",
            pa.table(
                {
                    "message_id": [f"dev-{user}-{i}" for i in range(len(tokens))],
                    "type": ["track"] * len(tokens),
                    "event": ["Application Opened"] * len(tokens),
                    "user_id": [user] * len(tokens),
                    "timestamp": [T0 + timedelta(days=1, hours=i) for i in range(len(tokens))],
                    "source": ["app"] * len(tokens),
                    "context": [json.dumps({"device": {"token": t}}) for t in tokens],
                    "loaded_at": [T0 + timedelta(days=1)] * len(tokens),
                }
            ),
        )


def _log(platform: Any, outbox_id: int) -> list[tuple[str, str | None]]:
    platform.messages.flush_log()
    with platform.warehouse.reader() as wh:
        t = wh.table("deliveries")
        rows = t.filter(t.outbox_id == outbox_id).select("status", "recipient")
        return sorted((r["status"], r["recipient"]) for r in rows.to_pyarrow().to_pylist())


def test_a_push_reaches_every_device_and_a_dead_one_costs_the_others_nothing(
    open_platform, people_home, fcm
):
    platform = open_platform(yaml_for(fcm))
    ann = people_home[1]["ann"]
    _devices(platform, "ann", ["ann-tablet", "ann-phone"])  # the phone seen last
    fcm.unregistered.add("ann-tablet")  # the app was uninstalled from the tablet
    first = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    assert first["status"] == "queued" and first["address"] == "ann-phone"
    platform.channels.start(["push"], poll_seconds=0.05)
    wait_for(
        lambda: _status(platform, first["outbox_id"]) == OutboxStatus.SENT.value,
        what="the push to be sent",
    )
    # One message, one copy per device: the phone's sent, the tablet's refused as gone.
    asked = [json.loads(r.body)["message"]["token"] for r in fcm.received("messages:send")]
    assert sorted(asked) == ["ann-phone", "ann-tablet"]
    assert [m["token"] for m in fcm.messages] == ["ann-phone"]
    assert _log(platform, first["outbox_id"]) == [
        ("failed", "ann-tablet"),
        ("queued", "ann-phone"),
        ("sent", "ann-phone"),
    ]
    # The dead token is suppressed alone: the next push goes to the phone only, and is sent.
    again = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    assert again["status"] == "queued" and again["address"] == "ann-phone"
    wait_for(
        lambda: _status(platform, again["outbox_id"]) == OutboxStatus.SENT.value,
        what="the second push",
    )
    assert [m["token"] for m in fcm.messages] == ["ann-phone", "ann-phone"]
    assert len(fcm.received("messages:send")) == 3


def test_a_device_that_answers_later_is_retried_alone(open_platform, people_home, fcm):
    platform = open_platform(yaml_for(fcm))
    ann = people_home[1]["ann"]
    _devices(platform, "ann", ["ann-tablet", "ann-phone"])
    fcm.unavailable = 1  # FCM answers one of the two copies 503
    sent = platform.messages.send(channel="push", profile_id=ann, content=PUSH)
    platform.channels.start(["push"], poll_seconds=0.05)
    wait_for(
        lambda: _status(platform, sent["outbox_id"]) == OutboxStatus.SENT.value,
        what="the push to be sent to both devices",
        timeout=30,
    )
    # Each device got its copy once: the retry went to the one that was refused only.
    assert sorted(m["token"] for m in fcm.messages) == ["ann-phone", "ann-tablet"]
    assert len(fcm.received("messages:send")) == 3
    log = _log(platform, sent["outbox_id"])
    assert [e for e in log if e[0] == "sent"] == [("sent", "ann-phone"), ("sent", "ann-tablet")]
    assert len([e for e in log if e[0] == "retrying"]) == 1
