"""The commands end to end, as a user runs them: ingest, dlq list/replay, quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from omnichannel.ingest.mapping import load_mapping

DATA = Path(__file__).parent / "data"


def omni(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    result = subprocess.run(
        [sys.executable, "-m", "omnichannel", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"omni {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_ingest_list_fix_replay_and_quality(tmp_path: Path) -> None:
    home = tmp_path / "home"
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
    assert loaded["written"]["orders"] == 2 and loaded["rejected"] == 6
    letters = json.loads(omni(home, "dlq", "list", "--json").stdout)
    assert len(letters) == 6 and {r["status"] for r in letters} == {"pending"}

    fixed = yaml.safe_load(load_mapping("shopify-orders").to_yaml())
    fixed["fields"]["currency"] = {"column": "Currency", "map": {"RMB": "CNY"}}
    mapping = tmp_path / "shopify-fixed.yaml"
    mapping.write_text(yaml.safe_dump(fixed, allow_unicode=True))
    replayed = json.loads(omni(home, "dlq", "replay", "--mapping", str(mapping), "--json").stdout)
    assert replayed["accepted"] == 1 and replayed["rejected"] == 5
    assert len(json.loads(omni(home, "dlq", "list", "--json").stdout)) == 5

    # The fixed mapping is now the source's: a plain re-load uses it and adds nothing new.
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
    assert sum(again["written"].values()) == 0 and again["already_stored"]["orders"] == 3

    report = json.loads(omni(home, "quality", "--source", "shopify", "--json").stdout)
    assert sum(r["volumes"].get("orders", 0) for r in report) == 3
    assert sum(r["rejected"] for r in report) == 6


def test_a_bad_mapping_is_one_clear_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("kind: orders\nfields:\n  order_id: {column: Name, reverse: true}\n")
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
