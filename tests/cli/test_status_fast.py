"""``omni status`` on the embedded default: read with plain DuckDB and sqlite3, the same
answer as the full (Ibis, SQLAlchemy, Alembic) path, and nothing written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from omnichannel.config import Settings
from omnichannel.fast_status import (
    CANONICAL_TABLES,
    META_TABLE,
    SCHEMA_VERSION,
    describe_installation_fast,
)
from omnichannel.installation import describe, describe_installation
from omnichannel.opstore import open_opstore
from omnichannel.opstore.migrate import head_revision
from omnichannel.opstore.models import UnauthorizedCount
from omnichannel.opstore_revisions import head_revision_from_files
from omnichannel.warehouse import open_warehouse, tables
from tests.cli.run import omni, omni_env, omni_in_process

# What status would pay seconds to import; it needs none of them on this path.
HEAVY = {"ibis", "pandas", "pyarrow", "sqlalchemy", "alembic"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation with a few CRM records and some refused collector requests."""
    base = tmp_path_factory.mktemp("status")
    home = base / "home"
    omni_in_process("init", home=home)  # the set-up: in this process, no new interpreter
    export = base / "contacts.csv"
    export.write_text(
        "record_id,email,first_name\nc1,ann@example.com,Ann\nc2,bo@example.com,Bo\n"
        "c3,not-an-email,Cy\n",
        encoding="utf-8",
    )
    omni_in_process("ingest", str(export), "--kind", "crm", "--source", "crm", home=home)
    hour = datetime(2026, 1, 1, 9, tzinfo=UTC)
    with open_opstore(Settings(home=home).resolved_opstore_url) as store, store.session() as s:
        s.add(UnauthorizedCount(hour=hour, reason="missing_key", requests=7, sampled=2))
        s.add(UnauthorizedCount(hour=hour, reason="invalid_key", requests=4, sampled=1))
    return home


def status_in_subprocess(home: Path) -> tuple[dict[str, object], set[str]]:
    """What a real ``omni status --json`` process prints, and the modules it imported."""
    script = (
        "import json, sys\n"
        "from omnichannel.cli import main\n"
        f"sys.argv = ['omni', '--home', {str(home)!r}, 'status', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=omni_env(), check=True
    )
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    return json.loads(result.stdout), {name.split(".")[0] for name in loaded}


def full_path_description(home: Path) -> dict[str, object]:
    """The answer through Ibis and SQLAlchemy, as ``omni serve`` gives it."""
    settings = Settings(home=home)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        return describe(settings, wh)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_status_imports_no_heavy_library_and_prints_the_full_paths_answer(home: Path) -> None:
    printed, loaded = status_in_subprocess(home)
    assert loaded & HEAVY == set()
    assert printed == full_path_description(home)
    # Real figures, so the comparison above compares something.
    counted = printed["warehouse"]["tables"]  # type: ignore[index]
    assert counted["customer_records"] == 3 and counted["identifiers"] == 2
    assert printed["collector"] == {"unauthorized_requests": 11, "unauthorized_sampled": 3}


def test_status_writes_nothing(home: Path) -> None:
    files = [home / "omni.duckdb", home / "opstore.sqlite"]
    before = {path: digest(path) for path in files}
    omni("status", "--json", home=home)
    omni("status", home=home)
    assert {path: digest(path) for path in files} == before
    assert not (home / "omni.duckdb.wal").exists()


def test_the_copied_constants_match_the_warehouse_and_the_migrations() -> None:
    assert tuple(spec.name for spec in tables.ALL_TABLES) == CANONICAL_TABLES
    assert SCHEMA_VERSION == tables.SCHEMA_VERSION
    assert META_TABLE == tables.META_TABLE
    assert head_revision_from_files() == head_revision()


def test_head_from_files_declines_a_branch(tmp_path: Path) -> None:
    for name, revision, parent in (
        ("a", "0001", None),
        ("b", "0002", "0001"),
        ("c", "0003", "0001"),
    ):
        (tmp_path / f"rev{name}.py").write_text(
            f"revision: str = {revision!r}\ndown_revision: str | None = {parent!r}\n",
            encoding="utf-8",
        )
    assert head_revision_from_files(tmp_path) is None  # two heads: Alembic explains
    (tmp_path / "revc.py").unlink()
    assert head_revision_from_files(tmp_path) == "0002"


def test_a_warehouse_short_of_a_table_takes_the_full_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni_in_process("init", home=home)
    with duckdb.connect(str(home / "omni.duckdb")) as con:
        con.execute('DROP TABLE "profile_builds"')
    settings = Settings(home=home)
    assert describe_installation_fast(settings) is None
    described = describe_installation(settings)  # the full path recreates it, as before
    assert described["warehouse"]["tables"]["profile_builds"] == 0
    assert describe_installation_fast(settings) == described


def test_a_store_not_yet_created_reports_no_revision_and_no_counts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni_in_process("init", home=home)
    (home / "opstore.sqlite").unlink()
    settings = Settings(home=home)
    fast = describe_installation_fast(settings)
    assert fast is not None
    assert fast["opstore"]["revision"] is None and fast["collector"] == {}
    assert fast == full_path_description(home)
