"""Email throughput: the one send path and the email worker, against a bare smtplib loop.

Both runs deliver to the same local SMTP server (aiosmtpd in a process of its own, as a
relay would be), in the same process and the same minute:

- **baseline** (the ceiling): one ``smtplib`` connection, and per person a
  ``multipart/alternative`` message with the same subject, text and HTML filled in by
  ``str.format`` from names read beforehand; no checks, no queue, no log.
- **ours**: ``platform.messages.send_many`` for every person (address from the identity
  graph, consent, suppression, the frequency cap, quiet hours, idempotency, the template
  rendered per person in the Jinja2 sandbox from their profile, the outbox row, the
  delivery log), while the email worker claims the queued messages and sends them
  (pooled aiosmtplib connections, signed open pixel, click links and RFC 8058 headers
  per message, each outcome written back and logged).

Beside them, the receiver's own ceiling: four ``smtplib`` connections on threads handing
it one prepared message per person (no composing), before and after ours.

Printed: messages per second of each, the ratio ours / baseline, the send path's own
rate (enqueue) and the end-to-end rate (first request to last message at the server).
5 % of the people unsubscribed from email and 1 % suppressed: their messages are dropped
by the send path and not counted as sent.

Run: ``python benchmarks/email_send.py [--people 3000]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import socket
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.channels.settings import parse_channels_config
from omnichannel.channels.suppressions import add_suppression
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.opstore.consent import set_consent
from omnichannel.platform import Platform

SUBJECT = "Spring sale for you, {first_name}"
TEXT = "Hello {first_name},\nour spring sale is on in {city}: https://shop.example/sale\n"
HTML = (
    "<p>Hello {first_name},</p><p>our spring sale is on in {city}: "
    '<a href="https://shop.example/sale">shop now</a></p>'
)
TEMPLATE = {
    "subject": "Spring sale for you, {{ profile.first_name }}",
    "text": "Hello {{ profile.first_name }},\nour spring sale is on in {{ profile.city }}: "
    "https://shop.example/sale\nUnsubscribe: {{ unsubscribe_url }}\n",
    "html": "<p>Hello {{ profile.first_name }},</p><p>our spring sale is on in "
    '{{ profile.city }}: <a href="https://shop.example/sale">shop now</a></p>',
}


def _sink(port: int, count: Any, ready: Any) -> None:
    """The SMTP server's process: count every message accepted."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            count.value += 1
            return "250 2.0.0 queued"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def build(home: Path, n: int) -> list[dict[str, Any]]:
    """N people with an email and a CRM record (name, city); returns them."""
    settings = Settings(home=home)
    initialise(settings)
    with Platform(settings) as platform, platform.warehouse.writer() as wh:
        con = wh.con.con  # type: ignore[attr-defined]
        con.execute(
            f"""
            INSERT INTO profile_identifiers (profile_id, id_type, id_value, status, records,
                                             first_seen, last_seen)
            SELECT 'p_' || i, 'email', 'person' || i || '@mail.cn', 'linked', 1,
                   TIMESTAMP '2026-01-01', TIMESTAMP '2026-06-01' FROM range({n}) t(i);
            INSERT INTO record_profiles (source, record_id, profile_id)
            SELECT 'crm', 'c' || i, 'p_' || i FROM range({n}) t(i);
            INSERT INTO customer_records (source, record_id, first_name, city, updated_at,
                                          loaded_at)
            SELECT 'crm', 'c' || i, 'Ann' || (i % 97), 'Shanghai', TIMESTAMP '2026-05-01',
                   TIMESTAMP '2026-05-01' FROM range({n}) t(i);
            INSERT INTO profiles (profile_id, orders, rfm_segment)
            SELECT 'p_' || i, i % 5, 'loyal' FROM range({n}) t(i);
            """
        )
    return [
        {
            "profile_id": f"p_{i}",
            "email": f"person{i}@mail.cn",
            "first_name": f"Ann{i % 97}",
            "city": "Shanghai",
        }
        for i in range(n)
    ]


def baseline(port: int, people: list[dict[str, Any]]) -> float:
    """Seconds for the bare loop: one connection, one message per person."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for person in people:
            message = EmailMessage()
            message["From"] = "news@shop.example"
            message["To"] = person["email"]
            message["Subject"] = SUBJECT.format(**person)
            message.set_content(TEXT.format(**person))
            message.add_alternative(HTML.format(**person), subtype="html")
            smtp.send_message(message)
    return time.perf_counter() - started


def receiver_ceiling(port: int, people: list[dict[str, Any]], connections: int = 4) -> float:
    """Seconds for ``connections`` threads, each on its own ``smtplib`` connection, to hand
    the receiver one prepared message per person: as much as it takes from this process
    with (almost) no work on our side, so the receiver's own ceiling."""
    import threading

    sample = EmailMessage()
    sample["From"] = "news@shop.example"
    sample["To"] = people[0]["email"]
    sample["Subject"] = SUBJECT.format(**people[0])
    sample.set_content(TEXT.format(**people[0]))
    sample.add_alternative(HTML.format(**people[0]), subtype="html")
    raw = sample.as_bytes()
    shares = [people[i::connections] for i in range(connections)]

    def send(share: list[dict[str, Any]]) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for person in share:
                smtp.sendmail("news@shop.example", [person["email"]], raw)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def adapter_alone(port: int, people: list[dict[str, Any]]) -> float:
    """Seconds for the email adapter by itself (pooled connections, links, headers; no
    send path, no queue): where the time of ``ours`` goes beyond SMTP."""
    import asyncio

    from omnichannel.channels.adapter import AdapterContext, Delivery
    from omnichannel.channels.email import EmailAdapter, EmailSettings
    from omnichannel.channels.render import render_parts, sample_context
    from omnichannel.channels.tracking import Tracking
    from omnichannel.opstore.models import MessageKind

    async def run() -> float:
        settings = EmailSettings(host="127.0.0.1", port=port, from_address="news@shop.example")
        tracking = Tracking(b"bench", "https://shop.example")
        adapter = EmailAdapter(settings, AdapterContext("https://shop.example", tracking))
        await adapter.open()
        content = render_parts("email", TEMPLATE, sample_context("email"))
        gate = asyncio.Semaphore(16)

        async def one(i: int, person: dict[str, Any]) -> None:
            async with gate:
                await adapter.send(
                    Delivery(
                        i,
                        f"alone:{i}",
                        "email",
                        MessageKind.MARKETING,
                        person["profile_id"],
                        person["email"],
                        content,
                        1,
                    )
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i, p) for i, p in enumerate(people)))
        seconds = time.perf_counter() - started
        await adapter.close()
        return seconds

    return asyncio.run(run())


def ours(home: Path, port: int, people: list[dict[str, Any]], count: Any) -> dict[str, float]:
    config = parse_channels_config(
        "public_base_url: https://shop.example\n"
        "caps: {marketing: [{count: 3, per: 7d}]}\n"
        "email:\n"
        f"  host: 127.0.0.1\n  port: {port}\n  from_address: news@shop.example\n"
        "  rate_per_second: 100000\n  concurrency: 16\n  pool_size: 4\n"
    )
    with Platform(Settings(home=home)) as platform:
        platform.messages.use_config(config)
        platform.templates.save("spring", channel="email", content=TEMPLATE, created_by="bench")
        with platform.opstore.session() as session:
            for person in people[::20]:
                set_consent(
                    session,
                    subject_type="email",
                    subject_value=person["email"],
                    channel="email",
                    status="unsubscribed",
                    source="bench",
                    actor="bench",
                )
            for person in people[7::100]:
                add_suppression(
                    session,
                    channel="email",
                    address=person["email"],
                    reason="hard_bounce",
                    actor="bench",
                )
        platform.channels.start(["email"], poll_seconds=0.05)
        before = count.value
        started = time.perf_counter()
        queued = 0
        for start in range(0, len(people), 500):
            page = people[start : start + 500]
            answers = platform.messages.send_many(
                {
                    "channel": "email",
                    "profile_id": p["profile_id"],
                    "template": "spring",
                    "campaign": "spring",
                    "idempotency_key": f"spring:{p['profile_id']}",
                }
                for p in page
            )
            queued += sum(1 for a in answers if a.get("status") == "queued")
        enqueued = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while count.value - before < queued:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {count.value - before} of {queued} messages arrived")
            time.sleep(0.01)
        total = time.perf_counter() - started
        platform.channels.stop()
    return {"queued": queued, "enqueue_seconds": enqueued, "seconds": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    args = parser.parse_args()
    from omnichannel.api.services import SWITCH_INTERVAL

    sys.setswitchinterval(SWITCH_INTERVAL)  # as in omni serve
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    count = multiprocessing.Value("l", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, count, ready), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            people = build(home, args.people)
            load_before = os.getloadavg()
            base = baseline(port, people)
            ceiling = receiver_ceiling(port, people)
            alone = adapter_alone(port, people)
            mine = ours(home, port, people, count)
            ceiling_again = receiver_ceiling(port, people)
    finally:
        sink.terminate()
    n = len(people)
    base_rate = n / base
    rate = mine["queued"] / mine["seconds"]
    print(
        f"people: {n}, sent by ours: {int(mine['queued'])} (the rest dropped: consent, suppression)"
    )
    print(f"load (1, 5, 15 min): {load_before} at the start, {os.getloadavg()} at the end")
    print(f"baseline (smtplib, one connection): {base_rate:,.0f} messages/s ({base:.2f} s)")
    print(
        f"the receiver's ceiling (4 smtplib connections, one prepared message): "
        f"{n / ceiling:,.0f} messages/s, after ours {n / ceiling_again:,.0f}/s"
    )
    print(f"email adapter alone (4 pooled connections): {n / alone:,.0f} messages/s")
    enqueue_rate = mine["queued"] / mine["enqueue_seconds"]
    print(
        f"ours (send path + email worker, end to end): {rate:,.0f} messages/s "
        f"({mine['seconds']:.2f} s); send path alone {enqueue_rate:,.0f}/s"
    )
    print(f"ratio ours / baseline: {rate / base_rate:.2f}  (target: >= 500 messages/s)")
    print(f"ratio ours / the receiver's ceiling: {rate / (n / min(ceiling, ceiling_again)):.2f}")


if __name__ == "__main__":
    main()
