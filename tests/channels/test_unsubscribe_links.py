"""Every channel's messages carry their own unsubscribe link, and the link works.

One served installation (the channel tests' people, the API over real HTTP) with SMS,
push, WeChat, the in-app inbox and webhooks pointed at their stand-ins. For each channel
a marketing message whose template says ``{{ unsubscribe_url }}`` is sent to ann; the
test reads the link where the provider received it, opens it as the person would (the
page asks, and changes nothing: link scanners fetch every link), confirms, and finds
ann's next message on that channel dropped for consent, while the other channels still
reach her.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.channels.inbox import list_inbox
from omnichannel.opstore.consent import get_consent
from omnichannel.opstore.models import ConsentStatus
from tests.channels.conftest import wait_for
from tests.channels.h2_support import LiveApp, serve_app
from tests.channels.servers.fcm import PROJECT, FcmStandIn, service_account
from tests.channels.servers.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn
from tests.channels.servers.webhook_receiver import SECRET, WebhookReceiver
from tests.channels.servers.wechat import APP_ID, APP_SECRET, TEMPLATE, WechatStandIn

# One server for the module: starting the API is most of each case's time.
pytestmark = pytest.mark.slow(seconds=10)
WAIT = 60.0
LINK = re.compile(r"https?://[^\s\"']+/unsubscribe/[A-Za-z0-9_\-.]+")
ANN_PHONE = "+8613800000001"  # conftest.PEOPLE
ADDRESS_TYPES = {
    "sms": "phone",
    "push": "push_token",
    "wechat": "wechat_openid",
    "inbox": "user_id",
}
ANN_TOKEN = "ann-Device-Token"  # tokens and OpenIDs are case-sensitive
ANN_OPENID = "oAnn-OpenID"


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, Any]]:
    with (
        TwilioStandIn().running() as twilio,
        FcmStandIn().running() as fcm,
        WechatStandIn().running() as wechat,
        WebhookReceiver().running() as receiver,
    ):
        yield {"sms": twilio, "push": fcm, "wechat": wechat, "webhook": receiver}


def _yaml(providers: dict[str, Any]) -> Callable[[str], str]:
    fast = "  timeout: 2\n  retry: {max_attempts: 2, base: 0.05, max: 0.1}\n"
    key = json.dumps(json.dumps(service_account(providers["push"].base_url + "/token")))

    def text(url: str) -> str:
        return (
            f"public_base_url: {url}\n"
            f"sms:\n  base_url: {providers['sms'].base_url}\n  account_sid: {ACCOUNT_SID}\n"
            f"  auth_token: {AUTH_TOKEN}\n  from_number: '+15005550006'\n{fast}"
            f"push:\n  base_url: {providers['push'].base_url}\n  project_id: {PROJECT}\n"
            f"  service_account_json: {key}\n{fast}"
            f"wechat:\n  base_url: {providers['wechat'].base_url}\n  app_id: {APP_ID}\n"
            f"  app_secret: {APP_SECRET}\n{fast}"
            f"webhook:\n  default_endpoint: ok\n{fast}"
            f"  endpoints: {{ok: {{url: '{providers['webhook'].base_url}/ok/hook', "
            f"secret: '{SECRET}'}}}}\n"
            "inbox: {}\n"
        )

    return text


@pytest.fixture(scope="module")
def live(
    people_template: tuple[Path, dict[str, str]],
    providers: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveApp, httpx.Client, dict[str, str]]]:
    source, ids = people_template
    home = tmp_path_factory.mktemp("unsubscribe-links") / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("server.json", "*.wal"))
    with serve_app(home, _yaml(providers)) as app:
        app.platform.channels.start(
            ["sms", "push", "wechat", "webhook", "inbox"], poll_seconds=0.05
        )
        with httpx.Client(base_url=app.url, timeout=30) as http:
            yield app, http, ids


# channel -> (the message's content, its address when not the person's own)
MESSAGES: dict[str, tuple[dict[str, Any], str | None]] = {
    "sms": ({"body": "Spring sale, 20% off. Reply STOP or visit {{ unsubscribe_url }}"}, None),
    "push": (
        {
            "title": "Spring sale",
            "body": "20% off",
            "data": {"unsubscribe": "{{ unsubscribe_url }}"},
        },
        ANN_TOKEN,
    ),
    "wechat": (
        {"template_id": TEMPLATE, "data": {"first": "Spring sale"}, "url": "{{ unsubscribe_url }}"},
        ANN_OPENID,
    ),
    "inbox": (
        {"title": "Spring sale", "body": "20% off", "data": {"stop": "{{ unsubscribe_url }}"}},
        None,
    ),
    "webhook": ({"body": {"offer": "spring", "unsubscribe": "{{ unsubscribe_url }}"}}, None),
}


def _received(channel: str, providers: dict[str, Any], app: LiveApp) -> str | None:
    """What reached the provider (or the inbox) for ann on ``channel``, as text."""
    if channel == "sms":
        found = [m["Body"] for m in providers["sms"].messages if m["To"] == ANN_PHONE]
    elif channel == "push":
        found = [m["data"]["unsubscribe"] for m in providers["push"].messages]
    elif channel == "wechat":
        found = [m.get("url", "") for m in providers["wechat"].messages]
    elif channel == "webhook":
        found = [r.json()["data"]["unsubscribe"] for r in providers["webhook"].received("/ok/")]
    else:
        found = [m["data"]["stop"] for m in list_inbox(app.platform.opstore, "ann")["messages"]]
    return found[-1] if found else None


def _send(app: LiveApp, channel: str, profile_id: str, key: str) -> dict[str, Any]:
    content, address = MESSAGES[channel]
    return app.platform.messages.send(
        channel=channel,
        profile_id=profile_id,
        content=content,
        campaign="spring",
        idempotency_key=key,
        **({"address": address} if address else {}),
    )


def _history(app: LiveApp, outbox_id: int) -> list[str]:
    app.platform.messages.flush_log()
    return [h["status"] for h in app.platform.messages.get(outbox_id)["history"]]


@pytest.mark.parametrize("channel", list(MESSAGES))
def test_the_unsubscribe_link_reaches_the_person_and_opts_them_out(
    live: tuple[LiveApp, httpx.Client, dict[str, str]],
    providers: dict[str, Any],
    channel: str,
) -> None:
    app, http, ids = live
    sent = _send(app, channel, ids["ann"], f"spring:{channel}:1")
    assert sent["status"] == "queued", sent
    text = wait_for(
        lambda: _received(channel, providers, app), what=f"the {channel} message", timeout=WAIT
    )
    found = LINK.search(text)
    assert found, f"no unsubscribe link in what the {channel} provider received: {text!r}"
    link = found.group(0)
    assert link.startswith(f"{app.url}/unsubscribe/")
    # The stand-in holds the message a moment before the worker records it sent (it
    # settles in batches); a person clicks later than that, so the test waits for it too.
    wait_for(
        lambda: "sent" in _history(app, sent["outbox_id"]),
        what=f"the {channel} message recorded sent",
        timeout=WAIT,
    )

    page = http.get(link)
    assert page.status_code == 200 and f"Stop {channel} messages" in page.text
    assert _send(app, channel, ids["ann"], f"spring:{channel}:2")["status"] == "queued", (
        "opening the page alone opts nobody out"
    )
    confirmed = http.post(link, data={"List-Unsubscribe": "One-Click"})
    assert confirmed.status_code == 200 and "unsubscribed" in confirmed.text

    after = _send(app, channel, ids["ann"], f"spring:{channel}:3")
    assert (after["status"], after["reason"]) == ("dropped", "consent")
    # The opt-out is the address's too, as the provider knows it (a message to the bare
    # address is refused as well), except a webhook endpoint's, which many people share.
    with app.platform.opstore.session() as session:
        on_address = get_consent(
            session,
            subject_type=ADDRESS_TYPES.get(channel, channel),
            subject_value=sent["address"],
            channel=channel,
        )
        assert (on_address is None) == (channel == "webhook")
        if on_address is not None:
            assert on_address.status == ConsentStatus.UNSUBSCRIBED
    history = _history(app, sent["outbox_id"])
    assert history[-1] == "unsubscribed" and "sent" in history
    # The opt-out is an event of ann's, of the message's own channel as its source (what
    # a segment on "unsubscribed from SMS" or a per-source report reads), not email's.
    (event,) = wait_for(
        lambda: _unsubscribed_events(app, sent["outbox_id"]),
        what=f"the {channel} Message Unsubscribed event",
        timeout=WAIT,
    )
    assert (event["user_id"], event["source"]) == ("ann", channel)


def _unsubscribed_events(app: LiveApp, outbox_id: int) -> list[dict[str, Any]]:
    with app.platform.warehouse.reader() as wh:
        t = wh.table("events")
        rows = t.filter(t.event == "Message Unsubscribed").select("user_id", "source", "properties")
        found = wh.query(rows).to_pylist()
    return [e for e in found if json.loads(e["properties"])["outbox_id"] == outbox_id]
