"""A backup taken through a running ``omni serve`` while its collector takes events.

The backup tests of every store layout start the same way: events acknowledged and
loaded, more acknowledged (loaded or not when the backup starts), and a sender posting
all through the backup. What they then check, every event acknowledged before the
backup restored once and nothing but the sent ones, needs the ids of both groups.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.cli.run import omni_in_process
from tests.support.collector import running_server, wait_until_loaded


@dataclass
class BackupWhileCollecting:
    made: dict[str, Any]  # what ``omni backup --json`` printed
    before: list[str]  # message ids acknowledged before the backup started
    during: list[str]  # message ids sent while it ran


def post_views(url: str, key: str, ids: list[str]) -> None:
    """One batch of ``Viewed`` events, one per message id, acknowledged (200)."""
    calls = [{"type": "track", "userId": f"u-{m}", "event": "Viewed", "messageId": m} for m in ids]
    answer = httpx.post(f"{url}/v1/batch", json={"batch": calls}, auth=(key, ""), timeout=60)
    assert answer.status_code == 200, answer.text


def backup_while_collecting(
    home: Path, copy: Path, key: str, *, env: dict[str, str] | None = None
) -> BackupWhileCollecting:
    """Serve ``home`` (stores named by ``env``), post events, back up to ``copy`` while
    posting more, stop the server."""
    before = [f"before-{i}" for i in range(200)]
    during: list[str] = []
    stop = threading.Event()
    with running_server(home, env=env) as server:
        post_views(server.url, key, before[:100])
        wait_until_loaded(server.url, 100)
        post_views(server.url, key, before[100:])  # acknowledged; loaded or not by the backup

        def collect() -> None:  # the collector keeps taking events during the backup
            n = 0
            while not stop.is_set():
                batch = [f"during-{n}-{i}" for i in range(20)]
                post_views(server.url, key, batch)
                during.extend(batch)
                n += 1

        sender = threading.Thread(target=collect)
        sender.start()
        try:
            backup = omni_in_process("backup", str(copy), "--json", home=home, env=env)
        finally:
            stop.set()
            sender.join()
    return BackupWhileCollecting(json.loads(backup.stdout), before, during)
