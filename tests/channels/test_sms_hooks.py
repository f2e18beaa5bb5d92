"""SMS end to end: the send path to a Twilio stand-in, its signed status callbacks, and replies.

The installation is the channel tests' people (conftest.py): ann holds +8613800000001.
The server runs in this process on a real port (Uvicorn), with the sms channel's worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.api.app import create_app
from omnichannel.channels.sms import signature
from omnichannel.config import Settings
from omnichannel.opstore.consent import get_consent
from omnichannel.opstore.models import ConsentStatus, OutboxStatus
from tests.channels.providers import serving, wait_for
from tests.channels.servers.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn

PUBLIC = "https://omni.example"
ANN_PHONE = "+8613800000001"


def sms_yaml(twilio: TwilioStandIn) -> str:
    return (
        f"public_base_url: {PUBLIC}\n"
        "sms:\n"
        f"  base_url: {twilio.base_url}\n"
        f"  account_sid: {ACCOUNT_SID}\n"
        f"  auth_token: {AUTH_TOKEN}\n"
        "  from_number: '+15005550006'\n"
        "  timeout: 2\n"
        "  retry: {max_attempts: 3, base: 0.05, max: 0.2}\n"
    )


@pytest.fixture
def world(people_home: tuple[Path, dict[str, str]]) -> Iterator[dict[str, Any]]:
    home, ids = people_home
    with TwilioStandIn().running() as twilio:
        (home / "channels.yaml").write_text(sms_yaml(twilio))  # type: ignore[arg-type]
        app = create_app(Settings(home=home, loader_interval=0.05))
        with serving(app) as url:
            platform = app.state.services.platform
            platform.channels.start(["sms"], poll_seconds=0.05)
            yield {
                "url": url,
                "platform": platform,
                "twilio": twilio,
                "ids": ids,
                "services": app.state.services,
            }


def post_signed(
    url: str, path: str, params: dict[str, str], token: str = AUTH_TOKEN
) -> httpx.Response:
    """What Twilio does: form-post ``params`` signed over the public URL it was given."""
    header = {"X-Twilio-Signature": signature(token, PUBLIC + path, params)}
    return httpx.post(url + path, data=params, headers=header, timeout=10)


def _sent(platform: Any, outbox_id: int) -> dict[str, Any] | None:
    message = platform.messages.get(outbox_id, history=False)
    return message if message["status"] == OutboxStatus.SENT.value else None


def _log(platform: Any, outbox_id: int) -> list[str]:
    from omnichannel.channels.deliveries import read_log

    platform.messages.flush_log()
    return [r["status"] for r in read_log(platform.warehouse, outbox_id)]


def test_a_sent_sms_is_marked_delivered_by_twilios_signed_callback(world):
    platform, twilio = world["platform"], world["twilio"]
    queued = platform.messages.send(
        channel="sms",
        profile_id=world["ids"]["ann"],
        content={"body": "Hi {{ profile.profile_id }}"},
    )
    assert queued["status"] == "queued" and queued["address"] == ANN_PHONE
    sent = wait_for(lambda: _sent(platform, queued["outbox_id"]), what="the sms to be sent")
    (message,) = twilio.messages
    assert message["To"] == ANN_PHONE and message["Body"] == f"Hi {world['ids']['ann']}"
    assert message["StatusCallback"] == PUBLIC + "/hooks/sms/twilio/status"
    sid = sent["provider_message_id"]
    assert sid == message["sid"]

    status = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    forged = post_signed(world["url"], "/hooks/sms/twilio/status", status, token="not-the-token")
    assert forged.status_code == 403
    assert forged.json()["detail"]["field"] == "X-Twilio-Signature"
    answer = post_signed(world["url"], "/hooks/sms/twilio/status", status)
    assert answer.status_code == 200, answer.text
    assert answer.json()["event"] == "delivered"
    assert _log(platform, queued["outbox_id"])[-1] == "delivered"


def test_an_unknown_destination_reported_later_suppresses_the_number(world):
    platform = world["platform"]
    queued = platform.messages.send(channel="sms", address="+8613911112222", content={"body": "Hi"})
    sent = wait_for(lambda: _sent(platform, queued["outbox_id"]), what="the sms to be sent")
    failed = {
        "MessageSid": sent["provider_message_id"],
        "MessageStatus": "undelivered",
        "ErrorCode": "30005",
    }
    answer = post_signed(world["url"], "/hooks/sms/twilio/status", failed)
    assert answer.json() == {
        "event": "failed",
        "status": "undelivered",
        "outbox_id": queued["outbox_id"],
        "suppressed": True,
    }
    again = platform.messages.send(channel="sms", address="+8613911112222", content={"body": "Hi"})
    assert again["status"] == "dropped" and again["reason"] == "suppression"


def test_a_stop_reply_unsubscribes_the_person_and_no_sms_reaches_them_after(world):
    platform, twilio, ann = world["platform"], world["twilio"], world["ids"]["ann"]
    reply = {"From": ANN_PHONE, "To": "+15005550006", "Body": "STOP", "MessageSid": "SMin1"}
    unsigned = httpx.post(world["url"] + "/hooks/sms/twilio/inbound", data=reply)
    assert unsigned.status_code == 403
    answer = post_signed(world["url"], "/hooks/sms/twilio/inbound", reply)
    assert answer.status_code == 200 and "<Response>" in answer.text
    with platform.opstore.session() as session:
        for subject_type, value in (("phone", ANN_PHONE), ("profile", ann)):
            row = get_consent(
                session, subject_type=subject_type, subject_value=value, channel="sms"
            )
            assert row is not None and row.status == ConsentStatus.UNSUBSCRIBED

    # Every send path now drops her: by profile, and by her number given directly.
    by_profile = platform.messages.send(channel="sms", profile_id=ann, content={"body": "Sale"})
    by_number = platform.messages.send(channel="sms", address=ANN_PHONE, content={"body": "Sale"})
    assert by_profile["status"] == by_number["status"] == "dropped"
    assert by_profile["reason"] == by_number["reason"] == "consent"
    assert twilio.messages == []

    # Her reply is an event of her profile that segments' message conditions can read.
    def received() -> list[dict[str, Any]]:
        with platform.warehouse.reader() as wh:
            e = wh.table("events")
            mine = e.filter(e.event == "Message Received")
            return wh.query(mine.select("user_id", "source", "properties")).to_pylist()

    (event,) = wait_for(received, what="the Message Received event")
    assert event["user_id"] == "ann" and event["source"] == "sms"
    assert '"text": "STOP"' in event["properties"] or '"text":"STOP"' in event["properties"]


def test_a_reply_that_cannot_be_stored_now_is_answered_503_so_twilio_sends_it_again(world):
    services = world["services"]
    services.ingest.log.close()  # the event log cannot be written (disk gone, shutting down)
    reply = {"From": ANN_PHONE, "To": "+15005550006", "Body": "hello?", "MessageSid": "SMin2"}
    answer = post_signed(world["url"], "/hooks/sms/twilio/inbound", reply)
    assert answer.status_code == 503
    assert "retry later" in answer.json()["detail"]["message"]
