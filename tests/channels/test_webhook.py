"""Webhooks end to end: platform.messages.send -> outbox -> the webhook worker -> a real
HTTP receiver that checks the signature; and the signature's own rules."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

from omnichannel.channels.adapter import RetryLater, Sent
from omnichannel.channels.webhook import (
    WebhookAdapter,
    WebhookSettings,
    sign,
    verify_signature,
)
from tests.channels.conftest import channels_yaml, settled_history, wait_for
from tests.channels.providers import context, delivery, send_all
from tests.channels.servers.http_standin import Answer, Request, StandIn
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


class ForwardProxy(StandIn):
    """An HTTP forward proxy that answers for every origin itself (records what it got)."""

    def handle(self, request: Request) -> Answer:
        return Answer(200, b"{}", {"X-Request-Id": "via-proxy"})


def test_webhooks_go_through_the_proxy_the_environment_names(monkeypatch):
    settings = WebhookSettings.model_validate(
        {"endpoints": {"crm": {"url": "http://crm.invalid/hooks/omni", "secret": SECRET}}}
    )
    with ForwardProxy().running() as proxy:
        port = proxy.base_url.rsplit(":", 1)[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://omni:pa55@127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        (outcome,) = send_all(WebhookAdapter(settings, context()), [delivery("webhook", "crm", {})])
        assert isinstance(outcome, Sent) and outcome.provider_message_id == "via-proxy"
        (seen,) = proxy.received("/hooks/omni")
        assert seen.headers["host"] == "crm.invalid"
        assert (
            seen.headers["proxy-authorization"]
            == "Basic " + base64.b64encode(b"omni:pa55").decode()
        )
        # A host NO_PROXY exempts is called directly (and crm.invalid does not resolve).
        monkeypatch.setenv("NO_PROXY", "crm.invalid")
        (direct,) = send_all(WebhookAdapter(settings, context()), [delivery("webhook", "crm", {})])
        assert isinstance(direct, RetryLater) and "unreachable" in direct.response
        assert len(proxy.received("/hooks/omni")) == 1
