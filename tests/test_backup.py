"""``omni backup`` while ``omni serve`` collects, then ``omni restore`` into another home:
every event acknowledged before the backup is there once, and every table agrees with the
backup's manifest (restore checks it; a differing copy fails)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import httpx

from tests.cli.run import omni_in_process
from tests.support.collector import make_source, running_server, wait_until_loaded


def _post(url: str, key: str, ids: list[str]) -> None:
    calls = [{"type": "track", "userId": f"u-{m}", "event": "Viewed", "messageId": m} for m in ids]
    answer = httpx.post(f"{url}/v1/batch", json={"batch": calls}, auth=(key, ""), timeout=60)
    assert answer.status_code == 200, answer.text


def test_a_backup_taken_while_collecting_restores_every_acknowledged_event_once(
    tmp_path: Path,
) -> None:
    home, copy, restored = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    omni_in_process("init", home=home)
    key = make_source(home)
    before = [f"before-{i}" for i in range(200)]
    during: list[str] = []
    stop = threading.Event()
    with running_server(home) as server:
        _post(server.url, key, before[:100])
        wait_until_loaded(server.url, 100)
        _post(server.url, key, before[100:])  # acknowledged; loaded or not by the backup

        def collect() -> None:  # the collector keeps taking events during the backup
            n = 0
            while not stop.is_set():
                batch = [f"during-{n}-{i}" for i in range(20)]
                _post(server.url, key, batch)
                during.extend(batch)
                n += 1

        sender = threading.Thread(target=collect)
        sender.start()
        try:
            made = json.loads(omni_in_process("backup", str(copy), "--json", home=home).stdout)
        finally:
            stop.set()
            sender.join()
    assert made["warehouse"]["events"] >= 100 and made["opstore"]["sources"] == 1
    assert (copy / "home" / "pii-master.key").stat().st_mode & 0o077 == 0  # still 0600
    refused = omni_in_process("backup", str(copy), home=home, check=False)
    assert refused.returncode != 0 and "a new or empty directory" in refused.stdout + refused.stderr

    done = json.loads(omni_in_process("restore", str(copy), "--json", home=restored).stdout)
    assert done["warehouse_rows"] == sum(made["warehouse"].values())
    omni_in_process("events", "drain", home=restored)  # what the backup's log held unloaded
    con = duckdb.connect(str(restored / "omni.duckdb"), read_only=True)
    try:
        ids = [r[0] for r in con.execute("SELECT message_id FROM events").fetchall()]
    finally:
        con.close()
    assert len(ids) == len(set(ids)), "an event was restored twice"
    assert set(before) <= set(ids), "an event acknowledged before the backup is missing"
    assert set(ids) - set(before) <= set(during)
    again = omni_in_process("restore", str(copy), home=restored, check=False)
    assert again.returncode != 0 and "--replace" in again.stdout + again.stderr
    omni_in_process("restore", str(copy), "--replace", home=restored)
