"""``omni reports`` and ``omni teams`` beside a running ``omni serve`` (they go through
its ``/api/reports``) and, once it stops, on the home itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli.run import omni, omni_in_process
from tests.support.collector import start_server
from tests.support.homes import small_demo_home

REPORT = """title: Deals per channel
metric: {kind: kpi, kpis: [deals]}
dimensions: [channel]
presentation: table
"""


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    small_demo_home(tmp_path_factory, target)
    return target


def test_reports_and_teams_through_the_server_then_on_the_home(home: Path, tmp_path: Path) -> None:
    definition = tmp_path / "report.yaml"
    definition.write_text(REPORT)
    server = start_server(home)
    try:
        omni("teams", "create", "growth", "--description", "campaign people", home=home)
        omni("teams", "add", "growth", "marketer@demo.example", home=home)
        made = json.loads(
            omni(
                "reports", "create", str(definition), "--team", "growth", "--json", home=home
            ).stdout
        )
        assert made["team"] == "growth" and made["version"] == 1
        table = omni("reports", "run", str(made["id"]), "--csv", home=home).stdout
        rows = list(csv.DictReader(io.StringIO(table)))
        assert rows and set(rows[0]) == {"channel", "deals"}
        listed = json.loads(omni("reports", "list", "--json", home=home).stdout)
        assert [r["title"] for r in listed] == ["Deals per channel"]
        bad = tmp_path / "bad.yaml"
        bad.write_text(REPORT.replace("[channel]", "[device]"))
        refused = omni("reports", "create", str(bad), home=home, check=False)
        assert refused.returncode != 0 and "dimensions.0" in refused.stdout + refused.stderr
    finally:
        server.stop()
    definition.write_text(REPORT.replace("Deals per channel", "Deals, by channel"))
    omni_in_process("reports", "update", str(made["id"]), str(definition), home=home)
    versions = json.loads(omni_in_process("reports", "versions", str(made["id"]), home=home).stdout)
    assert [v["version"] for v in versions] == [2, 1]
    teams = json.loads(omni_in_process("teams", "list", "--json", home=home).stdout)
    assert teams[0]["members"] == ["marketer@demo.example"]
