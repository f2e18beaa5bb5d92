"""Printing for the CLI: Rich for people, ``--json`` for machines, errors without traces."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from omnichannel.jsonable import json_default

if TYPE_CHECKING:
    from rich.progress import TaskID

# emoji=False: ":smile:" in a customer's data must print as typed, not as an emoji.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

JSON_OPTION_HELP = "Print machine-readable JSON instead of tables."


def emit_json(data: object) -> None:
    """Write JSON to stdout with no Rich markup, so it pipes cleanly into jq.

    Values JSON lacks are written by the one rule of every face (``omnichannel.jsonable``:
    a Decimal as exact text, times as ISO 8601)."""
    print(json.dumps(data, default=json_default, indent=2, ensure_ascii=False))


def cell(value: object) -> Text:
    """One value as literal text: never read as Rich markup, so ``[/b]`` in data is safe."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value:,}")
    return Text(str(value))


def escaped(data: Any) -> Any:
    """Strings inside nested dicts and lists with Rich markup escaped, for renderers
    that build markup strings from data (e.g. the profile card)."""
    if isinstance(data, str):
        return escape(data)
    if isinstance(data, Mapping):
        return {key: escaped(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [escaped(value) for value in data]
    return data


def key_value_table(title: str, rows: Mapping[str, Any]) -> Table:
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(cell(key), cell(value))
    return table


def rows_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(cell(column))
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    return table


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing one Rich bar per stage."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    # Imported here: only long-running commands draw bars, the others need not load them.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


FORMATS = ("table", "json", "csv")
FORMAT_OPTION_HELP = "table (default), json or csv; --json is short for --format json."


def output_format(fmt: str | None, as_json: bool) -> str:
    """The chosen ``--format``, with ``--json`` as its shorthand; anything else is refused."""
    from omnichannel.errors import ValidationError

    chosen = (fmt or ("json" if as_json else "table")).lower()
    if chosen not in FORMATS:
        raise ValidationError("--format", fmt, " or ".join(FORMATS))
    if as_json and chosen != "json":
        raise ValidationError("--format", fmt, "json when --json is given (or drop --json)")
    return chosen


def shown_of_total(shown: int, total: int, noun: str) -> str:
    """``"100 of 47,125 rows (use --limit to see more)"``, or ``"12 rows"`` when all are shown.

    ``noun`` is singular ("row", "dead letter"); an "s" is added unless the total is one.
    """
    nouns = noun if total == 1 else f"{noun}s"
    if shown >= total:
        return f"{total:,} {nouns}"
    return f"{shown:,} of {total:,} {nouns} (use --limit to see more)"


def emit_listing(
    *,
    noun: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    total: int,
    limit: int | None,
    fmt: str,
    cells: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None,
    title: str | None = None,
) -> None:
    """Print a possibly truncated listing as a table, JSON or CSV, never hiding the total.

    JSON is ``{"columns", "rows", "total", "truncated", "limit"}``; CSV goes to stdout
    with the "N of TOTAL" note on stderr, so a pipe receives only rows.
    """
    summary = shown_of_total(len(rows), total, noun)
    if fmt == "json":
        emit_json(
            {
                "columns": list(columns),
                "rows": list(rows),
                "total": total,
                "truncated": total > len(rows),
                "limit": limit,
            }
        )
    elif fmt == "csv":
        write_csv(columns, [[row.get(c) for c in columns] for row in rows])
        if total > len(rows):
            errors.print(Text(summary))
    else:
        to_cells = cells or (lambda row: [row.get(c) for c in columns])
        heading = f"{title}: {summary}" if title else summary
        console.print(rows_table(heading, columns, [to_cells(row) for row in rows]))


def write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """RFC 4180 CSV on stdout: a header, then one line per row; nested values as JSON."""
    import csv
    import sys

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=json_default, ensure_ascii=False)
    return value
