"""``omni backup`` while ``omni serve`` collects, then ``omni restore`` into another home:
every event acknowledged before the backup is there once, and every table agrees with the
backup's manifest (restore checks it; a differing copy fails)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.cli.run import omni_in_process
from tests.support.backup import backup_while_collecting
from tests.support.collector import make_source


def test_a_backup_taken_while_collecting_restores_every_acknowledged_event_once(
    tmp_path: Path,
) -> None:
    home, copy, restored = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    omni_in_process("init", home=home)
    taken = backup_while_collecting(home, copy, make_source(home))
    made, before, during = taken.made, taken.before, taken.during
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
