"""The email adapter against a real SMTP server (aiosmtpd): MIME, RFC 8058, TLS, AUTH, answers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from omnichannel.channels.adapter import AdapterContext, Delivery, Rejected, RetryLater, Sent
from omnichannel.channels.email import EmailAdapter, EmailSettings
from omnichannel.channels.render import UNSUBSCRIBE_PLACEHOLDER
from omnichannel.channels.tracking import Tracking
from omnichannel.opstore.models import MessageKind
from tests.channels.servers.smtp import SmtpServer, free_port, smtp_server

BASE = "https://shop.example"
TRACKING = Tracking(b"test-secret", BASE)
CONTENT = {
    "subject": "Spring sale, Zoë",
    "text": f"Hello Zoë\nUnsubscribe: {UNSUBSCRIBE_PLACEHOLDER}",
    "html": (
        '<html><body><p>Hello Zoë, <a href="https://shop.example/sale?a=1&amp;b=2">sale</a>'
        f' <a href="mailto:help@shop.example">help</a> <a href="{UNSUBSCRIBE_PLACEHOLDER}">'
        "unsubscribe</a></p></body></html>"
    ),
}


def delivery(outbox_id: int, address: str, **changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "outbox_id": outbox_id,
        "idempotency_key": f"test:{outbox_id}",
        "channel": "email",
        "kind": MessageKind.MARKETING,
        "profile_id": "p_1",
        "address": address,
        "content": CONTENT,
        "attempt": 1,
        "campaign": "spring",
        **changes,
    }
    return Delivery(**fields)


def settings_for(server: SmtpServer, **changes: Any) -> EmailSettings:
    return EmailSettings(
        host=server.host,
        port=server.port,
        from_address="news@shop.example",
        from_name="Shop",
        timeout=timedelta(seconds=5),
        **changes,
    )


def send_all(settings: EmailSettings, deliveries: Sequence[Delivery]) -> list[Any]:
    async def run() -> list[Any]:
        adapter = EmailAdapter(settings, AdapterContext(public_base_url=BASE, tracking=TRACKING))
        await adapter.open()
        try:
            return [await adapter.send(d) for d in deliveries]
        finally:
            await adapter.close()

    return asyncio.run(run())


def test_a_message_arrives_multipart_with_its_own_links_and_one_click_unsubscribe() -> None:
    with smtp_server() as server:
        [outcome] = send_all(settings_for(server), [delivery(41, "ann@mail.cn")])
    assert isinstance(outcome, Sent)
    [got] = server.messages
    mail = got.message
    assert (got.sender, got.recipients) == ("news@shop.example", ["ann@mail.cn"])
    assert mail["Subject"] == "Spring sale, Zoë" and mail["From"] == "Shop <news@shop.example>"
    assert mail["Message-ID"] == outcome.provider_message_id
    assert outcome.response.startswith("2.0.0 queued") or "queued" in outcome.response
    # RFC 8058: a one-click unsubscribe link of this message, and the POST marker.
    unsubscribe = mail["List-Unsubscribe"].strip().strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = unsubscribe.removeprefix(f"{BASE}/unsubscribe/")
    assert TRACKING.read(token, "unsubscribe").outbox_id == 41
    assert got.part("plain") == f"Hello Zoë\nUnsubscribe: {unsubscribe}"
    page = got.part("html")
    # The sale link goes through the click redirect, which reads back the exact target;
    # mailto and the unsubscribe link are left alone; the open pixel is in the body.
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs[1:] == ["mailto:help@shop.example", unsubscribe]
    click = TRACKING.read(hrefs[0].replace("&amp;", "&").split("/t/c/")[1], "click")
    assert (click.outbox_id, click.url) == (41, "https://shop.example/sale?a=1&b=2")
    pixel = re.search(r'<img src="([^"]+)"[^>]*></body>', page)
    assert pixel and TRACKING.read(pixel.group(1).split("/t/o/")[1], "open").outbox_id == 41


def test_transactional_messages_carry_no_list_unsubscribe_and_retries_keep_the_message_id() -> None:
    receipt = {"subject": "Your receipt", "text": "Thanks"}
    first = delivery(7, "ann@mail.cn", kind=MessageKind.TRANSACTIONAL, content=receipt)
    retry = delivery(7, "ann@mail.cn", kind=MessageKind.TRANSACTIONAL, content=receipt, attempt=2)
    with smtp_server() as server:
        outcomes = send_all(settings_for(server), [first, retry])
    assert all(isinstance(o, Sent) for o in outcomes)
    assert [m.message["List-Unsubscribe"] for m in server.messages] == [None, None]
    assert server.messages[0].message["Message-ID"] == server.messages[1].message["Message-ID"]
    assert server.messages[0].message.get_content_type() == "text/plain"


def test_one_connection_is_reused_for_many_messages() -> None:
    with smtp_server() as server:
        outcomes = send_all(
            settings_for(server, pool_size=1), [delivery(i, f"u{i}@mail.cn") for i in range(6)]
        )
    assert all(isinstance(o, Sent) for o in outcomes)
    assert (len(server.messages), server.handler.connections) == (6, 1)


def test_starttls_and_auth(tmp_path: Path) -> None:
    with smtp_server(tls_dir=tmp_path, login=("shop", "s3cret")) as server:
        assert server.cert is not None
        good = settings_for(
            server, starttls=True, ca_file=str(server.cert), username="shop", password="s3cret"
        )
        [sent] = send_all(good, [delivery(1, "ann@mail.cn")])
        wrong = settings_for(
            server, starttls=True, ca_file=str(server.cert), username="shop", password="nope"
        )
        [refused] = send_all(wrong, [delivery(2, "ann@mail.cn")])
        untrusted = settings_for(server, starttls=True, username="shop", password="s3cret")
        [unverified] = send_all(untrusted, [delivery(3, "ann@mail.cn")])
    assert isinstance(sent, Sent) and len(server.messages) == 1
    # A refused login is the channel's problem, not the message's: retried, never dead.
    assert isinstance(refused, RetryLater) and "login refused" in refused.response
    assert "535" in refused.response
    assert isinstance(unverified, RetryLater) and "CERTIFICATE_VERIFY_FAILED" in unverified.response


def test_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tls_dir=tmp_path, implicit_tls=True) as server:
        assert server.cert is not None
        smtps = settings_for(server, use_tls=True, ca_file=str(server.cert))
        [sent] = send_all(smtps, [delivery(1, "ann@mail.cn")])
        plain = settings_for(server, starttls=False)
        [refused] = send_all(plain, [delivery(2, "ann@mail.cn")])
    assert isinstance(sent, Sent) and [m.recipients for m in server.messages] == [["ann@mail.cn"]]
    assert isinstance(refused, RetryLater)  # plain text to a TLS port: no greeting


def test_the_servers_answer_decides_retry_reject_or_suppress() -> None:
    answers = {
        "gone@mail.cn": "550 5.1.1 no such user",
        "busy@mail.cn": "451 4.3.0 mailbox busy, try later",
        "policy@mail.cn": "554 5.7.1 refused by policy",
    }
    addresses = ["gone@mail.cn", "busy@mail.cn", "policy@mail.cn", "ann@mail.cn"]
    with smtp_server(answers=answers) as server:
        outcomes = send_all(
            settings_for(server, pool_size=1), [delivery(i, a) for i, a in enumerate(addresses)]
        )
    gone, busy, policy, ann = outcomes
    assert isinstance(gone, Rejected) and gone.suppress and gone.reason == "hard_bounce"
    assert gone.response == "550 5.1.1 no such user"
    assert isinstance(busy, RetryLater) and busy.response.startswith("451")
    assert isinstance(policy, Rejected) and not policy.suppress
    # The refusals cost nothing beside them: the next message went out on the same connection.
    assert isinstance(ann, Sent) and [m.recipients for m in server.messages] == [["ann@mail.cn"]]
    assert server.handler.connections == 1


def test_a_server_that_is_not_there_means_retry_later() -> None:
    nobody = EmailSettings(host="127.0.0.1", port=free_port(), timeout=timedelta(seconds=2))
    [outcome] = send_all(nobody, [delivery(1, "ann@mail.cn")])
    assert isinstance(outcome, RetryLater)


def test_a_server_that_hangs_means_retry_later_within_the_timeout() -> None:
    import socket
    import threading

    # Accepts the connection and never says a word (no 220 greeting).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    silent = EmailSettings(
        host="127.0.0.1", port=listener.getsockname()[1], timeout=timedelta(seconds=0.5)
    )
    try:
        [outcome] = send_all(silent, [delivery(1, "ann@mail.cn")])
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
    assert isinstance(outcome, RetryLater) and "Timeout" in outcome.response


def test_a_preheader_is_the_hidden_first_text_of_the_html_body() -> None:
    content = {
        "subject": "Sale",
        "text": "Hello",
        "preheader": "Up to 50% off <this week>",
        "html": "<html><body><p>Hello</p></body></html>",
    }
    with smtp_server() as server:
        [outcome] = send_all(settings_for(server), [delivery(3, "ann@mail.cn", content=content)])
    assert isinstance(outcome, Sent)
    page = server.messages[0].part("html")
    assert page.startswith('<html><body><div style="display:none;')
    assert ">Up to 50% off &lt;this week&gt;</div><p>Hello</p>" in page


def test_an_address_that_is_not_ascii_goes_out_where_the_server_offers_smtputf8() -> None:
    with smtp_server() as server:
        (outcome,) = send_all(settings_for(server), [delivery(1, "zoë@mail.cn")])
        assert isinstance(outcome, Sent)
        assert server.messages[0].recipients == ["zoë@mail.cn"]
    # A relay without it cannot take the address: retried (its settings are the problem).
    with smtp_server(smtputf8=False) as plain:
        (refused,) = send_all(settings_for(plain), [delivery(2, "zoë@mail.cn")])
        assert isinstance(refused, RetryLater) and "SMTPUTF8" in refused.response
        assert plain.messages == []
