"""``omni segments``: save, preview, list, show, explain, export and delete segments.

Each command is one call into ``platform.segments`` (``segments/service.py``), or, while
``omni serve`` owns the home, the same call on ``/api/segments``; both return the same
data, printed the same way. Definition files are read and checked here first, so a bad
file is refused with its path, the place inside it, the value and what is accepted,
whichever way the command then runs.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.syntax import Syntax
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    errors,
    key_value_table,
    rows_table,
)
from omnichannel.errors import OmniError, ValidationError

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Segments: who matches a condition document, kept current; preview, explain, export.",
)

FILE_HELP = (
    "The definition: a YAML or JSON file (see docs/segments.md), or the name of a "
    "ready-made segment (`omni segments ready-made` lists them)."
)
SQL_HELP = "Also print the SQL it runs on the warehouse's engine."
ACTOR = "cli"


def _read(path: Path) -> str:
    """The file's text, or a ready-made segment's when ``path`` is one's name and no file."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        if not path.exists() and path.name == str(path) and "." not in path.name:
            from omnichannel.segments.ready_made import ready_made_text

            try:
                return ready_made_text(path.name)
            except ValidationError as unknown:
                raise OmniError(
                    f"no definition file {path}, and no ready-made segment of that name "
                    f"({unknown.accepted})"
                ) from None
        raise OmniError(f"cannot read the definition file {path}: {exc.strerror or exc}") from None


def _document(path: Path, *, name: str | None = None) -> dict[str, Any]:
    """The checked document in ``path``; errors name the file, the place in it, the value."""
    from omnichannel.segments.service import definition_of, document_of

    text = _read(path)
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None  # parse_definition says where the text is broken
    try:
        # A mapping lets ``update`` fill in the name; anything else is parsed as text.
        definition = definition_of(loaded if isinstance(loaded, dict) else text, name=name)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.field}", exc.value, exc.accepted) from None
    return document_of(definition)


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _print_sql(sql: str) -> None:
    console.print(Syntax(sql, "sql", word_wrap=True, theme="ansi_dark"))


def _print_segment(segment: dict[str, Any]) -> None:
    summary = {
        "name": segment["name"],
        "description": segment["description"],
        "version": segment["version"],
        "members": segment["members"],
        "created by": segment["created_by"],
        "created at": segment["created_at"],
        "updated at": segment["updated_at"],
    }
    last = segment.get("last_refresh") or segment.get("refresh")
    if last:
        parts = [
            str(last.get("mode") or ""),
            str(last.get("refreshed_at") or "")[:19],
            f"+{last.get('entered', 0)} -{last.get('exited', 0)}",
        ]
        summary["last refresh"] = " ".join(p for p in parts if p)
    console.print(key_value_table(f"segment {segment['name']}", summary))
    console.print(Text(json.dumps(segment["definition"], indent=2, ensure_ascii=False)))


@app.command("ready-made")
def ready_made_list(
    ctx: typer.Context,
    show: str | None = typer.Argument(None, help="One of them: print its YAML, to copy."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The shipped definitions (RFM groups, CLV deciles, lapsing, ...), to create or copy."""
    from omnichannel.segments.ready_made import ready_made, ready_made_text
    from omnichannel.segments.service import document_of

    if show is not None:
        text = ready_made_text(show)
        emit_json(document_of(ready_made()[show])) if as_json else sys.stdout.write(text)
        return
    shipped = ready_made()
    if as_json:
        emit_json([document_of(d) for d in shipped.values()])
        return
    console.print(
        rows_table(
            f"{len(shipped)} ready-made segments (omni segments create --file NAME)",
            ["name", "description"],
            [[d.name, d.description] for d in shipped.values()],
        )
    )


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a new segment from a definition file and compute its members."""
    doc = _document(file)
    saved = _run(
        ctx,
        lambda platform: platform.segments.create(doc, created_by=ACTOR),
        lambda server: server.post("/api/segments", json={**doc, "created_by": ACTOR}),
    )
    emit_json(saved) if as_json else _print_segment(saved)


@app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment to change."),
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Replace a segment's definition (its version goes up) and recompute its members."""
    doc = _document(file, name=name)
    saved = _run(
        ctx,
        lambda platform: platform.segments.update(name, doc, actor=ACTOR),
        lambda server: server.request("PUT", f"/api/segments/{name}", json={**doc, "actor": ACTOR}),
    )
    emit_json(saved) if as_json else _print_segment(saved)


@app.command("list")
def list_segments(
    ctx: typer.Context,
    trend_days: int | None = typer.Option(
        None, "--trend-days", help="Also a sparkline of members per day over these last days."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Every segment: its version, its current members, its description."""
    rows = _run(
        ctx,
        lambda platform: platform.segments.list(trend_days=trend_days),
        lambda server: server.get("/api/segments", trend_days=trend_days),
    )
    if as_json:
        emit_json(rows)
        return
    columns = ["segment", "version", "members", "updated", "description"]
    if trend_days is not None:
        columns.insert(4, f"last {trend_days} days")
    table = []
    for r in rows:
        row = [r["name"], r["version"], r["members"], (r["updated_at"] or "")[:19]]
        if trend_days is not None:
            row.append(sparkline(r.get("trend") or []))
        table.append([*row, r["description"]])
    console.print(rows_table(f"{len(rows)} segment{'' if len(rows) == 1 else 's'}", columns, table))


def sparkline(values: list[int]) -> str:
    """``values`` as block characters, lowest to highest: ▁▂▄█."""
    bars = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    return "".join(bars[(v - low) * (len(bars) - 1) // span] for v in values)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    sql: bool = typer.Option(False, "--sql", "--explain", help=SQL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One segment: its definition, version, members and last refresh."""

    def local(platform: Platform) -> dict[str, Any]:
        shown = platform.segments.show(name)
        if sql:
            shown["sql"] = platform.segments.sql(name)
        return shown

    def remote(server: ServerClient) -> dict[str, Any]:
        shown: dict[str, Any] = server.get(f"/api/segments/{name}")
        if sql:
            shown["sql"] = server.get(f"/api/segments/{name}/explain")["sql"]
        return shown

    shown = _run(ctx, local, remote)
    if as_json:
        emit_json(shown)
        return
    _print_segment(shown)
    if sql:
        _print_sql(shown["sql"])


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Delete a segment and its membership (refused while another segment refers to it)."""
    gone = _run(
        ctx,
        lambda platform: platform.segments.delete(name, actor=ACTOR),
        lambda server: server.request("DELETE", f"/api/segments/{name}"),
    )
    if as_json:
        emit_json(gone)
    else:
        console.print(Text(f"deleted segment {gone['deleted']} (version {gone['version']})"))


@app.command("preview")
def preview(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    sample: int = typer.Option(10, "--sample", min=0, max=1000, help="Member ids to show."),
    sql: bool = typer.Option(False, "--sql", "--explain", help=SQL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Size and a sample of the members of a definition file, without saving it."""
    doc = _document(file)

    def local(platform: Platform) -> dict[str, Any]:
        answer = platform.segments.preview(doc, sample=sample)
        if sql:
            answer["sql"] = platform.segments.sql(doc)
        return answer

    answer = _run(
        ctx,
        local,
        lambda server: server.post(
            "/api/segments/preview", json={**doc, "sample": sample}, sql=sql or None
        ),
    )
    if not sql:
        answer.pop("sql", None)
    if as_json:
        emit_json(answer)
        return
    share = f" of {answer['profiles']:,} profiles" if answer.get("profiles") else ""
    console.print(Text(f"{answer['name']}: {answer['size']:,} members{share} (not saved)"))
    console.print(
        rows_table(
            "each top-level condition alone",
            ["path", "condition", "profiles"],
            [[c["path"], c["condition"], c["size"]] for c in answer["conditions"]],
        )
    )
    console.print(rows_table("sample", ["profile_id"], [[p] for p in answer["sample"]]))
    if sql:
        _print_sql(answer["sql"])


@app.command("members")
def members(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    limit: int = typer.Option(
        100, "--limit", min=0, help="At most this many ids (0: all); the total is always given."
    ),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many ids first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The current members' profile ids, sorted (the total is always printed)."""
    from omnichannel.cli.output import shown_of_total

    most = limit or None
    page = _run(
        ctx,
        lambda platform: platform.segments.members(name, limit=most, offset=offset),
        lambda server: server.get(
            f"/api/segments/{name}/members", limit=most, offset=offset or None
        ),
    )
    if as_json:
        emit_json(page)
        return
    shown = shown_of_total(len(page["profile_ids"]), page["total"], "member")
    # On a line of its own: a table's title wraps at the (narrow) table's width.
    console.print(Text(f"{page['segment']}: {shown}"), soft_wrap=True)
    table = rows_table("", ["profile_id"], [[p] for p in page["profile_ids"]])
    table.title = None
    console.print(table)


@app.command("explain")
def explain(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    profile: str | None = typer.Option(
        None, "--profile", help="A profile id (p_...): say why it is or is not a member."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The SQL a segment runs and, with --profile, why that person is in or out."""
    answer = _run(
        ctx,
        lambda platform: platform.segments.explain(name, profile=profile),
        lambda server: server.get(f"/api/segments/{name}/explain", profile=profile),
    )
    if as_json:
        emit_json(answer)
        return
    why = answer.get("why")
    if why is not None:
        console.print(Text(f"segment {answer['segment']} (version {answer['version']}):"))
        for line in why["lines"]:
            console.print(Text(line))
        return
    _print_sql(answer["sql"])


@app.command("trend")
def trend(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    days: int = typer.Option(30, "--days", help="How many days back (1 to 366)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Members at the end of each of the last N days (UTC), with who came in and left."""
    answer = _run(
        ctx,
        lambda platform: platform.segments.trend(name, days=days),
        lambda server: server.get(f"/api/segments/{name}/trend", days=days),
    )
    if as_json:
        emit_json(answer)
        return
    console.print(
        rows_table(
            f"{answer['segment']}: members per day, {answer['from']} to {answer['to']} (UTC)",
            ["day", "members", "entered", "exited"],
            [[p["day"], p["members"], p["entered"], p["exited"]] for p in answer["points"]],
        )
    )


@app.command("refresh")
def refresh(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="The segment (default: every segment)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Recompute a segment's members now (every segment's, in dependency order, without NAME)."""

    def remote(server: ServerClient) -> list[dict[str, Any]]:
        names = [name] if name else [s["name"] for s in server.get("/api/segments")]
        done: list[dict[str, Any]] = []
        for each in names:
            done.extend(server.post(f"/api/segments/{each}/refresh"))
        return done

    results = _run(ctx, lambda platform: platform.segments.refresh(name), remote)
    if as_json:
        emit_json(results)
        return
    console.print(
        rows_table(
            f"refreshed {len(results)} segment{'' if len(results) == 1 else 's'}",
            ["segment", "mode", "members", "entered", "exited", "seconds"],
            [
                [r["segment"], r["mode"], r["members"], r["entered"], r["exited"], r["seconds"]]
                for r in results
            ],
        )
    )


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The segment."),
    fmt: str = typer.Option(
        "csv", "--format", help="csv, google (Customer Match) or meta (Custom Audiences)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: stdout, the summary on stderr)."
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="csv: comma-separated profile columns after profile_id."
    ),
    channel: str | None = typer.Option(
        None,
        "--channel",
        help="csv: leave out profiles whose consent for this channel is withheld.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Write the members as a CSV, Google Customer Match or Meta Custom Audiences file."""
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else []

    def local(platform: Platform) -> tuple[str, dict[str, Any]]:
        out = io.StringIO()
        result = platform.segments.export(name, fmt=fmt, out=out, columns=chosen, channel=channel)
        return out.getvalue(), result.public()

    def remote(server: ServerClient) -> tuple[str, dict[str, Any]]:
        params = {"format": fmt, "columns": columns, "channel": channel}
        answer = server.response(
            "GET",
            f"/api/segments/{name}/export",
            params={k: v for k, v in params.items() if v is not None},
        )
        left_out = json.loads(answer.headers.get("x-omni-left-out", "{}"))
        header = next(csv.reader(io.StringIO(answer.text)), [])
        return answer.text, {
            "format": fmt,
            "members": int(answer.headers["x-omni-members"]),
            "rows": int(answer.headers["x-omni-rows"]),
            "columns": header,
            "left_out": left_out,
            "left_out_total": sum(left_out.values()),
        }

    text, summary = _run(ctx, local, remote)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        summary["output"] = str(output)
    else:
        sys.stdout.write(text)
    report = console if output is not None else errors
    if as_json:
        if output is None:
            errors.print(Text(json.dumps(summary, ensure_ascii=False)))
        else:
            emit_json(summary)
        return
    where = f" to {output}" if output is not None else ""
    report.print(
        Text(
            f"wrote {summary['rows']:,} of {summary['members']:,} members as {fmt}{where}; "
            f"left out {summary['left_out_total']:,}"
        )
    )
    if summary["left_out"]:
        report.print(
            rows_table("left out", ["reason", "profiles"], sorted(summary["left_out"].items()))
        )
