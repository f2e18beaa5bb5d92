"""``omni profiles build``, as a user runs it: tags from HOME, consent from the opstore."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omnichannel.cli import app
from omnichannel.opstore import open_opstore
from omnichannel.opstore.consent import set_consent
from omnichannel.warehouse import Warehouse

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni
from tests.profiles.support import add_identities, add_orders

runner = CliRunner()


def _build(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["profiles", "build", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_build_with_home_tags_and_consent(omni_home: Path) -> None:
    omni_home.mkdir(parents=True)
    with Warehouse.open(f"duckdb:///{(omni_home / 'omni.duckdb').resolve()}") as wh:
        add_identities(wh, ["a", "b"])
        add_orders(
            wh,
            [
                {"id": "1", "user": "a", "day": 0, "total": 10, "channel": "store"},
                {"id": "2", "user": "b", "day": 1, "total": 20, "channel": "web"},
            ],
        )
    store = open_opstore(f"sqlite:///{omni_home / 'opstore.sqlite'}")
    with store.session() as session:
        set_consent(
            session,
            subject_type="user_id",
            subject_value="a",
            channel="sms",
            status="granted",
            source="pos",
            actor="test",
        )
    store.engine.dispose()
    (omni_home / "tags.yaml").write_text(
        "tags:\n  - name: in store\n    all: [{field: orders_offline, op: '>', value: 0}]\n"
    )
    assert runner.invoke(app, ["identity", "resolve", "--json"]).exit_code == 0
    report = _build()
    assert report["status"] == "built"
    assert report["profiles"] == 2
    assert report["tags"] == {"in store": 1}
    assert report["consent_rows"] == 1
    assert _build()["status"] == "unchanged"
    assert _build("--force")["status"] == "built"

    bad = runner.invoke(app, ["profiles", "build", "--timezone", "Mars/Olympus"])
    assert bad.exit_code != 0
    assert "--timezone='Mars/Olympus' is not accepted" in str(bad.exception)


def test_bad_as_of_is_refused_naming_the_flag(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    result = omni("profiles", "build", "--as-of", "last tuesday", home=home, check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "--as-of" in message
    assert "last tuesday" in message
    assert "ISO 8601" in message
    assert "Traceback" not in message
