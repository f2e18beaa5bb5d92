"""Webhooks end to end: platform.messages.send -> outbox -> the webhook worker -> a real
HTTP receiver that checks the signature; and the signature's own rules."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from omnichannel.channels.webhook import sign, verify_signature
from tests.channels.conftest import channels_yaml, settled_history, wait_for
from tests.channels.servers.webhook_receiver import SECRET


def test_a_message_reaches_the_receiver_signed_and_is_logged_as_sent(
    open_platform, receiver, people_home
):
    _, ids = people_home
    platform = open_platform(channels_yaml(receiver))
    platform.channels.start(["webhook"], poll_seconds=0.2)
    sent = platform.messages.send(
        channel="webhook",
        identifier="email:ann@mail.cn",
        content={"body": {"email": "{{ identifiers.email[0] }}", "offer": "{{ offer }}"}},
        data={"offer": "spring-10"},
        campaign="spring",
        idempotency_key="spring:ann",
    )
    assert sent["status"] == "queued" and sent["address"] == "ok"
    assert sent["profile_id"] == ids["ann"]
    got = wait_for(lambda: receiver.received("/ok/"), what="the webhook")
    assert got[0].verified, "the receiver could verify X-Omni-Signature"
    body = got[0].json()
    assert body["data"] == {"email": "ann@mail.cn", "offer": "spring-10"}
    assert body["profile_id"] == ids["ann"] and body["campaign"] == "spring"
    assert got[0].delivery == "spring:ann"
    message = wait_for(
        lambda: (m := platform.messages.get(sent["outbox_id"]))["status"] == "sent" and m,
        what="the message settled as sent",
    )
    assert message["provider_message_id"] == "r-1"
    history = settled_history(platform, sent["outbox_id"])
    assert [h["status"] for h in history] == ["queued", "sent"]
    # The same request again (a retried API call) reaches nobody twice.
    again = platform.messages.send(
        channel="webhook",
        identifier="email:ann@mail.cn",
        content={"body": {"x": "y"}},
        idempotency_key="spring:ann",
    )
    assert again["duplicate"] and again["outbox_id"] == sent["outbox_id"]
    time.sleep(0.3)
    assert len(receiver.received("/ok/")) == 1


def test_signature_verifies_only_the_same_body_recently_signed():
    body = json.dumps({"a": 1}).encode()
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert verify_signature(SECRET, header, body)
    assert not verify_signature(SECRET, header, body + b" ")
    assert not verify_signature("another-secret-0123456789", header, body)
    old = sign(SECRET, body, now - 600)
    assert not verify_signature(SECRET, old, body), "a replay ten minutes later is refused"
    assert verify_signature(SECRET, old, body, tolerance=timedelta(minutes=15))
    assert not verify_signature(SECRET, None, body)
    assert not verify_signature(SECRET, "t=abc,v1=00", body)
