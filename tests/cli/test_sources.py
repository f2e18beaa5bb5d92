"""Write keys of an existing source: add one (to rotate), list them, revoke the old one."""

from __future__ import annotations

import json
from pathlib import Path

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni


def test_add_a_key_to_an_existing_source_then_list_and_revoke(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    first = json.loads(omni("sources", "create", "web", "--json", home=home).stdout)
    second = omni("sources", "add-key", "web", home=home)
    new_key = second.stdout.strip().splitlines()[-1]
    assert new_key.startswith("wk_") and new_key != first["write_key"]

    keys = json.loads(omni("sources", "keys", "web", "--json", home=home).stdout)
    assert [k["active"] for k in keys] == [True, True]
    assert new_key.startswith(keys[1]["prefix"]) and first["write_key"].startswith(
        keys[0]["prefix"]
    )

    omni("sources", "revoke", keys[0]["prefix"], home=home)
    after = json.loads(omni("sources", "keys", "web", "--json", home=home).stdout)
    assert [k["active"] for k in after] == [False, True]
    table = omni("sources", "keys", "web", home=home).stdout
    assert "2 keys of web" in table and keys[1]["prefix"] in table


def test_keys_of_an_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    omni("sources", "create", "web", home=home)
    for command in ("keys", "add-key"):
        result = omni("sources", command, "shop", home=home, check=False)
        assert result.returncode == 1
        assert "source='shop'" in result.stderr and "Traceback" not in result.stderr
    assert "web" in omni("sources", "keys", "shop", home=home, check=False).stderr
