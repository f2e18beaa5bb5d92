"""The SMS adapter against a stand-in speaking Twilio's Messages API and its error codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.channels.adapter import Rejected, RetryLater, Sent
from omnichannel.channels.sms import SmsAdapter, SmsSettings, keyword_of, signature
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.consent import get_consent
from omnichannel.opstore.models import ConsentStatus
from tests.channels.providers import PUBLIC, context, delivery, send_all
from tests.channels.servers.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    with TwilioStandIn().running() as server:
        assert isinstance(server, TwilioStandIn)
        yield server


@pytest.fixture
def opstore(tmp_path: Path) -> Iterator[OpStore]:
    store = open_opstore(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    yield store
    store.close()


def settings(twilio: TwilioStandIn, **changes: object) -> SmsSettings:
    values: dict[str, object] = {
        "base_url": twilio.base_url,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+15005550006",
        "timeout": 2,
    }
    values.update(changes)
    return SmsSettings.model_validate(values)


def sms(address: str, body: str = "Your order shipped") -> object:
    return delivery("sms", address, {"body": body})


def test_a_message_reaches_twilio_with_its_sender_body_and_status_callback(twilio):
    (outcome,) = send_all(SmsAdapter(settings(twilio), context()), [sms("+8613812345678")])
    assert isinstance(outcome, Sent)
    assert outcome.provider_message_id and outcome.provider_message_id.startswith("SM")
    (message,) = twilio.messages
    assert message["To"] == "+8613812345678"
    assert message["From"] == "+15005550006"
    assert message["Body"] == "Your order shipped"
    assert message["StatusCallback"] == PUBLIC + "/hooks/sms/twilio/status"


def test_a_messaging_service_replaces_the_from_number(twilio):
    chosen = settings(twilio, from_number=None, messaging_service_sid="MG0001")
    send_all(SmsAdapter(chosen, context()), [sms("+8613812345678")])
    assert twilio.messages[0]["MessagingServiceSid"] == "MG0001"
    assert "From" not in twilio.messages[0]


def test_settings_without_a_sender_are_refused_naming_both_ways():
    with pytest.raises(ValueError, match=r"from_number .* or messaging_service_sid"):
        SmsSettings.model_validate({"account_sid": ACCOUNT_SID, "auth_token": "x"})


def test_an_invalid_number_is_rejected_and_suppressed_with_twilios_answer(twilio):
    twilio.invalid.add("+10000000000")
    (outcome,) = send_all(SmsAdapter(settings(twilio), context()), [sms("+10000000000")])
    assert isinstance(outcome, Rejected)
    assert outcome.suppress and outcome.reason == "invalid_address"
    assert "21211" in outcome.response and "HTTP 400" in outcome.response


def test_an_unsubscribed_recipient_becomes_unsubscribed_consent_on_sms(twilio, opstore):
    twilio.unsubscribed.add("+8613900000000")
    adapter = SmsAdapter(settings(twilio), context(opstore=opstore))
    (outcome,) = send_all(adapter, [sms("+8613900000000")])
    assert isinstance(outcome, Rejected) and outcome.reason == "unsubscribed"
    assert not outcome.suppress  # consent says it; a suppression would say it twice
    with opstore.session() as session:
        row = get_consent(
            session, subject_type="phone", subject_value="+8613900000000", channel="sms"
        )
        assert row is not None and row.status == ConsentStatus.UNSUBSCRIBED
        assert row.source == "twilio 21610"


def test_too_many_requests_is_retried_after_twilios_retry_after(twilio):
    twilio.throttle, twilio.retry_after = 1, "7"
    outcomes = send_all(
        SmsAdapter(settings(twilio), context()), [sms("+8613812345678"), sms("+8613812345678")]
    )
    assert isinstance(outcomes[0], RetryLater) and outcomes[0].retry_after == 7
    assert isinstance(outcomes[1], Sent)


def test_server_errors_wrong_credentials_and_a_dead_port_are_retried_not_dead_lettered(twilio):
    twilio.fail_with_500 = 1
    wrong = SmsAdapter(settings(twilio, auth_token="wrong"), context())
    (unauthorised,) = send_all(wrong, [sms("+8613812345678")])
    assert isinstance(unauthorised, RetryLater) and "auth_token" in unauthorised.response
    (five_hundred,) = send_all(SmsAdapter(settings(twilio), context()), [sms("+8613812345678")])
    assert isinstance(five_hundred, RetryLater) and "HTTP 500" in five_hundred.response
    dead = SmsAdapter(settings(twilio, base_url="http://127.0.0.1:9"), context())
    (refused,) = send_all(dead, [sms("+8613812345678")])
    assert isinstance(refused, RetryLater) and "unreachable" in refused.response


def test_an_empty_or_overlong_body_is_rejected_before_the_provider_is_called(twilio):
    adapter = SmsAdapter(settings(twilio, max_body_chars=10), context())
    empty, long = send_all(adapter, [sms("+8613812345678", " "), sms("+861381", "x" * 11)])
    assert isinstance(empty, Rejected) and empty.reason == "empty"
    assert isinstance(long, Rejected) and "11 characters" in long.response
    assert twilio.received() == []


def test_signature_matches_twilios_published_example():
    # From Twilio's "Webhooks security" page: this URL, parameters and token give this value.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "stop"),
        (" unsubscribe. ", "stop"),
        ("TD", "stop"),
        ("退订", "stop"),
        ("start", "start"),
        ("stop sending me offers", None),
        ("hello", None),
    ],
)
def test_reply_keywords(text, keyword):
    assert keyword_of(text) == keyword
