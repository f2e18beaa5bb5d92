"""WeChat end to end: a template message through the send path, the account's signed callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.api.app import create_app
from omnichannel.channels.wechat import callback_signature
from omnichannel.config import Settings
from omnichannel.opstore.consent import get_consent
from omnichannel.opstore.models import ConsentStatus, OutboxStatus
from tests.channels.providers import serving, wait_for
from tests.channels.servers.wechat import (
    APP_ID,
    APP_SECRET,
    TEMPLATE,
    WechatStandIn,
    encrypt_message,
)

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CONTENT = {"template_id": TEMPLATE, "data": {"first": "Hello from {{ message.channel }}"}}


@pytest.fixture
def world(people_home: tuple[Path, dict[str, str]]) -> Iterator[dict[str, Any]]:
    home, ids = people_home
    with WechatStandIn().running() as wechat:
        (home / "channels.yaml").write_text(
            "wechat:\n"
            f"  base_url: {wechat.base_url}\n"  # type: ignore[attr-defined]
            f"  app_id: {APP_ID}\n"
            f"  app_secret: {APP_SECRET}\n"
            f"  callback_token: {TOKEN}\n"
            f"  encoding_aes_key: {AES_KEY}\n"
            "  timeout: 2\n"
            "  retry: {max_attempts: 3, base: 0.05, max: 0.2}\n"
        )
        app = create_app(Settings(home=home, loader_interval=0.05))
        with serving(app) as url:
            platform = app.state.services.platform
            platform.channels.start(["wechat"], poll_seconds=0.05)
            yield {"url": url, "platform": platform, "wechat": wechat, "ids": ids}


def signed(**query: str) -> dict[str, str]:
    stamp, nonce = "1700000000", "n-1"
    return {
        "timestamp": stamp,
        "nonce": nonce,
        "signature": callback_signature(TOKEN, stamp, nonce),
        **query,
    }


def push(url: str, xml: str, query: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + "/hooks/wechat", params=query or signed(), content=xml.encode())


def event_xml(openid: str, event: str, **fields: str) -> str:
    extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
        "</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )


def test_the_server_url_is_verified_with_a_signed_echostr(world):
    good = httpx.get(world["url"] + "/hooks/wechat", params=signed(echostr="e-123"))
    assert good.status_code == 200 and good.text == "e-123"
    bad = httpx.get(
        world["url"] + "/hooks/wechat", params={**signed(echostr="x"), "signature": "0" * 40}
    )
    assert bad.status_code == 403 and bad.json()["detail"]["field"] == "signature"


def test_a_finished_template_send_is_delivered_and_a_block_unsubscribes(world):
    platform, url = world["platform"], world["url"]
    first = platform.messages.send(channel="wechat", address="oAnn", content=CONTENT)
    sent = wait_for(
        lambda: (
            (m := platform.messages.get(first["outbox_id"], history=False))["status"]
            == OutboxStatus.SENT.value
            and m
        ),
        what="the template message to be sent",
    )
    (message,) = world["wechat"].messages
    assert message["touser"] == "oAnn" and message["data"]["first"]["value"] == "Hello from wechat"
    finished = event_xml(
        "oAnn", "TEMPLATESENDJOBFINISH", MsgID=sent["provider_message_id"], Status="success"
    )
    assert push(url, finished, {"signature": "0" * 40}).status_code == 403
    answer = push(url, finished)
    assert answer.status_code == 200 and answer.text == "success"

    blocked = platform.messages.send(channel="wechat", address="oBob", content=CONTENT)
    sent_b = wait_for(
        lambda: (
            (m := platform.messages.get(blocked["outbox_id"], history=False))["status"]
            == OutboxStatus.SENT.value
            and m
        ),
        what="the second message to be sent",
    )
    push(
        url,
        event_xml(
            "oBob",
            "TEMPLATESENDJOBFINISH",
            MsgID=sent_b["provider_message_id"],
            Status="failed:user block",
        ),
    )
    from omnichannel.channels.deliveries import read_log

    platform.messages.flush_log()
    assert read_log(platform.warehouse, first["outbox_id"])[-1]["status"] == "delivered"
    assert read_log(platform.warehouse, blocked["outbox_id"])[-1]["status"] == "failed"
    again = platform.messages.send(channel="wechat", address="oBob", content=CONTENT)
    assert again["status"] == "dropped" and again["reason"] == "consent"


def test_an_unfollow_unsubscribes_so_no_template_message_reaches_them_and_texts_are_events(world):
    platform, url = world["platform"], world["url"]
    assert push(url, event_xml("oCy", "unsubscribe")).status_code == 200
    with platform.opstore.session() as session:
        row = get_consent(
            session, subject_type="wechat_openid", subject_value="oCy", channel="wechat"
        )
        assert row is not None and row.status == ConsentStatus.UNSUBSCRIBED
    dropped = platform.messages.send(channel="wechat", address="oCy", content=CONTENT)
    assert dropped["status"] == "dropped" and dropped["reason"] == "consent"
    assert world["wechat"].messages == []

    text = (
        "<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><FromUserName><![CDATA[oDee]]>"
        "</FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[会员]]></Content><MsgId>9001</MsgId></xml>"
    )
    assert push(url, text).status_code == 200

    def events() -> list[dict[str, Any]]:
        with platform.warehouse.reader() as wh:
            e = wh.table("events")
            mine = e.filter(e.source == "wechat").order_by("event")
            return wh.query(mine.select("event", "anonymous_id", "properties")).to_pylist()

    found = wait_for(lambda: len(events()) == 2 and events(), what="the WeChat events")
    assert [(e["event"], e["anonymous_id"]) for e in found] == [
        ("Message Received", "oDee"),
        ("WeChat Unfollowed", "oCy"),
    ]
    assert "会员" in found[0]["properties"]


def test_a_safe_mode_message_is_checked_decrypted_and_stored(world):
    from omnichannel.channels.wechat import message_signature

    platform, url = world["platform"], world["url"]
    inner = (
        "<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><FromUserName><![CDATA[oEve]]>"
        "</FromUserName><CreateTime>1700000002</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[积分]]></Content><MsgId>9002</MsgId></xml>"
    )
    encrypted = encrypt_message(AES_KEY, APP_ID, inner)
    outer = (
        "<xml><ToUserName><![CDATA[gh_shop]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    query = signed(encrypt_type="aes")
    query["msg_signature"] = message_signature(TOKEN, query["timestamp"], query["nonce"], encrypted)
    tampered = {**query, "msg_signature": "0" * 40}
    refused = push(url, outer, tampered)
    assert refused.status_code == 403 and refused.json()["detail"]["field"] == "msg_signature"
    other = encrypt_message(AES_KEY, "wxSOMEONEELSE", inner)
    query_other = {
        **query,
        "msg_signature": message_signature(TOKEN, query["timestamp"], query["nonce"], other),
    }
    wrong_app = push(url, outer.replace(encrypted, other), query_other)
    assert wrong_app.status_code == 400 and "app id" in wrong_app.json()["detail"]["message"]
    assert push(url, outer, query).status_code == 200

    def events() -> list[dict[str, Any]]:
        with platform.warehouse.reader() as wh:
            e = wh.table("events")
            mine = e.filter(e.source == "wechat")
            return wh.query(mine.select("event", "anonymous_id", "properties")).to_pylist()

    (event,) = wait_for(events, what="the decrypted message's event")
    assert event["event"] == "Message Received" and event["anonymous_id"] == "oEve"
    assert "积分" in event["properties"]
