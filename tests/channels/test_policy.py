"""The send path's rules, in order, each naming itself: consent, suppression, caps, quiet
hours; test sends; bad requests beside good ones. No worker runs here: these are what
``platform.messages.send`` decides and records before anything reaches a provider."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from omnichannel.channels.settings import parse_channels_config
from omnichannel.channels.suppressions import add_suppression
from omnichannel.config import Settings
from omnichannel.errors import ValidationError
from omnichannel.opstore.consent import set_consent
from omnichannel.platform import Platform
from tests.channels.conftest import channels_yaml

BODY = {"body": {"hello": "{{ address }}"}}


def _consent(platform, subject_type, value, channel, status, at):
    with platform.opstore.session() as session:
        set_consent(
            session,
            subject_type=subject_type,
            subject_value=value,
            channel=channel,
            status=status,
            source="test",
            actor="test",
            at=at,
        )


def _send(platform, **values):
    return platform.messages.send(channel="webhook", content=BODY, **values)


def test_the_latest_decision_on_the_person_or_any_of_their_identifiers_decides(
    open_platform, people_home
):
    _, ids = people_home
    platform = open_platform(channels_yaml())
    t = datetime(2026, 11, 1, tzinfo=UTC)
    _consent(platform, "profile", ids["ann"], "webhook", "granted", t)
    assert _send(platform, profile_id=ids["ann"])["status"] == "queued"
    # Unsubscribed later through a link on her email address: that wins over the grant.
    _consent(platform, "email", "ann@mail.cn", "webhook", "unsubscribed", t + timedelta(days=1))
    dropped = _send(platform, profile_id=ids["ann"])
    assert dropped["status"] == "dropped" and dropped["reason"] == "consent"
    assert "email:ann@mail.cn is unsubscribed on webhook" in dropped["detail"]
    # A decision on another channel says nothing about this one.
    _consent(platform, "profile", ids["bob"], "email", "unsubscribed", t)
    assert _send(platform, profile_id=ids["bob"])["status"] == "queued"
    # The drop is in the delivery log with its rule.
    history = platform.messages.get(dropped["outbox_id"])["history"]
    assert [(h["status"], h["reason"]) for h in history] == [("dropped", "consent")]


def test_a_channel_that_needs_an_opt_in_sends_only_to_who_granted_it(open_platform, people_home):
    _, ids = people_home
    platform = open_platform(channels_yaml(extra="consent: {require_opt_in: [webhook]}\n"))
    refused = _send(platform, profile_id=ids["bob"])
    assert (refused["status"], refused["reason"]) == ("dropped", "consent")
    assert "needs an explicit opt-in" in refused["detail"]
    _consent(platform, "profile", ids["ann"], "webhook", "granted", datetime.now(UTC))
    assert _send(platform, profile_id=ids["ann"])["status"] == "queued"


def test_a_suppressed_address_is_dropped_whoever_it_belongs_to(open_platform, people_home):
    platform = open_platform(channels_yaml())
    with platform.opstore.session() as session:
        add_suppression(
            session, channel="webhook", address="gone", reason="manual", actor="test", source="ops"
        )
    dropped = _send(platform, address="gone")
    assert (dropped["status"], dropped["reason"]) == ("dropped", "suppression")
    assert "gone is suppressed on webhook (manual, ops)" in dropped["detail"]
    assert _send(platform, address="ok")["status"] == "queued"


CAPS = "caps: {marketing: [{count: 3, per: 7d}], channels: {webhook: [{count: 2, per: 1d}]}}\n"


def test_frequency_caps_count_marketing_messages_and_spare_transactional_ones(
    open_platform, people_home
):
    _, ids = people_home
    platform = open_platform(channels_yaml(extra=CAPS))
    ann = ids["ann"]
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    answers = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ann, "content": BODY} for _ in range(3)], now=now
    )
    assert [a["status"] for a in answers] == ["queued", "queued", "dropped"]
    assert answers[2]["reason"] == "cap:webhook"
    assert "at most 2 per day marketing messages on webhook" in answers[2]["detail"]
    # The next day the channel's cap allows one more; the week's global cap (3) then stops it.
    tomorrow = now + timedelta(days=1, minutes=1)
    answers = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ann, "content": BODY} for _ in range(2)],
        now=tomorrow,
    )
    assert [a["status"] for a in answers] == ["queued", "dropped"]
    assert answers[1]["reason"] == "cap:marketing"
    receipt = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ann, "content": BODY, "kind": "transactional"}],
        now=tomorrow,
    )
    assert receipt[0]["status"] == "queued", "transactional messages are exempt from caps"
    # Someone else's messages do not count against ann.
    bob = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ids["bob"], "content": BODY}], now=tomorrow
    )
    assert bob[0]["status"] == "queued"


QUIET = "quiet_hours: {start: '21:00', end: '08:00', timezone: Europe/London}\n"


def test_quiet_hours_hold_until_they_end_in_the_persons_own_zone(open_platform, people_home):
    _, ids = people_home
    platform = open_platform(channels_yaml(extra=QUIET))
    now = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, 09:30 in New York
    ann, bob, cy = (
        platform.messages.send_many(
            [{"channel": "webhook", "profile_id": ids[u], "content": BODY}], now=now
        )[0]
        for u in ("ann", "bob", "cy")
    )
    assert (ann["status"], ann["reason"]) == ("held", "quiet_hours")
    assert (
        "Asia/Shanghai" in ann["detail"] and "2026-12-02 08:00 local (00:00 UTC)" in ann["detail"]
    )
    held = platform.messages.get(ann["outbox_id"])
    assert held["next_attempt_at"] == "2026-12-02T00:00:00+00:00"
    assert bob["status"] == "queued", "09:30 in New York is not quiet"
    # cy's events say no zone: the configured one (London, 14:30) applies.
    assert cy["status"] == "queued"
    late = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    cy_late = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ids["cy"], "content": BODY}], now=late
    )[0]
    assert cy_late["status"] == "held" and "Europe/London" in cy_late["detail"]
    receipt = platform.messages.send_many(
        [
            {
                "channel": "webhook",
                "profile_id": ids["ann"],
                "content": BODY,
                "kind": "transactional",
            }
        ],
        now=now,
    )[0]
    assert receipt["status"] == "queued", "a receipt is not held by quiet hours"
    told = platform.messages.send_many(
        [{"channel": "webhook", "profile_id": ids["ann"], "content": BODY, "timezone": "UTC"}],
        now=now,
    )[0]
    assert told["status"] == "queued", "a zone given with the request wins"


def test_test_sends_go_only_to_allow_listed_addresses_and_skip_caps(open_platform, people_home):
    _, ids = people_home
    extra = "test_recipients: {webhook: [ok]}\ncaps: {marketing: [{count: 0, per: 1d}]}\n"
    platform = open_platform(channels_yaml(extra=extra))
    with pytest.raises(ValidationError) as refused:
        platform.messages.test(channel="webhook", address="fail", content=BODY)
    assert refused.value.field == "address" and "test recipients of webhook" in str(refused.value)
    sent = platform.messages.test(
        channel="webhook", address="ok", content=BODY, identifier="email:ann@mail.cn"
    )
    assert sent["status"] == "queued" and sent["profile_id"] == ids["ann"]
    message = platform.messages.get(sent["outbox_id"])
    assert message["origin"] == "test" and message["content"]["body"] == {"hello": "ok"}


def test_a_bad_request_costs_nothing_to_the_good_ones_beside_it(open_platform, people_home):
    _, ids = people_home
    platform = open_platform(channels_yaml())
    answers = platform.messages.send_many(
        [
            {"channel": "webhook", "identifier": "email:nobody@mail.cn", "content": BODY},
            {"channel": "webhook", "profile_id": ids["ann"], "content": {"body": "{{ nope }}"}},
            {"channel": "fax", "profile_id": ids["ann"], "content": BODY},
            {"channel": "webhook", "profile_id": ids["ann"], "content": BODY},
        ]
    )
    assert "no profile has identifier email:nobody@mail.cn" in answers[0]["error"]
    assert "'nope' is undefined" in answers[1]["error"]
    assert "channel='fax' is not accepted" in answers[2]["error"]
    assert answers[3]["status"] == "queued" and answers[3]["error"] is None
    with pytest.raises(ValidationError) as both:
        platform.messages.send(channel="webhook", address="ok", content=BODY, template="x")
    assert both.value.field == "template"


def test_a_person_without_an_address_on_the_channel_is_dropped_with_the_reason(
    open_platform, people_home
):
    _, ids = people_home
    platform = open_platform(
        channels_yaml()
        + "sms: {account_sid: AC1, auth_token: t0k3n, from_number: '+15005550006'}\n"
    )
    eve = platform.messages.send(channel="sms", profile_id=ids["eve"], content={"body": "hi"})
    assert (eve["status"], eve["reason"]) == ("dropped", "no_address")
    assert "the profile has no phone to send sms to" in eve["detail"]
    ann = platform.messages.send(channel="sms", profile_id=ids["ann"], content={"body": "hi"})
    assert ann["status"] == "queued" and ann["address"] == "+8613800000001"


@pytest.mark.parametrize(
    "opstore", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_cap_holds_when_sends_to_one_person_race(opstore, people_home, request):
    """Campaigns sending at the same moment (threads here, processes in production) to
    one person: the cap is counted again under one lock as each enqueues, so exactly the
    cap's number go out, whoever wins."""
    home, ids = people_home
    url = request.getfixturevalue("postgres_database") if opstore == "postgres" else None
    platform = Platform(Settings(home=home, **({"opstore_url": url} if url else {})))
    platform.messages.use_config(parse_channels_config(channels_yaml(extra=CAPS)))
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    start = threading.Barrier(8)

    def send(n: int) -> dict:
        start.wait()
        request = {"channel": "webhook", "profile_id": ids["ann"], "content": BODY}
        return platform.messages.send_many([{**request, "campaign": f"c{n}"}], now=now)[0]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    statuses = sorted(a["status"] for a in answers)
    assert statuses == ["dropped"] * 6 + ["queued"] * 2, answers
    assert {a["reason"] for a in answers if a["status"] == "dropped"} == {"cap:webhook"}
    platform.close()
