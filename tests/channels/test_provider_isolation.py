"""One provider hanging delays nothing on another channel: SMS hangs, push and WeChat go on."""

from __future__ import annotations

import json

from omnichannel.opstore.models import OutboxStatus
from tests.channels.conftest import wait_for
from tests.channels.servers.fcm import PROJECT, FcmStandIn, service_account
from tests.channels.servers.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn
from tests.channels.servers.wechat import APP_ID, APP_SECRET, TEMPLATE, WechatStandIn


def test_a_hung_sms_provider_holds_up_neither_push_nor_wechat(open_platform, people_home):
    with (
        TwilioStandIn().running() as twilio,
        FcmStandIn().running() as fcm,
        WechatStandIn().running() as wechat,
    ):
        key = json.dumps(json.dumps(service_account(fcm.base_url + "/token")))
        retry = "  retry: {max_attempts: 5, base: 0.05, max: 0.1}\n"
        platform = open_platform(
            "sms:\n"
            f"  base_url: {twilio.base_url}\n"
            f"  account_sid: {ACCOUNT_SID}\n  auth_token: {AUTH_TOKEN}\n"
            "  from_number: '+15005550006'\n  timeout: 0.3\n"
            # Enough attempts that the hung SMS is still retrying when the others are done.
            "  retry: {max_attempts: 100, base: 0.05, max: 0.1}\n"
            "push:\n"
            f"  base_url: {fcm.base_url}\n  project_id: {PROJECT}\n"
            f"  service_account_json: {key}\n  timeout: 2\n" + retry + "wechat:\n"
            f"  base_url: {wechat.base_url}\n  app_id: {APP_ID}\n  app_secret: {APP_SECRET}\n"
            "  timeout: 2\n" + retry
        )
        twilio.hang.set()
        ann = people_home[1]["ann"]
        sms = platform.messages.send(channel="sms", profile_id=ann, content={"body": "Hi"})
        pushes = [
            platform.messages.send(
                channel="push", address=f"tok-{i}", content={"title": "T", "body": "B"}
            )
            for i in range(5)
        ]
        template = platform.messages.send(
            channel="wechat", address="oAnn", content={"template_id": TEMPLATE, "data": {"a": "b"}}
        )
        platform.channels.start(["sms", "push", "wechat"], poll_seconds=0.05)

        def status(outbox_id: int) -> str:
            return str(platform.messages.get(outbox_id, history=False)["status"])

        wait_for(
            lambda: (
                all(status(p["outbox_id"]) == OutboxStatus.SENT.value for p in pushes)
                and status(template["outbox_id"]) == OutboxStatus.SENT.value
            ),
            what="push and WeChat messages to be sent while SMS hangs",
        )
        assert len(fcm.messages) == 5 and len(wechat.messages) == 1
        # The SMS is still waiting for its turn again, not lost and not failed.
        assert status(sms["outbox_id"]) in (OutboxStatus.QUEUED.value, OutboxStatus.SENDING.value)
        assert twilio.messages == []
