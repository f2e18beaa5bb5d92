"""Erasure and export of one demo person, searched for afterwards in every table and file."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnichannel.platform import Platform
from omnichannel.privacy.requests import due_date
from tests.privacy.conftest import person_with_unique_name
from tests.privacy.search import needles, search_duckdb, search_files, search_sqlite


@pytest.mark.slow(seconds=90)
def test_an_erased_person_is_found_in_no_table_and_no_file(erasable_home: Path) -> None:
    with Platform.open(erasable_home) as platform:
        _, email = person_with_unique_name(platform)
        footprint = platform.privacy.footprint(f"email:{email}")
        exported = platform.privacy.export(f"email:{email}", requested_by="dpo@shop.example")
    wanted = needles([f"{t}:{v}" for t, v in footprint.identifiers], footprint.names)
    assert len(wanted) >= 4  # an email, a phone or ids, a name
    # Before: the search finds them in the stores and in files (it can fail).
    assert search_duckdb(erasable_home / "omni.duckdb", wanted)
    assert search_files(erasable_home, wanted)
    with Platform.open(erasable_home) as platform:
        erased = platform.privacy.erase(f"email:{email}", requested_by="dpo@shop.example")
        receipt = erased["receipt"]
        assert erased["request"]["status"] == "done"
        assert receipt["warehouse"]["events"] > 0 and receipt["warehouse"]["profiles"] == 1
        assert receipt["warehouse_file"].startswith("compacted")
        assert exported["archive"].endswith(".zip")
        assert any(p.endswith(".zip") for p in receipt["files"]["removed"])  # the export
        requests = platform.privacy.requests()
        assert [r["kind"] for r in requests] == ["erasure", "export"]
        assert email not in json.dumps(requests)  # requests keep hashes only
        later = platform.privacy.erased.drop_erased(
            [
                {"user_id": None, "anonymous_id": "someone-else", "traits": "{}"},
                {"user_id": None, "anonymous_id": "x", "traits": json.dumps({"email": email})},
            ]
        )
        assert [r["anonymous_id"] for r in later] == ["someone-else"]
    assert search_duckdb(erasable_home / "omni.duckdb", wanted) == {}
    assert search_sqlite(erasable_home / "opstore.sqlite", wanted) == {}
    assert search_files(erasable_home, wanted) == {}


def test_an_export_holds_their_rows_under_a_manifest(
    demo_platform: Platform, tmp_path: Path
) -> None:
    _, email = person_with_unique_name(demo_platform)
    out = tmp_path / "ann.zip"
    result = demo_platform.privacy.export(f"email:{email}", requested_by="dpo", out=out)
    assert out.stat().st_mode & 0o077 == 0
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
        events = json.loads(archive.read("warehouse/events.json"))
        identities = json.loads(archive.read("identities.json"))
    assert events and f"email:{email}" in identities["identifiers"]
    assert {"warehouse/profiles.json", "consent_history.json"} <= {
        f["name"] for f in manifest["files"]
    }
    assert result["request"]["status"] == "done"


def test_deadlines_follow_the_regulation() -> None:
    friday = datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert due_date(friday, "gdpr", gdpr_days=30, pipl_working_days=15).date().isoformat() == (
        "2026-05-31"
    )
    # 15 working days from a Friday: three weeks, weekends skipped.
    assert due_date(friday, "pipl", gdpr_days=30, pipl_working_days=15).date().isoformat() == (
        "2026-05-22"
    )
