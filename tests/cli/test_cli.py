"""The ``omni`` command line as a user runs it, on real files (start-up: test_startup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnichannel.warehouse import ALL_TABLES, SCHEMA_VERSION

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni
from tests.support.homes import SMALL_DEMO_ARGS, small_demo_home


def test_help_lists_the_commands() -> None:
    out = omni("--help").stdout
    for command in ("demo", "serve", "status", "init", "settings", "query", "warehouse"):
        assert command in out


def test_init_then_status_reports_an_empty_warehouse_and_a_migrated_opstore(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    init = json.loads(omni("init", "--json", home=home).stdout)
    assert init["warehouse"]["schema_version"] == SCHEMA_VERSION
    assert init["warehouse"]["created_tables"] == len(ALL_TABLES)
    status = json.loads(omni("status", "--json", home=home).stdout)
    assert status["warehouse"]["engine"] == "duckdb"
    assert set(status["warehouse"]["tables"].values()) == {0}
    assert status["opstore"]["revision"] == status["opstore"]["head"] is not None
    assert (home / "omni.duckdb").exists() and (home / "opstore.sqlite").exists()


def test_home_comes_from_the_environment_when_no_flag_is_given(tmp_path: Path) -> None:
    home = tmp_path / "from-env"
    omni("init", env={"OMNI_HOME": str(home)})
    assert (home / "omni.duckdb").exists()


def test_settings_lists_every_variable_with_its_value(tmp_path: Path) -> None:
    rows = json.loads(
        omni("settings", "--json", env={"OMNI_PORT": "9123", "OMNI_HOME": str(tmp_path)}).stdout
    )
    by_env = {row["env"]: row for row in rows}
    assert by_env["OMNI_PORT"]["value"] == "9123"
    assert {"OMNI_HOME", "OMNI_WAREHOUSE_URL", "OMNI_OPSTORE_URL"} <= set(by_env)


def test_a_bad_setting_is_one_clear_line_naming_variable_and_value(tmp_path: Path) -> None:
    result = omni("status", env={"OMNI_PORT": "eighty", "OMNI_HOME": str(tmp_path)}, check=False)
    assert result.returncode == 1
    assert "OMNI_PORT='eighty' is not accepted" in result.stderr
    assert "Traceback" not in result.stderr


def test_query_prints_json_and_refuses_writes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    result = json.loads(
        omni("query", "SELECT COUNT(*) AS n FROM events", "--json", home=home).stdout
    )
    assert result["rows"] == [{"n": 0}]
    assert result["total"] == 1 and result["truncated"] is False
    refused = omni("query", "DROP TABLE events", home=home, check=False)
    assert refused.returncode == 1
    assert "read-only SELECT" in refused.stderr


def test_warehouse_schema_names_columns_and_rejects_unknown_tables(tmp_path: Path) -> None:
    columns = json.loads(omni("warehouse", "schema", "orders", "--json").stdout)
    assert {"column": "total", "type": "decimal(18, 2)"} in columns
    unknown = omni("warehouse", "schema", "customers", check=False)
    assert unknown.returncode == 1
    assert "table='customers'" in unknown.stderr and "orders" in unknown.stderr


@pytest.mark.slow(seconds=70)
def test_demo_loads_a_business_and_refuses_to_overwrite_without_reset(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path / "home"
    # `omni demo --people 300 --json` run once per test run (the README tour's home too).
    summary = small_demo_home(tmp_path_factory, home)
    for key in ("people", "identifiers", "events", "orders", "campaigns", "profiles_built"):
        assert summary[key] > 0, key
    # identity resolution merges records into fewer profiles than there are records
    assert summary["profiles"] == summary["profiles_built"] < summary["customer_records"]
    assert summary["people"] == 300
    args = (*SMALL_DEMO_ARGS, "--json")
    again = omni(*args, home=home, check=False)
    assert again.returncode == 1 and "--reset" in again.stderr
    # A month instead of the default half year: the reset business is smaller, so a count
    # of the first one's rows left behind would show (and it runs in about half the time).
    replaced = json.loads(omni(*args, "--days", "30", "--reset", home=home).stdout)
    assert 0 < replaced["events"] < summary["events"]
    status = json.loads(omni("status", "--json", home=home).stdout)
    # The demo's journeys add a day of their own (sign-ups, carts, opens, clicks...).
    added = replaced.get("journeys", {}).get("events_stored", 0)
    assert status["warehouse"]["tables"]["events"] == replaced["events"] + added  # replaced
    assert (home / "truth").is_dir()
