"""``omni templates`` as a user runs it, offline on the home and beside a running server.

The commands run in this process (what they do is under test, not process start-up:
tests/cli/test_startup.py); the server they talk to is a real ``omni serve``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.channels import h2_support
from tests.cli.run import omni_in_process as omni
from tests.support.collector import running_server

audience_home = h2_support.audience_home
audience_copy = h2_support.audience_copy

GOOD = """\
channel: email
description: first email
content:
  subject: "Welcome, {{ profile.first_name }}"
  text: |
    Hello {{ profile.first_name }} from {{ profile.city }}
"""
BROKEN = """\
channel: email
content:
  subject: Hi
  text: |
    Hello
    {{ profile.frist_name }}
"""


def test_save_list_preview_and_archive(audience_copy: Path, tmp_path: Path) -> None:
    good, broken = tmp_path / "welcome.yaml", tmp_path / "broken.yaml"
    good.write_text(GOOD, encoding="utf-8")
    broken.write_text(BROKEN, encoding="utf-8")
    saved = omni("templates", "save", "welcome", "--file", str(good), home=audience_copy)
    assert "template welcome (email): saved as version 1" in saved.stdout
    refused = omni(
        "templates", "save", "welcome", "--file", str(broken), home=audience_copy, check=False
    )
    assert refused.returncode != 0
    assert "content.text line 2: 'frist_name' is undefined" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    listed = json.loads(omni("templates", "list", "--json", home=audience_copy).stdout)
    assert [(t["name"], t["current_version"]) for t in listed] == [("welcome", 1)]
    shown = omni(
        "templates",
        "preview",
        "welcome",
        "--profile",
        "email:john.smith@gmail.com",
        home=audience_copy,
    )
    assert "Welcome, Zoë" in shown.stdout and "Hello Zoë from San Francisco" in shown.stdout
    omni("templates", "archive", "welcome", home=audience_copy)
    assert json.loads(omni("templates", "list", "--json", home=audience_copy).stdout) == []


@pytest.mark.slow(seconds=60)
def test_the_same_commands_through_a_running_server(audience_copy: Path, tmp_path: Path) -> None:
    """While ``omni serve`` owns the home (and its DuckDB file), the commands go through
    /api/templates and print the same."""
    good = tmp_path / "welcome.yaml"
    good.write_text(GOOD, encoding="utf-8")
    with running_server(audience_copy, timeout=180):
        saved = omni("templates", "save", "welcome", "--file", str(good), home=audience_copy)
        assert "template welcome (email): saved as version 1" in saved.stdout
        shown = omni(
            "templates",
            "preview",
            "welcome",
            "--profile",
            "user_id:ann",
            "--json",
            home=audience_copy,
        )
        assert json.loads(shown.stdout)["rendered"]["subject"] == "Welcome, Zoë"
        versions = omni("templates", "show", "welcome", "--versions", "--json", home=audience_copy)
        assert [v["version"] for v in json.loads(versions.stdout)] == [1]
        missing = omni("templates", "show", "nope", home=audience_copy, check=False)
        assert missing.returncode != 0 and "no template named 'nope'" in missing.stderr
