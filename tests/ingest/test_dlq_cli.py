"""The commands end to end, as a user runs them: ingest, dlq list/replay, quality."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from omnichannel.ingest.mapping import load_mapping
from tests.cli.run import omni_in_process

DATA = Path(__file__).parent / "data"


def omni(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # In this process: what the commands do is under test, not process start-up
    # (tests/cli/test_startup.py), and a new interpreter costs about two seconds a call.
    return omni_in_process(*args, home=home, check=check)


def test_ingest_list_fix_replay_and_quality(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni(home, "init")
    out = omni(
        home,
        "ingest",
        str(DATA / "shopify_orders.csv"),
        "--kind",
        "orders",
        "--source",
        "shopify",
        "--mapping",
        "shopify-orders",
        "--json",
    )
    loaded = json.loads(out.stdout)
    assert loaded["written"]["orders"] == 3 and loaded["rejected"] == 5
    assert loaded["fields_nulled"] == 2
    letters = json.loads(omni(home, "dlq", "list", "--json").stdout)["rows"]
    assert len(letters) == 5 and {r["status"] for r in letters} == {"pending"}

    fixed = yaml.safe_load(load_mapping("shopify-orders").to_yaml())
    fixed["fields"]["currency"] = {"column": "Currency", "map": {"RMB": "CNY"}}
    mapping = tmp_path / "shopify-fixed.yaml"
    mapping.write_text(yaml.safe_dump(fixed, allow_unicode=True))
    replayed = json.loads(omni(home, "dlq", "replay", "--mapping", str(mapping), "--json").stdout)
    assert replayed["accepted"] == 1 and replayed["rejected"] == 4
    assert json.loads(omni(home, "dlq", "list", "--json").stdout)["total"] == 4

    # Replaying through a mapping does not make it the source's: a plain re-load uses the
    # mapping the source was loaded with, and adds nothing new.
    again = json.loads(
        omni(
            home,
            "ingest",
            str(DATA / "shopify_orders.csv"),
            "--kind",
            "orders",
            "--source",
            "shopify",
            "--json",
        ).stdout
    )
    assert again["mapping"] == "shopify-orders"
    assert sum(again["written"].values()) == 0 and again["already_stored"]["orders"] == 3

    report = json.loads(omni(home, "quality", "--source", "shopify", "--json").stdout)
    assert sum(r["volumes"].get("orders", 0) for r in report) == 4
    assert sum(r["rejected"] for r in report) == 5


def test_a_bad_mapping_is_one_clear_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("kind: orders\nfields:\n  order_id: {column: Name, reverse: true}\n")
    omni(tmp_path / "home", "init")
    result = omni(
        tmp_path / "home",
        "ingest",
        str(DATA / "shopify_orders.csv"),
        "--kind",
        "orders",
        "--source",
        "s",
        "--mapping",
        str(mapping),
        check=False,
    )
    assert result.returncode == 1
    assert "fields.order_id.reverse" in result.stderr and "Traceback" not in result.stderr


def test_a_failed_load_keeps_the_sources_mapping(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni(home, "init")
    args = ("ingest", str(DATA / "hubspot_contacts.csv"), "--kind", "crm", "--source", "hub")
    omni(home, *args, "--mapping", "hubspot-contacts")
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: typo\nkind: crm\nfields:\n  record_id: Record Id\n")
    failed = omni(home, *args, "--mapping", str(typo), check=False)
    assert failed.returncode == 1 and "'Record Id'" in failed.stderr
    remembered = (home / "mappings" / "hub.crm.yaml").read_text()
    assert "hubspot-contacts" in remembered


def test_a_source_name_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni(home, "init")
    result = omni(
        home,
        "ingest",
        str(DATA / "hubspot_contacts.csv"),
        "--kind",
        "crm",
        "--source",
        "bad name/with slash",
        "--mapping",
        "hubspot-contacts",
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "source" in result.stderr and "bad name/with slash" in result.stderr
