"""kill -9 of a process running the email worker: what the SMTP server accepted is not sent twice.

SMTP has no idempotency key, so the worker commits each accepted message (its 250) at
once and, with ``record_before_next: true``, before its slot sends the next one. The
server here checks that at every DATA: each message it accepted before is already
``sent`` in the outbox. At the fourth DATA it kills the worker's process with SIGKILL
and answers 451 (that message was never accepted). A second worker takes over once the
dead one's leases are over (their expiry is moved to the past rather than waited for):
every message reaches the server exactly once, its Message-ID never twice.

Run as a module, this file is the worker process (``python -m tests.channels.test_email_kill
HOME PORT``): the email channel alone, one connection and one send at a time.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.models import OutboxMessage, OutboxStatus, utcnow
from omnichannel.opstore.sealed import home_sealer
from omnichannel.platform import Platform
from tests.channels.conftest import wait_for
from tests.channels.servers.smtp import Handler, Received
from tests.cli.run import omni_env

ROOT = Path(__file__).parents[2]
KILL_AT = 4  # the DATA during which the worker is killed
MESSAGES = 6


def _yaml(port: int) -> str:
    return (
        "email:\n  host: 127.0.0.1\n"
        f"  port: {port}\n"
        "  from_address: shop@example.com\n  starttls: false\n"
        "  concurrency: 1\n  pool_size: 1\n  rate_per_second: 1000\n  timeout: 5\n"
        "  record_before_next: true\n"
        "  retry: {max_attempts: 5, base: 0.05, max: 0.2}\n"
    )


@dataclass
class Killing(Handler):
    """Accepts messages, checks the earlier ones are recorded, kills the worker at one."""

    status_of: Any = None
    victim: subprocess.Popen[str] | None = None
    accepted: list[int] = field(default_factory=list)
    unrecorded: list[tuple[int, list[int]]] = field(default_factory=list)
    datas: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        outbox_id = int(str(parsed["X-Omni-Outbox-Id"]))
        with self.lock:
            self.datas += 1
            n = self.datas
        # Every message accepted so far must be recorded before another DATA comes.
        pending = [i for i in self.accepted if self.status_of(i) != OutboxStatus.SENT]
        if pending:
            self.unrecorded.append((outbox_id, pending))
        if n == KILL_AT and self.victim is not None:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim.wait(30)
            return "451 4.3.0 try again later"
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
            self.accepted.append(outbox_id)
        return "250 2.0.0 queued"


def _status(opstore: OpStore, outbox_id: int) -> OutboxStatus | None:
    with opstore.session() as session:
        found = session.get(OutboxMessage, outbox_id)
        return None if found is None else OutboxStatus(found.status)


def _enqueue(home: Path, port: int, ids: dict[str, str]) -> list[int]:
    users = ["ann", "bob", "cy"]
    with Platform(Settings(home=home)) as platform:
        platform.messages.use_config(parse_channels_config(_yaml(port)))
        sent = [
            platform.messages.send(
                channel="email",
                profile_id=ids[users[k % 3]],
                content={"subject": f"Note {k}", "text": "hello"},
                idempotency_key=f"kill-test:{k}",
            )
            for k in range(MESSAGES)
        ]
    assert all(s["status"] == "queued" for s in sent)
    return [int(s["outbox_id"]) for s in sent]


def _kill_during_the_fourth_data(home: Path, port: int, handler: Killing) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.test_email_kill", str(home), str(port)],
        cwd=ROOT,
        env=omni_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handler.victim = worker
    try:
        assert worker.stdout is not None and worker.stdout.readline().startswith("ready")
        worker.wait(120)  # killed by the server at the fourth DATA
    finally:
        if worker.poll() is None:
            worker.kill()
        handler.victim = None
    assert worker.returncode == -signal.SIGKILL, worker.stderr.read() if worker.stderr else ""


def test_a_killed_email_worker_sends_nothing_the_server_accepted_again(
    people_home: tuple[Path, dict[str, str]],
) -> None:
    from aiosmtpd.controller import Controller

    from tests.channels.servers.smtp import free_port

    home, ids = people_home
    port = free_port()
    outbox_ids = _enqueue(home, port, ids)
    # The worker's process owns the warehouse while it runs: the outbox is read alone.
    # The worker runs in the platform, which seals the outbox; read it with the same keys.
    opstore = open_opstore(Settings(home=home).resolved_opstore_url, sealer=home_sealer(home))
    handler = Killing(status_of=lambda i: _status(opstore, i))
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _kill_during_the_fourth_data(home, port, handler)
        assert len(handler.messages) == KILL_AT - 1
        # The dead worker's leases run out (moved to the past here, not waited for).
        with opstore.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.SENDING)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        with Platform(Settings(home=home)) as platform:
            platform.messages.use_config(parse_channels_config(_yaml(port)))
            platform.channels.start(["email"], poll_seconds=0.05)
            wait_for(
                lambda: all(_status(opstore, i) == OutboxStatus.SENT for i in outbox_ids),
                timeout=60,
                what="every message sent after the takeover",
            )
            time.sleep(0.2)  # a message sent twice would have arrived by now
            platform.channels.stop()
    finally:
        controller.stop()
        opstore.close()
    assert handler.unrecorded == []  # every 250 was recorded before the next DATA
    per_id = Counter(str(m.message["Message-ID"]) for m in handler.messages)
    assert len(per_id) == MESSAGES
    assert set(per_id.values()) == {1}  # nothing the server accepted came again


def _worker(home: str, port: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Platform(Settings(home=Path(home))) as platform:
        platform.messages.use_config(parse_channels_config(_yaml(int(port))))
        platform.channels.start(["email"], poll_seconds=0.05)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        stop.wait()


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
