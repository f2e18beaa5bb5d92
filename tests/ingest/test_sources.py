"""`omni sources` and `omni events stats`: create prints the key once, revoke kills it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omnichannel.cli import app
from omnichannel.ingest.sources import KeyResolver
from omnichannel.opstore import open_opstore


def test_create_list_revoke_through_the_cli(omni_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0  # commands need an installation
    created = runner.invoke(app, ["sources", "create", "web-store", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)["write_key"]
    listed = json.loads(runner.invoke(app, ["sources", "list", "--json"]).output)
    assert [(s["name"], s["kind"]) for s in listed] == [("web-store", "http")]
    assert listed[0]["keys"][0]["prefix"] == key[:10] and "write_key" not in listed[0]
    assert key not in runner.invoke(app, ["sources", "list"]).output

    with open_opstore(f"sqlite:///{omni_home / 'opstore.sqlite'}") as store:
        assert KeyResolver(store, ttl=0).source_of(key) == "web-store"
        revoked = runner.invoke(app, ["sources", "revoke", key[:10], "--json"])
        assert json.loads(revoked.output) == {"revoked": [key[:10]]}
        assert KeyResolver(store, ttl=0).source_of(key) is None

    duplicate = runner.invoke(app, ["sources", "create", "web-store"])
    assert duplicate.exit_code != 0
    unknown = runner.invoke(app, ["sources", "revoke", "nothing-like-this"])
    assert unknown.exit_code != 0

    stats = json.loads(runner.invoke(app, ["events", "stats", "--json"]).output)
    assert stats["events"]["total"] == 0 and stats["dead_letters"]["total"] == 0
