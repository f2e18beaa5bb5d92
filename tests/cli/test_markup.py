"""Data is printed as typed: Rich markup or emoji codes in a value are never interpreted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import MARKUP_VALUES

# The commands run in this process: what they print is under test, not process start-up.
from tests.cli.run import omni_in_process as omni


def test_dlq_list_prints_markup_in_values_literally(crm_home: Path) -> None:
    # --all: the refused emails are flags on stored records (field nulled), not pending.
    result = omni("dlq", "list", "--all", "--limit", "1000", home=crm_home, check=False)
    assert result.returncode == 0, result.stderr
    for value in MARKUP_VALUES:
        assert value in result.stdout, value


def test_query_prints_markup_in_cells_and_column_names_literally(crm_home: Path) -> None:
    sql = (
        "SELECT first_name AS \"[b]name[/b]\", '[/b]' AS closing "
        "FROM customer_records WHERE record_id = 'ok1'"
    )
    result = omni("query", sql, home=crm_home)
    assert "[red]Ann[/red]" in result.stdout
    assert "[b]name[/b]" in result.stdout and "[/b]" in result.stdout


def test_an_error_message_quoting_markup_prints_it_literally(crm_home: Path) -> None:
    result = omni("identity", "explain", "[red]email[/red]:x", home=crm_home, check=False)
    assert result.returncode == 1
    assert "[red]email[/red]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_source_name_with_markup_is_echoed_as_typed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    omni("init", home=home)
    created = omni("sources", "create", "[bold]shop[/bold]", home=home)
    assert "[bold]shop[/bold]" in created.stdout
    listed = omni("sources", "list", home=home)
    assert "[bold]shop[/bold]" in listed.stdout


def test_the_profile_card_prints_markup_in_the_data_literally() -> None:
    from datetime import datetime

    from rich.console import Console

    from omnichannel.cli.output import escaped
    from omnichannel.profiles.card import render_card

    when = datetime(2026, 3, 1, 10, 30)
    data = {
        "profile_id": "p_[/b]",
        "looked_up": "email:[red]r[/red]@example.com",
        "sources": ["crm"],
        "channels": ["web"],
        "tags": ["[bold]vip"],
        "identifiers": {"email": ["[red]r[/red]@example.com"]},
        "traits": {"first_name": "[/b]", "orders": 2},
        "timeline": [{"kind": "event", "timestamp": when, "event": "[/i] viewed"}],
        "orders": [{"timestamp": when, "id": "[o]1", "channel": "web", "total": 9.5}],
        "conversion_path": None,
    }
    console = Console(record=True, width=200, emoji=False)
    console.print(render_card(escaped(data)))
    shown = console.export_text()
    for value in ("p_[/b]", "[red]r[/red]@example.com", "[bold]vip", "[/i] viewed", "[o]1"):
        assert value in shown, value


def test_in_process_commands_print_as_wide_as_a_new_process_after_a_narrow_import(
    crm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich keeps the ``COLUMNS`` it saw when the CLI's consoles were made: here, as if
    ``omnichannel.cli.output`` had been imported under a terminal exporting COLUMNS=80
    (a full run printed the dead-letter table in process at 80 columns that way, and
    cut the values above)."""
    from omnichannel.cli import output

    for console in (output.console, output.errors):
        monkeypatch.setattr(console, "_width", 80)  # what Console() kept from COLUMNS=80
    listed = omni("dlq", "list", "--all", "--limit", "1000", home=crm_home)
    assert max(len(line) for line in listed.stdout.splitlines()) > 80
    for value in MARKUP_VALUES:
        assert value in listed.stdout, value
    assert output.console.width == output.errors.width == 80  # restored after the call
