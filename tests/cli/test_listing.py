"""Listings never truncate silently: "N of TOTAL" in tables, total/truncated in JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni


def count(home: Path, table: str) -> int:
    data = json.loads(
        omni("query", f"SELECT count(*) AS n FROM {table}", "--json", home=home).stdout
    )
    return int(data["rows"][0]["n"])


def test_query_table_says_how_many_rows_of_how_many(crm_home: Path) -> None:
    total = count(crm_home, "dead_letters")
    assert total > 100
    result = omni("query", "SELECT * FROM dead_letters", home=crm_home)
    assert f"100 of {total:,} rows (use --limit to see more)" in result.stdout
    one = omni("query", "SELECT 1 AS one", home=crm_home)
    assert "1 row" in one.stdout and "of" not in one.stdout


def test_query_json_carries_total_and_truncated(crm_home: Path) -> None:
    total = count(crm_home, "dead_letters")
    sql = "SELECT dead_letter_id FROM dead_letters"
    data = json.loads(omni("query", sql, "--json", home=crm_home).stdout)
    assert len(data["rows"]) == 100
    assert data["total"] == total and data["truncated"] is True and data["limit"] == 100
    whole = json.loads(
        omni("query", sql, "--format", "json", "--limit", "1000", home=crm_home).stdout
    )
    assert len(whole["rows"]) == whole["total"] == total and whole["truncated"] is False


def test_query_csv_writes_rows_to_stdout_and_the_note_to_stderr(crm_home: Path) -> None:
    sql = (
        "SELECT record_id, first_name, 'a,b \"c\"' AS quoted FROM customer_records "
        "WHERE record_id IN ('ok1', 'c1') ORDER BY record_id"
    )
    result = omni("query", sql, "--format", "csv", home=crm_home)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["record_id", "first_name", "quoted"],
        ["c1", "[/b]", 'a,b "c"'],
        ["ok1", "[red]Ann[/red]", 'a,b "c"'],
    ]
    assert result.stderr == ""  # nothing was left out
    cut = omni("query", sql, "--format", "csv", "--limit", "1", home=crm_home)
    assert len(list(csv.reader(io.StringIO(cut.stdout)))) == 2
    assert "1 of 2 rows" in cut.stderr


def test_query_accepts_two_count_columns_and_an_unaliased_function(crm_home: Path) -> None:
    total = count(crm_home, "dead_letters")
    data = json.loads(
        omni("query", "SELECT count(*), count(*) FROM dead_letters", "--json", home=crm_home).stdout
    )
    assert [list(row.values()) for row in data["rows"]] == [[total, total]]
    assert len(set(data["columns"])) == 2
    sql = "SELECT json_extract('{\"a\": 1}', '$.a'), upper(source) FROM dead_letters LIMIT 1"
    data = json.loads(omni("query", sql, "--json", home=crm_home).stdout)
    assert [list(row.values()) for row in data["rows"]] == [["1", "CRM"]]


def test_query_syntax_error_is_plain_text_naming_the_place(crm_home: Path) -> None:
    result = omni("query", "SELEC 1", home=crm_home, check=False)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr
    assert "line 1, column 7" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_format_is_refused_naming_what_is_accepted(crm_home: Path) -> None:
    result = omni("query", "SELECT 1", "--format", "xml", home=crm_home, check=False)
    assert result.returncode == 1
    assert "--format='xml'" in result.stderr and "csv" in result.stderr


def test_dlq_list_says_how_many_letters_of_how_many(crm_home: Path) -> None:
    total = count(crm_home, "dead_letters")
    assert total > 100
    shown = omni("dlq", "list", "--all", home=crm_home)
    assert f"100 of {total:,} dead letters (use --limit to see more)" in shown.stdout
    data = json.loads(omni("dlq", "list", "--all", "--limit", "5", "--json", home=crm_home).stdout)
    assert len(data["rows"]) == 5 and data["total"] == total and data["truncated"] is True
    assert {"source", "field", "value", "reason"} <= set(data["columns"])
    rows = list(
        csv.reader(
            io.StringIO(omni("dlq", "list", "--all", "--format", "csv", home=crm_home).stdout)
        )
    )
    assert len(rows) == 101 and "value" in rows[0]
