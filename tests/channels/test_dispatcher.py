"""Channel workers against real servers: a webhook receiver that hangs, answers 500 or 429,
beside an SMS provider stand-in (Twilio's wire shape) that works. One failing provider
delays nothing else; retries, the breaker, dead letters and suppressions do their part.

Ordering, not timing: "the SMS was sent while the webhook request was still held open".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from omnichannel.opstore.consent import set_consent
from tests.channels.conftest import channels_yaml, settled_history, wait_for
from tests.channels.servers.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn

BODY = {"body": {"n": 1}}


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    with TwilioStandIn().running() as server:
        assert isinstance(server, TwilioStandIn)
        yield server


def _yaml(receiver, twilio, *, timeout: float = 0.5) -> str:
    text = channels_yaml(receiver).replace("  timeout: 0.5\n", f"  timeout: {timeout}\n")
    return text + (
        f"sms: {{base_url: '{twilio.base_url}', account_sid: {ACCOUNT_SID}, "
        f"auth_token: {AUTH_TOKEN}, from_number: '+15005550006', timeout: 2, "
        "retry: {max_attempts: 3, base: 0.05, max: 0.2}}\n"
    )


def _status(platform, outbox_id):
    return platform.messages.get(outbox_id, history=False)["status"]


def _health(platform):
    return {c["channel"]: c for c in platform.channels.status()}


def _sms_to_ann(platform, ids):
    sent = platform.messages.send(channel="sms", profile_id=ids["ann"], content={"body": "Hi"})
    wait_for(lambda: _status(platform, sent["outbox_id"]) == "sent", what="the SMS sent")
    return sent


def test_a_hanging_webhook_endpoint_holds_up_neither_sms_nor_other_endpoints(
    open_platform, receiver, twilio, people_home
):
    _, ids = people_home
    platform = open_platform(_yaml(receiver, twilio, timeout=30))
    platform.channels.start(["webhook", "sms"], poll_seconds=0.1)
    # More hung messages than the channel has slots: the endpoint's share holds them.
    hung, *_ = (
        platform.messages.send(channel="webhook", address="hang", content=BODY) for _ in range(20)
    )
    wait_for(lambda: len(receiver.received("/hang/")) == 8, what="the hanging requests")
    ok = platform.messages.send(channel="webhook", address="ok", content=BODY)
    wait_for(lambda: _status(platform, ok["outbox_id"]) == "sent", what="the other endpoint")
    _sms_to_ann(platform, ids)
    assert twilio.messages[0]["To"] == "+8613800000001"
    # All this while the hanging request was still open and its message unsettled.
    assert _status(platform, hung["outbox_id"]) == "sending"
    webhook = _health(platform)["webhook"]
    assert webhook["sending"] == 20 and webhook["breaker"] == "closed"
    assert len(receiver.received("/hang/")) == 8, "half the channel's 16 slots, no more"
    receiver.release()


def test_a_webhook_answering_500_opens_its_own_breaker_and_fails_after_its_retries(
    open_platform, receiver, twilio, people_home
):
    _, ids = people_home
    platform = open_platform(_yaml(receiver, twilio))
    platform.channels.start(["webhook", "sms"], poll_seconds=0.1)
    failing = [
        platform.messages.send(channel="webhook", address="fail", content=BODY) for _ in range(3)
    ]
    webhook = wait_for(
        lambda: (w := _health(platform)["webhook"])["open_breakers"] == ["fail"] and w,
        what="the failing endpoint's breaker to open",
    )
    assert webhook["error_rate"] > 0 and "HTTP 500" in webhook["last_error"]
    # Its breaker is its own: another endpoint of the channel, and SMS, go on.
    assert webhook["breaker"] == "closed"
    ok = platform.messages.send(channel="webhook", address="ok", content=BODY)
    wait_for(lambda: _status(platform, ok["outbox_id"]) == "sent", what="the other endpoint")
    _sms_to_ann(platform, ids)
    assert _health(platform)["sms"]["breaker"] == "closed"
    for message in failing:
        wait_for(
            lambda m=message: _status(platform, m["outbox_id"]) == "failed", what="dead letter"
        )
    dead = platform.messages.get(failing[0]["outbox_id"])
    assert dead["reason"] == "retries_exhausted" and dead["attempts"] == 3
    assert "HTTP 500 POST" in dead["provider_response"]
    events = [h["status"] for h in settled_history(platform, failing[0]["outbox_id"])]
    assert events[0] == "queued" and events[-1] == "failed" and "retrying" in events
    assert len(receiver.received("/fail/")) == 9, "3 attempts each, never more"


def test_without_isolation_one_failing_endpoint_opens_the_channels_breaker(
    open_platform, receiver, twilio
):
    text = _yaml(receiver, twilio).replace(
        "  default_endpoint: ok\n", "  default_endpoint: ok\n  isolate_endpoints: false\n"
    )
    platform = open_platform(text)
    platform.channels.start(["webhook"], poll_seconds=0.1)
    for _ in range(3):
        platform.messages.send(channel="webhook", address="fail", content=BODY)
    wait_for(
        lambda: _health(platform)["webhook"]["breaker"] in ("open", "half_open"),
        what="the channel's breaker to open",
    )


def test_a_429_is_retried_no_sooner_than_its_retry_after(
    open_platform, receiver, twilio, people_home
):
    _, ids = people_home
    receiver.throttle_seconds = 1
    platform = open_platform(_yaml(receiver, twilio))
    platform.channels.start(["webhook", "sms"], poll_seconds=0.1)
    throttled = platform.messages.send(channel="webhook", address="throttle", content=BODY)
    wait_for(lambda: receiver.received("/throttle/"), what="the first attempt")
    _sms_to_ann(platform, ids)
    wait_for(lambda: _status(platform, throttled["outbox_id"]) == "sent", what="the retry")
    first, second = receiver.received("/throttle/")
    assert second.at - first.at >= 1.0, "Retry-After: 1 was honoured"
    assert first.delivery == second.delivery == throttled["idempotency_key"]
    history = settled_history(platform, throttled["outbox_id"])
    assert [h["status"] for h in history] == ["queued", "retrying", "sent"]
    assert "HTTP 429" in history[1]["error"]


def test_a_gone_endpoint_is_suppressed_and_not_tried_again(open_platform, receiver, twilio):
    platform = open_platform(_yaml(receiver, twilio))
    platform.channels.start(["webhook"], poll_seconds=0.1)
    gone = platform.messages.send(channel="webhook", address="gone", content=BODY)
    wait_for(lambda: _status(platform, gone["outbox_id"]) == "failed", what="the rejection")
    message = platform.messages.get(gone["outbox_id"])
    assert message["reason"] == "gone" and message["attempts"] == 1
    again = platform.messages.send(channel="webhook", address="gone", content=BODY)
    assert (again["status"], again["reason"]) == ("dropped", "suppression")
    assert len(receiver.received("/gone/")) == 1


def test_someone_who_unsubscribes_while_their_message_waits_is_not_contacted(
    open_platform, receiver, twilio, people_home
):
    _, ids = people_home
    platform = open_platform(_yaml(receiver, twilio))
    queued = platform.messages.send(channel="sms", profile_id=ids["ann"], content={"body": "Hi"})
    assert queued["status"] == "queued"
    with platform.opstore.session() as session:
        set_consent(
            session,
            subject_type="phone",
            subject_value="+8613800000001",
            channel="sms",
            status="unsubscribed",
            source="sms_stop",
            actor="test",
            at=datetime.now(UTC),
        )
    platform.channels.start(["sms"], poll_seconds=0.1)
    wait_for(lambda: _status(platform, queued["outbox_id"]) == "dropped", what="the drop")
    message = platform.messages.get(queued["outbox_id"])
    assert message["reason"] == "consent" and "unsubscribed on sms" in message["reason_detail"]
    history = settled_history(platform, queued["outbox_id"])
    assert [h["status"] for h in history] == ["queued", "dropped"]
    assert twilio.messages == []


def test_a_channel_that_cannot_start_keeps_no_other_from_starting(open_platform, receiver):
    platform = open_platform(channels_yaml(receiver))  # no sms: section
    assert platform.channels.start(["sms", "webhook"], poll_seconds=0.1) == ["webhook"]
    health = _health(platform)
    assert health["webhook"]["worker"] == "running"
    assert health["sms"]["worker"].startswith("stopped: the sms channel is not configured")
    sent = platform.messages.send(channel="webhook", address="ok", content=BODY)
    wait_for(lambda: _status(platform, sent["outbox_id"]) == "sent", what="the webhook")


def test_a_provider_that_cannot_be_opened_is_retried_and_reported_not_fatal(
    open_platform, receiver, tmp_path
):
    missing = tmp_path / "no-such-key.json"
    text = channels_yaml(receiver) + (
        f"push: {{project_id: shop, service_account_file: '{missing}'}}\n"
    )
    platform = open_platform(text)
    assert platform.channels.start(["push", "webhook"], poll_seconds=0.1) == ["push", "webhook"]
    push = wait_for(
        lambda: (p := _health(platform)["push"])["last_error"] and p, what="the open error"
    )
    assert push["worker"] == "running", "the worker waits for its provider, it does not die"
    assert "cannot read the service account key" in push["last_error"]
    sent = platform.messages.send(channel="webhook", address="ok", content=BODY)
    wait_for(lambda: _status(platform, sent["outbox_id"]) == "sent", what="the webhook")
