"""``omni journeys``: save, check, approve, run, count and dry-run journeys.

Each command is one call into ``platform.journeys`` (``journeys/service.py``), or, while
``omni serve`` owns the home, the same call on ``/api/journeys``; both return the same
data, printed the same way. Journey files are read and checked here first, so a bad file
is refused with its path, the place inside it (``steps.reminder.send.template``), the
value and what is accepted, whichever way the command then runs.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    key_value_table,
    rows_table,
    shown_of_total,
)
from omnichannel.errors import OmniError, ValidationError
from omnichannel.textfiles import read_utf8

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Journeys: automated multi-step strategies; approve, run, count, simulate.",
)

FILE_HELP = "The journey document: a YAML or JSON file (see docs/journeys.md)."
ACTOR_HELP = "Who does it (recorded in the audit log); a user's email once users exist."
ACTOR = "cli"


def _document(path: Path, *, name: str | None = None) -> dict[str, Any]:
    """The checked document in ``path``; errors name the file, the place in it, the value."""
    from omnichannel.journeys.service import definition_of

    try:
        text = read_utf8(path)
    except OSError as exc:
        raise OmniError(f"cannot read the journey file {path}: {exc.strerror or exc}") from None
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None  # parse_journey says where the text is broken
    try:
        definition = definition_of(loaded if isinstance(loaded, dict) else text, name=name)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.field}", exc.value, exc.accepted) from None
    document: dict[str, Any] = definition.document()
    return document


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _print_journey(journey: dict[str, Any], *, document: bool = False) -> None:
    summary = {
        "name": journey["name"],
        "description": journey["description"],
        "status": journey["status"],
        "entry": journey["entry"],
        "version": journey["version"],
        "live version": journey["live_version"] or "-",
        "approved version": journey["approved_version"] or "-",
        "approved by": journey["approved_by"] or "-",
        "pending approval": "yes" if journey["pending_approval"] else "no",
        "updated at": (journey["updated_at"] or "")[:19],
    }
    if "exited" in journey:
        summary["enrolments exited"] = journey["exited"]
    if "actions" in journey:
        summary["can be"] = ", ".join(journey["actions"]) or "-"
    console.print(key_value_table(f"journey {journey['name']}", summary))
    if document:
        console.print(Text(json.dumps(journey["definition"], indent=2, ensure_ascii=False)))


def _lifecycle(ctx: typer.Context, action: str, name: str, actor: str, as_json: bool) -> None:
    def local(platform: Platform) -> dict[str, Any]:
        done: dict[str, Any] = getattr(platform.journeys, action)(name, actor=actor)
        return done

    done = _run(
        ctx,
        local,
        lambda server: server.post(f"/api/journeys/{name}/{action}", json={"actor": actor}),
    )
    emit_json(done) if as_json else _print_journey(done)


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a new journey (version 1, a draft) from a YAML or JSON file."""
    doc = _document(file)
    saved = _run(
        ctx,
        lambda platform: platform.journeys.create(doc, actor=actor),
        lambda server: server.post("/api/journeys", json={**doc, "actor": actor}),
    )
    emit_json(saved) if as_json else _print_journey(saved)


@app.command("save")
def save(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a new version; a live journey keeps its live version until this one is started."""
    doc = _document(file, name=name)
    saved = _run(
        ctx,
        lambda platform: platform.journeys.save(name, doc, actor=actor),
        lambda server: server.request("PUT", f"/api/journeys/{name}", json={**doc, "actor": actor}),
    )
    emit_json(saved) if as_json else _print_journey(saved)


@app.command("validate")
def validate(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Check a journey file and what it uses (templates, channels, segments); saves nothing."""
    doc = _document(file)
    checked = _run(
        ctx,
        lambda platform: platform.journeys.validate(doc),
        lambda server: server.post("/api/journeys/validate", json=doc),
    )
    if as_json:
        emit_json(checked)
        return
    console.print(
        Text(f"{file}: journey {checked['name']} is valid ({checked['steps']} steps, not saved)")
    )
    uses = {
        k: ", ".join(checked[k]) or "-"
        for k in ("channels", "templates", "segments", "journeys", "events")
    }
    console.print(key_value_table("it uses", {"entry": checked["entry"], **uses}))


@app.command("approve")
def approve(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Approve the newest version (by someone other than its author, once users exist)."""
    _lifecycle(ctx, "approve", name, actor, as_json)


@app.command("start")
def start(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Go live on the approved version (a live journey switches to a newer approved one)."""
    _lifecycle(ctx, "start", name, actor, as_json)


@app.command("pause")
def pause(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Stop entries and steps until resumed (due steps wait)."""
    _lifecycle(ctx, "pause", name, actor, as_json)


@app.command("resume")
def resume(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Live again after a pause: steps that came due meanwhile run now."""
    _lifecycle(ctx, "resume", name, actor, as_json)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Archive for good: no entries, and every open enrolment exits (reason archived)."""
    _lifecycle(ctx, "archive", name, actor, as_json)


@app.command("reset")
def reset(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey (not live: pause it first)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Delete a journey with its versions, enrolments, executed steps and queued messages
    (audited as journey.reset): what `omni demo --reset` does to the demo's journeys."""
    if not yes:
        import sys

        # A script's omni has nobody to answer: refuse rather than wait on its stdin.
        if not sys.stdin.isatty() or not typer.confirm(
            f"Delete journey {name!r} with all its versions, enrolments, steps and queued "
            "messages? This cannot be undone",
            default=False,
        ):
            raise OmniError(
                f"journey {name!r} was not reset (not confirmed; --yes skips the question)"
            )

    def local(platform: Platform) -> dict[str, Any]:
        gone = platform.journeys.reset([name], actor=actor)
        return {"journey": name, "deleted": gone.get(name, {})}

    done = _run(
        ctx, local, lambda server: server.post(f"/api/journeys/{name}/reset", json={"actor": actor})
    )
    if as_json:
        emit_json(done)
        return
    console.print(key_value_table(f"journey {name} reset: rows deleted", done["deleted"]))


@app.command("list")
def list_journeys(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every journey: status, versions, entry, enrolments in flight and in all."""
    rows = _run(
        ctx, lambda platform: platform.journeys.list(), lambda server: server.get("/api/journeys")
    )
    if as_json:
        emit_json(rows)
        return
    console.print(_list_table(rows, console.width))


# Below this width the list leaves out the description (it would wrap every row).
NARROW = 100


def _list_table(rows: list[dict[str, Any]], width: int) -> Any:
    """The journeys as one line each: names never wrap; the description, last, is cut
    with an ellipsis to the room left, and left out (with the grid's inner lines) on a
    narrow terminal. Columns: version and live version, enrolments open and in all."""
    from rich import box
    from rich.table import Table

    from omnichannel.cli.output import cell

    wide = width >= NARROW
    table = Table(
        title=Text(f"{len(rows)} journey{'' if len(rows) == 1 else 's'}"),
        title_justify="left",
        box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD,
        pad_edge=wide,
    )
    headers = ["journey", "status", "entry", "ver", "live", "open", "enrolled"]
    lines = [
        [
            str(r["name"]),
            str(r["status"]),
            str(r["entry"] or "-"),
            str(r["version"]),
            str(r["live_version"] or "-"),
            str(r["in_flight"]),
            str(r["enrolled"]),
        ]
        for r in rows
    ]
    # Each column as wide as its widest value, so Rich never cuts an id or a count.
    widths = [max([len(h), *(len(line[i]) for line in lines)]) for i, h in enumerate(headers)]
    for i, (header, room) in enumerate(zip(headers, widths, strict=True)):
        table.add_column(header, no_wrap=True, min_width=room, justify="right" if i > 2 else "left")
    used = sum(widths) + 3 * len(widths) + 1
    if wide:
        table.add_column(
            "description", no_wrap=True, overflow="ellipsis", max_width=width - used - 3
        )
    for r, line in zip(rows, lines, strict=True):
        table.add_row(*(cell(v) for v in [*line, *([r["description"] or ""] if wide else [])]))
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One journey: its document, status, versions and enrolments by state."""
    shown = _run(
        ctx,
        lambda platform: platform.journeys.show(name),
        lambda server: server.get(f"/api/journeys/{name}"),
    )
    if as_json:
        emit_json(shown)
        return
    _print_journey(shown)
    console.print(
        rows_table(
            "versions",
            ["version", "saved by", "saved at", "approved", "live"],
            [
                [
                    v["version"],
                    v["created_by"],
                    (v["created_at"] or "")[:19],
                    "yes" if v["approved"] else "",
                    "yes" if v["live"] else "",
                ]
                for v in shown["versions"]
            ],
        )
    )
    console.print(
        rows_table("enrolments", ["state", "enrolments"], list(shown["enrolments"].items()))
    )
    console.print(Text(json.dumps(shown["definition"], indent=2, ensure_ascii=False)))


@app.command("enrolments")
def enrolments(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    state: str | None = typer.Option(
        None, "--state", help="Only these: active, waiting, completed or exited."
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The newest enrolments: who, where they are, when their next step is due."""
    page = _run(
        ctx,
        lambda platform: platform.journeys.enrolments(name, state=state, limit=limit),
        lambda server: server.get(f"/api/journeys/{name}/enrolments", state=state, limit=limit),
    )
    if as_json:
        emit_json(page)
        return
    which = f" {state}" if state else ""
    noun = f"{which.strip()} enrolment" if state else "enrolment"
    console.print(
        Text(f"{page['journey']}: {shown_of_total(len(page['enrolments']), page['total'], noun)}"),
        soft_wrap=True,
    )
    console.print(
        rows_table(
            "",
            ["id", "subject", "key", "state", "step", "visit", "due", "arm", "entered", "exit"],
            [
                [
                    e["id"],
                    e["subject"],
                    e["entry_key"] or "-",
                    e["state"],
                    e["step"] or "-",
                    e["visit"],
                    (e["due_at"] or "-")[:19],
                    e["arm"] or "-",
                    (e["entered_at"] or "")[:19],
                    e["exit_reason"] or "-",
                ]
                for e in page["enrolments"]
            ],
        )
    )


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


@app.command("stats")
def stats(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The journey."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Counts per step and branch; entered, in flight, completed, exited; conversions,
    holdout vs treated with Fisher's exact test."""
    counts = _run(
        ctx,
        lambda platform: platform.journeys.stats(name),
        lambda server: server.get(f"/api/journeys/{name}/stats"),
    )
    if as_json:
        emit_json(counts)
        return
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(counts["exit_reasons"].items())) or "-"
    console.print(
        key_value_table(
            f"journey {counts['journey']} ({counts['status']})",
            {
                "entered": counts["entered"],
                "in flight": counts["in_flight"],
                "completed": counts["completed"],
                "exited": counts["exited"],
                "finished by reason": reasons,
                "converted": f"{counts['converted']:,} ({_percent(counts['conversion_rate'])})",
            },
        )
    )
    console.print(
        rows_table(
            "steps",
            ["step", "kind", "executed", "outcomes"],
            [
                [
                    s["step"],
                    s["kind"],
                    s["executed"],
                    ", ".join(f"{k} {v:,}" for k, v in s["outcomes"].items()) or "-",
                ]
                for s in counts["steps"]
            ],
        )
    )
    conversion = counts["conversion"]
    groups = [("treated", conversion["treated"]), ("holdout", conversion["holdout"])]
    console.print(
        rows_table(
            "holdout vs treated",
            ["group", "entered", "converted", "rate"],
            [[g, c["entered"], c["converted"], _percent(c["rate"])] for g, c in groups],
        )
    )
    if conversion["p_value"] is not None:
        verdict = "significant" if conversion["significant"] else "not significant"
        console.print(
            Text(
                f"difference {conversion['difference'] * 100:+.1f} points, Fisher's exact "
                f"p = {conversion['p_value']:.3g} ({verdict} at 0.05)"
            )
        )
    else:
        console.print(Text("no comparison: needs people both held out and treated"))


@app.command("simulate")
def simulate(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="A stored journey (its newest version)."),
    file: Path | None = typer.Option(None, "--file", "-f", help=FILE_HELP),
    days: int = typer.Option(7, "--days", min=1, max=366, help="Replay the last N days of events."),
    now: datetime | None = typer.Option(
        None, "--now", help="The end of the window (UTC; default: now)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Dry-run a journey over the last days of stored events: who would enter, reach each
    step, take each branch and be sent what. Sends nothing, writes nothing."""
    if (name is None) == (file is None):
        raise ValidationError("NAME", name, "a journey's name or --file, one of them")
    subject: Any = name if file is None else _document(file)
    at = now.replace(tzinfo=None) if now is not None else None
    body = {"days": days, "now": at.isoformat() if at else None}
    body.update({"name": name} if file is None else {"definition": subject})

    def local(platform: Platform) -> dict[str, Any]:
        from datetime import UTC

        answer: dict[str, Any] = platform.journeys.simulate(
            subject, days=days, now=at.replace(tzinfo=UTC) if at else None
        )
        return answer

    answer = _run(ctx, local, lambda server: server.post("/api/journeys/simulate", json=body))
    if as_json:
        emit_json(answer)
        return
    refused = ", ".join(f"{k} {v:,}" for k, v in sorted(answer["refused"].items())) or "none"
    console.print(
        Text(
            f"{answer['journey']}: {answer['entered']:,} would enter ({answer['people']:,} people) "
            f"over {answer['days']} days to {answer['end'][:19]}; refused: {refused} "
            "(nothing sent, nothing saved)"
        ),
        soft_wrap=True,
    )
    console.print(
        rows_table(
            "steps",
            ["step", "kind", "reached", "routes", "waiting at the end"],
            [
                [
                    s["step"],
                    s["kind"],
                    s["reached"],
                    ", ".join(f"{k} {v:,}" for k, v in s["routes"].items()) or "-",
                    s["waiting"],
                ]
                for s in answer["steps"]
            ],
        )
    )
    console.print(
        rows_table(
            "would be sent",
            ["step", "channel", "template", "messages", "no address", "no profile"],
            [
                [
                    s["step"],
                    s["channel"],
                    s["template"] or "-",
                    s["would_send"],
                    s["no_address"],
                    s["no_profile"],
                ]
                for s in answer["sends"]
            ],
        )
    )
    exited = ", ".join(f"{k} {v:,}" for k, v in sorted(answer["exited"].items())) or "none"
    console.print(
        Text(
            f"completed {answer['completed']:,}; exited {exited}; still in it "
            f"{answer['in_flight']:,}; converted {answer['converted']:,}"
        )
    )


@app.command("run-due")
def run_due(
    ctx: typer.Context,
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many steps per batch."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Run the journey steps that are due now, once (omni serve and omni worker do it always)."""

    def remote(server: ServerClient) -> dict[str, Any]:
        raise OmniError(
            f"{server.runtime.describe()} runs due journey steps itself as they come due; "
            "`omni journeys run-due` is for a home no server runs"
        )

    def local(platform: Platform) -> dict[str, Any]:
        return {"steps": int(platform.journeys.runtime.run_due(limit=limit))}

    done = _run(ctx, local, remote)
    emit_json(done) if as_json else console.print(Text(f"ran {done['steps']:,} due steps"))
