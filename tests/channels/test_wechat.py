"""The WeChat adapter against a stand-in of cgi-bin/token and message/template/send."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from omnichannel.channels.adapter import Rejected, RetryLater, Sent
from omnichannel.channels.wechat import (
    WechatAdapter,
    WechatSettings,
    callback_signature,
    client_msg_id,
    parse_callback,
    seconds_to_quota_reset,
)
from omnichannel.errors import ValidationError
from tests.channels.providers import context, delivery, send_all
from tests.channels.servers.wechat import APP_ID, APP_SECRET, TEMPLATE, WechatStandIn


@pytest.fixture
def wechat() -> Iterator[WechatStandIn]:
    with WechatStandIn().running() as server:
        assert isinstance(server, WechatStandIn)
        yield server


def settings(wechat: WechatStandIn, **changes: object) -> WechatSettings:
    values: dict[str, object] = {
        "base_url": wechat.base_url,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "timeout": 2,
    }
    values.update(changes)
    return WechatSettings.model_validate(values)


def shipped(openid: str, key: str = "k-1", **content: object) -> object:
    parts = {
        "template_id": TEMPLATE,
        "url": "https://shop.example/orders/1",
        "data": {"first": "Your order shipped", "keyword1": {"value": "SF123", "color": "#173177"}},
        **content,
    }
    return delivery("wechat", openid, parts, idempotency_key=key)


def test_a_template_message_reaches_wechat_with_its_data_and_client_msg_id(wechat):
    (outcome,) = send_all(WechatAdapter(settings(wechat), context()), [shipped("oAnn")])
    assert isinstance(outcome, Sent) and outcome.provider_message_id
    (message,) = wechat.messages
    assert message["touser"] == "oAnn" and message["template_id"] == TEMPLATE
    assert message["url"] == "https://shop.example/orders/1"
    assert message["data"] == {
        "first": {"value": "Your order shipped"},
        "keyword1": {"value": "SF123", "color": "#173177"},
    }
    assert message["client_msg_id"] == "k-1"
    assert APP_SECRET not in outcome.response  # the token request's URL is never kept


def test_the_token_is_reused_and_fetched_again_once_when_wechat_says_it_is_stale(wechat):
    adapter = WechatAdapter(settings(wechat), context())

    async def run() -> list[object]:
        await adapter.open()
        outcomes = [
            await adapter.send(shipped("oA", "k1")),
            await adapter.send(shipped("oB", "k2")),
        ]
        wechat.revoke_tokens()  # another process fetched a new token
        outcomes.append(await adapter.send(shipped("oC", "k3")))
        await adapter.close()
        return outcomes

    outcomes = asyncio.run(run())
    assert all(isinstance(o, Sent) for o in outcomes)
    assert adapter.tokens_fetched == 2
    assert [m["touser"] for m in wechat.messages] == ["oA", "oB", "oC"]


def test_a_retried_message_is_not_delivered_twice(wechat):
    send_all(WechatAdapter(settings(wechat), context()), [shipped("oAnn"), shipped("oAnn")])
    assert len(wechat.messages) == 1


def test_not_following_is_rejected_and_an_unknown_openid_suppressed(wechat):
    wechat.not_following.add("oGone")
    wechat.invalid.add("oWrong")
    gone, wrong, template = send_all(
        WechatAdapter(settings(wechat), context()),
        [shipped("oGone", "a"), shipped("oWrong", "b"), shipped("oAnn", "c", template_id="nope")],
    )
    assert isinstance(gone, Rejected) and gone.reason == "not_following" and not gone.suppress
    assert "43004" in gone.response
    assert isinstance(wrong, Rejected) and wrong.suppress
    assert isinstance(template, Rejected) and template.reason == "invalid_message"


def test_a_spent_daily_quota_waits_for_midnight_in_beijing_and_busy_is_retried(wechat):
    wechat.quota_spent = True
    (quota,) = send_all(WechatAdapter(settings(wechat), context()), [shipped("oAnn")])
    assert isinstance(quota, RetryLater) and "45009" in quota.response
    assert quota.retry_after is not None and 0 < quota.retry_after <= 86_405
    wechat.quota_spent, wechat.busy = False, 1
    busy, ok = send_all(
        WechatAdapter(settings(wechat), context()), [shipped("oAnn", "x"), shipped("oAnn", "y")]
    )
    assert isinstance(busy, RetryLater) and isinstance(ok, Sent)


def test_a_wrong_secret_is_retried_naming_the_setting(wechat):
    (outcome,) = send_all(
        WechatAdapter(settings(wechat, app_secret="wrong"), context()), [shipped("oAnn")]
    )
    assert isinstance(outcome, RetryLater)
    assert "40125" in outcome.response and "wechat.app_secret" in outcome.response
    assert "secret=wrong" not in outcome.response  # the query with the secret is never kept


def test_quota_resets_at_midnight_beijing_time():
    at = datetime(2026, 3, 2, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert seconds_to_quota_reset(at) == 3605


def test_long_idempotency_keys_become_a_stable_client_msg_id():
    long_key = "journey:12:step:welcome:" + "p" * 80
    assert len(client_msg_id(long_key)) == 40
    assert client_msg_id(long_key) == client_msg_id(long_key)


def test_callbacks_are_parsed_and_signed_as_wechat_does():
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oAnn]]>"
        b"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]>"
        b"</MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163840</MsgID>"
        b"<Status><![CDATA[success]]></Status></xml>"
    )
    assert parse_callback(body)["Event"] == "TEMPLATESENDJOBFINISH"
    assert parse_callback(body)["MsgID"] == "200163840"
    # sha1 of the sorted values joined: the same on WeChat's side.
    import hashlib

    assert (
        callback_signature("tok", "1700000000", "n1")
        == hashlib.sha1(b"".join(sorted([b"tok", b"1700000000", b"n1"]))).hexdigest()
    )
    with pytest.raises(ValidationError, match="DOCTYPE"):
        parse_callback(b'<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>')
    with pytest.raises(ValidationError, match="callback"):
        parse_callback(b"<xml><A>")


# Tencent's published sample for the safe mode (WXBizMsgCrypt's demo): token, key, app id,
# timestamp, nonce, the Encrypt element and the msg_signature WeChat sent with it.
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APP = "wx2c2769f8efd9abc2"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6"
    "F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T33"
    "2jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewp"
    "usjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_safe_mode_messages_decrypt_as_tencents_sample_says():
    from omnichannel.channels.wechat import decrypt_message, message_signature

    assert (
        message_signature("spamtest", "1409735669", "1320562132", SAMPLE_ENCRYPT)
        == "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )
    inner = parse_callback(decrypt_message(SAMPLE_KEY, SAMPLE_APP, SAMPLE_ENCRYPT))
    assert inner["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert inner["MsgType"] == "text" and inner["Content"] == "abcdteT"
    with pytest.raises(ValidationError, match="a message for app id wxOTHER"):
        decrypt_message(SAMPLE_KEY, "wxOTHER", SAMPLE_ENCRYPT)
    with pytest.raises(ValidationError, match="Encrypt"):
        decrypt_message(SAMPLE_KEY, SAMPLE_APP, "not base64!")
