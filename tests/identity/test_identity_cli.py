"""``omni identity``: resolve, explain and rules, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omnichannel.cli import app
from omnichannel.warehouse import Warehouse
from tests.identity.support import add_ids

runner = CliRunner()


def _invoke(*args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_resolve_explain_and_rules(omni_home: Path) -> None:
    with Warehouse.open(f"duckdb:///{(omni_home / 'omni.duckdb').resolve()}") as wh:
        add_ids(
            wh,
            [
                ("crm", "C1", "email", "ann@x.cn", 0),
                ("shop", "S1", "email", "ann@x.cn", 1),
                ("crm", "C2", "email", "test@example.com", 0),
            ],
        )
    report = _invoke("identity", "resolve", "--json")
    assert report["mode"] == "full"
    assert report["profiles"] == 2
    assert report["refusals"] == {"blocked_value": 1}
    assert _invoke("identity", "resolve", "--json")["new_observations"] == 0

    story = _invoke("identity", "explain", "email:Ann@x.cn", "--json")
    profiles = story["profiles"]
    assert isinstance(profiles, list) and profiles[0]["record_count"] == 2

    human = runner.invoke(app, ["identity", "explain", "email:ann@x.cn"])
    assert human.exit_code == 0 and "shared email" in human.output

    unknown = runner.invoke(app, ["identity", "explain", "email:nobody@x.cn"])
    assert unknown.exit_code == 1
    bad = runner.invoke(app, ["identity", "explain", "nocolon"])
    assert bad.exit_code == 1

    rules = _invoke("identity", "rules", "--json")
    limits = {r["id_type"]: r["limit"] for r in rules["identifiers"]}  # type: ignore[union-attr]
    assert limits["user_id"] == 1

    (omni_home / "identity-rules.yaml").write_text(
        "identifiers:\n  user_id: {priority: 1, limit: 2}\n"
    )
    rules = _invoke("identity", "rules", "--json")
    limits = {r["id_type"]: r["limit"] for r in rules["identifiers"]}  # type: ignore[union-attr]
    assert limits["user_id"] == 2 and limits["email"] == 5

    (omni_home / "identity-rules.yaml").write_text("identifiers:\n  user_id: {priority: 0}\n")
    broken = runner.invoke(app, ["identity", "rules"])
    assert broken.exit_code == 1


def test_the_rules_table_says_how_splink_links_join(omni_home: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    shown = runner.invoke(app, ["identity", "rules"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())  # the console wraps at the terminal's width
    assert "Splink links: joined at probability >= 0.8" in text
    assert "exempt from the limits of: crm_id, loyalty_card" in text
    (omni_home / "identity-rules.yaml").write_text("linkage: null\n")
    off = runner.invoke(app, ["identity", "rules"])
    assert off.exit_code == 0, off.output
    assert "Splink links: off" in off.output
