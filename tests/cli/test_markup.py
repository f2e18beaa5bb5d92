"""Data is printed as typed: Rich markup or emoji codes in a value are never interpreted."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import MARKUP_VALUES
from tests.cli.run import omni


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
