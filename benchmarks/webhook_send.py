"""Webhooks through the whole channel path, against a bare HTTP client loop (the ceiling).

Measured: ``platform.messages.send_many`` of N webhook messages (the send path with its
checks on: idempotency, suppression, frequency caps of a configured ``caps`` section,
render of the body template per message; outbox rows and delivery-log rows written),
then the webhook worker delivering them (claim with lease, consent and suppression
checked again, aiolimiter, timeout, breaker, HMAC signature, aiohttp, settle in
batches, the delivery log). Printed: enqueue messages/s, delivery messages/s, and end
to end.

Baseline, in the same process, side by side (before and after): an
``aiohttp.ClientSession`` posting the same number of signed bodies with the same
concurrency and nothing else (no queue, no store): the client the adapter uses.
``--httpx`` adds the bare ``httpx.AsyncClient`` loop of the adapter before it.

The receiver is a minimal asyncio HTTP/1.1 server (keep-alive, answers 200) in its own
process, so it does not share the sender's interpreter lock. The process switches the
GIL every 1 ms, as ``omni serve`` does.

    .venv/bin/python benchmarks/webhook_send.py                 # 5,000 messages, 8 in flight
    .venv/bin/python benchmarks/webhook_send.py --messages 20000 --concurrency 64

Target (issue #10): at least 1,000 webhooks a second delivered on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_PER_S = 1000
SECRET = "benchmark-webhook-secret-0123"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


def _receiver(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed(i: int) -> tuple[bytes, dict[str, str]]:
    from omnichannel.channels.webhook import sign

    body = json.dumps({"id": f"b-{i}", "data": {"order": f"o-{i}"}}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Omni-Signature": sign(SECRET, body, int(time.time())),
    }
    return body, headers


async def _bare_loop(n: int, concurrency: int, post: Any) -> float:
    """Seconds for ``concurrency`` workers to ``post`` ``n`` signed bodies in turn."""
    pending = list(range(n))

    async def worker() -> None:
        while pending:
            await post(*_signed(pending.pop()))

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


def baseline(url: str, n: int, concurrency: int) -> float:
    """Seconds for a bare aiohttp loop (the adapter's client) to POST ``n`` signed bodies."""
    import aiohttp

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(body: bytes, headers: dict[str, str]) -> None:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    response.raise_for_status()

            return await _bare_loop(n, concurrency, post)

    return _run(run())


def baseline_httpx(url: str, n: int, concurrency: int) -> float:
    """The same with ``httpx.AsyncClient`` (the adapter's client before aiohttp)."""
    import httpx

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=15) as client:

            async def post(body: bytes, headers: dict[str, str]) -> None:
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()

            return await _bare_loop(n, concurrency, post)

    return _run(run())


def _run(work: Any) -> float:
    # On the event loop the channel workers run on (uvloop where it is installed).
    from omnichannel.channels.dispatcher import _loop_factory

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return float(runner.run(work))


def platform_run(home: Path, url: str, n: int, concurrency: int) -> tuple[float, float]:
    """(seconds to enqueue ``n`` through the send path, seconds for the worker to deliver)."""
    from sqlalchemy import func, select

    from omnichannel.channels.settings import parse_channels_config
    from omnichannel.config import Settings
    from omnichannel.installation import initialise
    from omnichannel.opstore.models import OutboxMessage, OutboxStatus
    from omnichannel.platform import Platform

    settings = Settings(home=home)
    initialise(settings)
    config = parse_channels_config(
        "caps: {marketing: [{count: 1000000, per: 7d}]}\n"
        "webhook:\n"
        f"  concurrency: {concurrency}\n"
        "  rate_per_second: 100000\n"
        "  timeout: 15\n"
        f"  endpoints: {{bench: {{url: '{url}', secret: '{SECRET}'}}}}\n"
    )
    with Platform(settings) as platform:
        platform.messages.use_config(config)
        requests = [
            {
                "channel": "webhook",
                "address": "bench",
                "profile_id": f"p-{i}",
                "content": {"body": {"order": "{{ order }}"}},
                "data": {"order": f"o-{i}"},
                "idempotency_key": f"bench:{i}",
            }
            for i in range(n)
        ]
        began = time.perf_counter()
        for start in range(0, n, 1000):
            answers = platform.messages.send_many(requests[start : start + 1000])
            assert all(a["status"] == "queued" for a in answers), answers[0]
        enqueued = time.perf_counter() - began
        began = time.perf_counter()
        platform.channels.start(["webhook"], poll_seconds=0.05)
        while True:
            with platform.opstore.session() as session:
                sent = session.scalar(
                    select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
                )
            if sent >= n:
                break
            time.sleep(0.05)
        delivered = time.perf_counter() - began
        platform.channels.stop()
    return enqueued, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--httpx", action="store_true", help="also time a bare httpx loop")
    args = parser.parse_args()
    n, concurrency = args.messages, args.concurrency

    from omnichannel.api.services import SWITCH_INTERVAL

    sys.setswitchinterval(SWITCH_INTERVAL)  # as in omni serve
    port = _free_port()
    ready = multiprocessing.Event()
    receiver = multiprocessing.Process(target=_receiver, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port}/hook"
    load_before = os.getloadavg()
    try:
        bare = baseline(url, n, concurrency)
        with tempfile.TemporaryDirectory() as tmp:
            enqueue, deliver = platform_run(Path(tmp) / "home", url, n, concurrency)
        bare_again = baseline(url, n, concurrency)
        before = baseline_httpx(url, n, concurrency) if args.httpx else None
    finally:
        receiver.terminate()
    ceiling = n / min(bare, bare_again)
    print(f"load (1, 5, 15 min): {load_before} at the start, {os.getloadavg()} at the end")
    print(f"{n:,} webhooks, {concurrency} in flight, receiver in its own process, ", end="")
    print(f"{os.cpu_count()} cores")
    print(f"bare aiohttp loop (ceiling): {n / bare:,.0f}/s, again {n / bare_again:,.0f}/s")
    if before is not None:
        print(f"bare httpx loop:             {n / before:,.0f}/s")
    print(f"send path (enqueue):         {n / enqueue:,.0f}/s ({enqueue:.2f} s)")
    print(f"worker (deliver):            {n / deliver:,.0f}/s ({deliver:.2f} s)")
    end_to_end = n / (enqueue + deliver)
    print(f"end to end:                  {end_to_end:,.0f}/s")
    print(f"ratio deliver / ceiling:     {n / deliver / ceiling:.2f}")
    verdict = "met" if n / deliver >= TARGET_PER_S else "NOT met"
    print(f"target {TARGET_PER_S:,}/s delivered: {verdict}")


if __name__ == "__main__":
    main()
