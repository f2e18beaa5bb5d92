"""Opens, clicks, unsubscribes and bounces, end to end over real SMTP and real HTTP.

A message goes through ``platform.messages.send`` and the email worker to a real aiosmtpd
server; the test then does what the recipient (and their mail provider) would: fetch
the open pixel, follow a link, unsubscribe with one click, report a bounce. What comes
back is read where a marketer reads it: the delivery log, the events table (attributed
to the person), consent and the suppression list.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.channels.suppressions import is_suppressed
from omnichannel.opstore.consent import get_consent
from tests.channels import h2_support
from tests.channels.conftest import wait_for
from tests.channels.h2_support import LiveApp, serve_app
from tests.channels.servers.smtp import SmtpServer, smtp_server
from tests.profiles.support import T0

audience_home = h2_support.audience_home
audience_copy = h2_support.audience_copy
# Each test serves the app over HTTP and runs the email worker: seconds, not milliseconds.
pytestmark = pytest.mark.slow(seconds=15)
# How long a poll waits before failing: generous, as the machine running the suite is shared
# (a poll returns as soon as its condition holds).
WAIT = 60.0
SETTLED = ("sent", "dropped", "failed")

BOUNCE_SECRET = "bounce-s3cret"
SPRING = {
    "subject": "Spring sale, {{ profile.first_name }}",
    "text": "Hello {{ profile.first_name }}\nStop these: {{ unsubscribe_url }}",
    "html": '<p>Hello {{ profile.first_name }}, <a href="https://shop.example/sale">sale</a></p>',
}


def _yaml(smtp: SmtpServer) -> Any:
    def text(url: str) -> str:
        return (
            f"public_base_url: {url}\n"
            "test_recipients: {email: [qa@shop.example]}\n"
            "email:\n"
            f"  host: {smtp.host}\n  port: {smtp.port}\n"
            "  from_address: news@shop.example\n"
            f"  bounce_secret: {BOUNCE_SECRET}\n"
            "  timeout: 5\n  retry: {max_attempts: 2, base: 0.05, max: 0.1}\n"
        )

    return text


@pytest.fixture
def live(audience_copy: Path) -> Iterator[tuple[LiveApp, SmtpServer, httpx.Client]]:
    with smtp_server() as smtp, serve_app(audience_copy, _yaml(smtp)) as app:
        app.platform.templates.save("spring", channel="email", content=SPRING)
        app.platform.channels.start(["email"], poll_seconds=0.05)
        with httpx.Client(base_url=app.url, timeout=30) as http:
            yield app, smtp, http


def _send(app: LiveApp, identifier: str, key: str) -> dict[str, Any]:
    return app.platform.messages.send(
        channel="email",
        identifier=identifier,
        template="spring",
        campaign="spring",
        idempotency_key=key,
    )


def _events(app: LiveApp, name: str) -> list[dict[str, Any]]:
    with app.platform.warehouse.reader() as wh:
        t = wh.table("events")
        rows = t.filter(t.event == name).select("user_id", "anonymous_id", "source", "properties")
        return list(rows.to_pyarrow().to_pylist())


def test_an_opened_clicked_and_unsubscribed_email_comes_back_to_the_person(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    app, smtp, http = live
    sent = _send(app, "email:john.smith@gmail.com", "spring:ann")
    assert sent["status"] == "queued"
    wait_for(lambda: smtp.messages, what="the email at the SMTP server", timeout=WAIT)
    mail = smtp.messages[0]
    assert mail.message["Subject"] == "Spring sale, Zoë"
    page = mail.part("html")
    pixel = re.search(r'<img src="([^"]+)"', page)
    click = re.search(r'<a href="([^"]+)"', page)
    assert pixel and click
    opened = http.get(pixel.group(1).replace("&amp;", "&"))
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    followed = http.get(click.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert followed.status_code == 302
    assert followed.headers["location"] == "https://shop.example/sale"
    # A link changed by hand goes nowhere.
    forged = click.group(1).replace("&amp;", "&")[:-3] + "abc"
    assert http.get(forged, follow_redirects=False).status_code == 404

    unsubscribe = mail.message["List-Unsubscribe"].strip().strip("<>")
    confirm = http.get(unsubscribe)
    # The page asks; fetching it (as link scanners do) changes nothing.
    assert confirm.status_code == 200 and "j***@gmail.com" in confirm.text
    with app.platform.opstore.session() as session:
        assert (
            get_consent(
                session, subject_type="email", subject_value="john.smith@gmail.com", channel="email"
            )
            is None
        )
    one_click = http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "unsubscribed" in one_click.text
    again = _send(app, "email:john.smith@gmail.com", "spring:ann:2")
    assert (again["status"], again["reason"]) == ("dropped", "consent")

    app.platform.messages.flush_log()
    history = [h["status"] for h in app.platform.messages.get(sent["outbox_id"])["history"]]
    assert history[-3:] == ["opened", "clicked", "unsubscribed"] and "sent" in history
    # The events reached the warehouse through the collector, under ann's own user id.
    opens = wait_for(
        lambda: _events(app, "Email Opened"), what="Email Opened in events", timeout=WAIT
    )
    clicks = wait_for(
        lambda: _events(app, "Email Link Clicked"), what="Email Link Clicked", timeout=WAIT
    )
    assert [(e["user_id"], e["source"]) for e in opens + clicks] == [("ann", "email")] * 2
    properties = json.loads(clicks[0]["properties"])
    assert properties["outbox_id"] == sent["outbox_id"]
    assert (properties["campaign"], properties["url"]) == ("spring", "https://shop.example/sale")


def test_an_opted_out_person_is_never_emailed(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    app, smtp, _ = live
    # cy unsubscribed from email on her address before (tests/segments/audience.py).
    dropped = _send(app, "email:cy@mail.cn", "spring:cy")
    assert (dropped["status"], dropped["reason"]) == ("dropped", "consent")
    sent = _send(app, "email:bob@mail.cn", "spring:bob")
    wait_for(lambda: smtp.messages, what="bob's email", timeout=WAIT)
    assert [m.recipients for m in smtp.messages] == [["bob@mail.cn"]]
    assert sent["status"] == "queued"


def test_bounce_reports_suppress_addresses_and_refuse_only_what_is_unreadable(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    app, smtp, http = live
    sent = _send(app, "email:bob@mail.cn", "spring:bob")
    wait_for(lambda: smtp.messages, what="bob's email", timeout=WAIT)
    message_id = smtp.messages[0].message["Message-ID"]
    events = [
        {
            "email": "bob@mail.cn",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 user unknown",
            "smtp-id": message_id,
            "timestamp": int(time.time()),
        },
        {"email": "not an address", "event": "bounce"},
        {"email": "ann@other.cn", "event": "spamreport"},
        {"email": "bob@mail.cn", "event": "deferred"},
    ]
    assert http.post("/hooks/email/bounces", json=events).status_code == 401
    answer = http.post(f"/hooks/email/bounces?token={BOUNCE_SECRET}", json=events)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["bounced"], body["complained"], body["suppressed"], body["ignored"]) == (
        1,
        1,
        2,
        1,
    )
    assert body["refused"] == [
        {"field": "[1].email", "value": '"not an address"', "reason": "an email address"}
    ]
    ses = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {"emailAddress": "Gone@Mail.cn", "status": "5.1.1", "diagnosticCode": "smtp; 550"}
            ],
        },
        "mail": {"messageId": "ses-1", "commonHeaders": {"messageId": "<x@y>"}},
    }
    sns = {"Type": "Notification", "Message": json.dumps(ses)}
    headers = {"Authorization": f"Bearer {BOUNCE_SECRET}"}
    assert http.post("/hooks/email/bounces", json=sns, headers=headers).json()["suppressed"] == 1
    with app.platform.opstore.session() as session:
        for address, reason in [
            ("bob@mail.cn", "hard_bounce"),
            ("ann@other.cn", "complaint"),
            ("gone@mail.cn", "hard_bounce"),
        ]:
            found = is_suppressed(session, channel="email", address=address)
            assert found is not None and found.reason == reason, address
    again = _send(app, "email:bob@mail.cn", "spring:bob:2")
    assert (again["status"], again["reason"]) == ("dropped", "suppression")
    app.platform.messages.flush_log()
    history = app.platform.messages.get(sent["outbox_id"])["history"]
    # At the provider's time of the bounce (whole seconds: it may sort before the send).
    assert ("bounced", "hard_bounce") in [(h["status"], h["reason"]) for h in history]
    unknown = http.post("/hooks/email/bounces", json={"hello": 1}, headers=headers)
    assert unknown.status_code == 400 and unknown.json()["detail"]["field"] == "(body)"
    # What could not be read is kept, with its reason, as the provider sent it.
    letters = wait_for(
        lambda: (
            _letters(app, "bounce_report") if len(_letters(app, "bounce_report")) == 2 else None
        ),
        what="two dead letters",
        timeout=WAIT,
    )
    by_field = {letter["field"]: letter for letter in letters}
    assert json.loads(by_field["[1].email"]["payload"]) == events[1]
    assert by_field["[1].email"]["reason"] == "an email address"
    assert json.loads(by_field["(body)"]["payload"]) == {"hello": 1}


def _letters(app: LiveApp, kind: str) -> list[dict[str, Any]]:
    with app.platform.warehouse.reader() as wh:
        t = wh.table("dead_letters")
        rows = t.filter(t.kind == kind).select("field", "reason", "payload", "source")
        return list(rows.to_pyarrow().to_pylist())


def test_a_test_send_goes_to_an_allow_listed_address_only(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    from omnichannel.errors import ValidationError

    app, smtp, _ = live
    sent = app.platform.messages.test(
        channel="email",
        address="qa@shop.example",
        template="spring",
        identifier="email:john.smith@gmail.com",
    )
    assert sent["status"] == "queued"
    wait_for(lambda: smtp.messages, what="the test email", timeout=WAIT)
    [mail] = smtp.messages
    assert mail.recipients == ["qa@shop.example"]
    assert mail.message["Subject"] == "Spring sale, Zoë"  # rendered for ann, sent to QA
    with pytest.raises(ValidationError, match="test recipients of email"):
        app.platform.messages.test(channel="email", address="boss@shop.example", template="spring")


def test_an_open_by_someone_known_only_by_email_is_attributed_to_their_profile(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    import pyarrow as pa

    from omnichannel.channels.engagement import anonymous_id_for

    app, smtp, http = live
    platform = app.platform
    # lin is a CRM contact with an email and nothing else: no user id, no device.
    with platform.warehouse.writer() as wh:
        wh.append(
            "identifiers",
            pa.table(
                {
                    "source": ["crm"],
                    "record_id": ["c-lin"],
                    "id_type": ["email"],
                    "id_value": ["lin@mail.cn"],
                    "observed_at": [T0],
                }
            ),
        )
    platform.identity.resolve()
    sent = _send(app, "email:lin@mail.cn", "spring:lin")
    wait_for(lambda: smtp.messages, what="lin's email", timeout=WAIT)
    pixel = re.search(r'<img src="([^"]+)"', smtp.messages[0].part("html"))
    assert pixel and http.get(pixel.group(1)).status_code == 200
    anonymous = anonymous_id_for("lin@mail.cn")
    [opened] = wait_for(lambda: _events(app, "Email Opened"), what="lin's open", timeout=WAIT)
    assert (opened["user_id"], opened["anonymous_id"]) == (None, anonymous)
    # The identify call beside it ties that anonymous id to her address: after the next
    # resolve, the open is one of her profile's identifiers' events.
    platform.identity.resolve()
    with platform.warehouse.reader() as wh:
        pi = wh.table("profile_identifiers")
        mine = pi.filter(pi.id_type == "anonymous_id", pi.id_value == anonymous)
        holders = mine.select("profile_id").to_pyarrow().to_pylist()
    assert [h["profile_id"] for h in holders] == [sent["profile_id"]]


def test_an_unsubscribe_after_queueing_still_stops_the_email(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    from omnichannel.opstore.consent import set_consent

    app, smtp, _ = live
    platform = app.platform
    platform.channels.stop()
    queued = _send(app, "email:bob@mail.cn", "spring:bob:late")
    assert queued["status"] == "queued"
    with platform.opstore.session() as session:
        set_consent(
            session,
            subject_type="email",
            subject_value="bob@mail.cn",
            channel="email",
            status="unsubscribed",
            source="preference_centre",
            actor="test",
        )
    control = _send(app, "email:john.smith@gmail.com", "spring:ann:control")
    platform.channels.start(["email"], poll_seconds=0.05)
    # ann's message goes out; bob's, checked again right before sending, does not.
    wait_for(lambda: smtp.messages, what="ann's email", timeout=WAIT)
    final = wait_for(
        lambda: (m := platform.messages.get(queued["outbox_id"]))["status"] in SETTLED and m,
        what="bob's message settled",
        timeout=WAIT,
    )
    assert (final["status"], final["reason"]) == ("dropped", "consent")
    assert [m.recipients for m in smtp.messages] == [["john.smith@gmail.com"]]
    wait_for(
        lambda: platform.messages.get(control["outbox_id"])["status"] == "sent",
        what="ann's message marked sent",
        timeout=WAIT,
    )


DSN = """\
From: MAILER-DAEMON@mx.mail.cn
To: news@shop.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.mail.cn. I'm sorry to have to inform you...

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.mail.cn

Final-Recipient: rfc822; Bob@mail.cn
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <bob@mail.cn>: Recipient address rejected

--B
Content-Type: text/rfc822-headers

Message-ID: {message_id}
To: bob@mail.cn
Subject: Spring sale, Bob

--B--
"""
ARF = """\
From: fbl@mail.cn
To: abuse@shop.example
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: fbl/1.0
Version: 1
Original-Rcpt-To: john.smith@gmail.com

--F
Content-Type: message/rfc822

Message-ID: <someone-else@shop.example>
To: john.smith@gmail.com
Subject: hi

hello
--F--
"""


def test_bounce_and_complaint_emails_are_read_as_sent_by_mail_servers(
    live: tuple[LiveApp, SmtpServer, httpx.Client],
) -> None:
    app, smtp, http = live
    sent = _send(app, "email:bob@mail.cn", "spring:bob:dsn")
    wait_for(lambda: smtp.messages, what="bob's email", timeout=WAIT)
    message_id = smtp.messages[0].message["Message-ID"]
    headers = {"Authorization": f"Bearer {BOUNCE_SECRET}", "Content-Type": "message/rfc822"}
    dsn = DSN.format(message_id=message_id).encode()
    answer = http.post("/hooks/email/bounces?provider=postfix", content=dsn, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["bounced"], answer.json()["suppressed"]) == (1, 1)
    complaint = http.post("/hooks/email/bounces", content=ARF.encode(), headers=headers)
    assert complaint.json()["complained"] == 1
    not_a_report = b"From: a@b.cn\r\nSubject: hello\r\n\r\nJust a note"
    refused = http.post("/hooks/email/bounces", content=not_a_report, headers=headers)
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "Content-Type"
    with app.platform.opstore.session() as session:
        bob = is_suppressed(session, channel="email", address="bob@mail.cn")
        ann = is_suppressed(session, channel="email", address="john.smith@gmail.com")
        assert bob is not None and (bob.reason, bob.source) == ("hard_bounce", "postfix")
        assert ann is not None and ann.reason == "complaint"
    app.platform.messages.flush_log()
    history = app.platform.messages.get(sent["outbox_id"])["history"]
    assert ("bounced", "hard_bounce") in [(h["status"], h["reason"]) for h in history]
