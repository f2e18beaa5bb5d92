"""``omni funnel`` and ``omni retention``: step conversion and cohort tables.

Each command builds the funnel (or retention) document from a FILE and/or options, then
calls ``platform.funnels`` / ``platform.retention``, or, while ``omni serve`` owns the
home, ``/api/analytics/funnels...`` / ``/api/analytics/retention``: the server validates
the same document, so a bad one is refused the same way either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.errors import OmniError, ValidationError
from omnichannel.textfiles import read_utf8

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Funnels: step conversion, time to convert, drop-off lists saved as segments.",
)

FILE_HELP = "A funnel document, YAML or JSON (docs/funnels.md); or give --steps."
STEPS_HELP = 'Event names in order, comma separated: "Product Viewed,Product Added,order".'
WINDOW_HELP = "Conversion window from the first step: 7d, 12h, 30m, 2w (default 7d)."
ORDER_HELP = "ordered (default: in order, other events allowed), strict (nothing between) or any."
BY_HELP = (
    "Breakdown: channel, campaign, content, device, store, source, medium, property:NAME or "
    "segment:NAME (repeat or comma separate)."
)
ENTRY_HELP = "person (one entry per person, default) or breakdown (one per person and value)."
SINCE_HELP = "The first step from (UTC date or time)."
UNTIL_HELP = "The first step before (UTC date or time)."


def _read(path: Path) -> dict[str, Any]:
    from omnichannel.segments.definition import read_document

    try:
        text = read_utf8(path)
    except OSError as exc:
        raise OmniError(f"cannot read the funnel file {path}: {exc.strerror or exc}") from None
    return dict(read_document(text, "an object with steps (a list of at least two)"))


def _step_of(name: str) -> Any:
    # ``order`` / ``purchase`` in a --steps list: any purchase, online or in store.
    return {"order": {}} if name.lower() in ("order", "purchase") else name


def document(
    file: Path | None,
    steps: str | None,
    *,
    window: str | None = None,
    order: str | None = None,
    by: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    entry: str | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The funnel document of a command's FILE (or ``base``) and options (options win)."""
    if file is None and not steps and base is None:
        raise ValidationError("steps", steps, "a funnel FILE or --steps 'A,B,C'")
    doc = _read(file) if file is not None else dict(base or {})
    if steps:
        doc["steps"] = [_step_of(s.strip()) for s in steps.split(",") if s.strip()]
    options = {
        "window": window,
        "order": order,
        "by": [d.strip() for b in by for d in b.split(",") if d.strip()] if by else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "entry": entry,
    }
    doc.update({k: v for k, v in options.items() if v is not None})
    return doc


def _on(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


@app.command("run")
def run(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    steps: str | None = typer.Option(None, "--steps", help=STEPS_HELP),
    window: str | None = typer.Option(None, "--window", help=WINDOW_HELP),
    order: str | None = typer.Option(None, "--order", help=ORDER_HELP),
    by: list[str] | None = typer.Option(None, "--by", help=BY_HELP),
    since: datetime | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: datetime | None = typer.Option(None, "--until", help=UNTIL_HELP),
    entry: str | None = typer.Option(None, "--entry", help=ENTRY_HELP),
    sql: bool = typer.Option(False, "--sql", help="Print the compiled SQL instead of running."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Run a funnel: per step entered, conversion, drop-off, median and p90 time to convert."""
    doc = document(
        file, steps, window=window, order=order, by=by, since=since, until=until, entry=entry
    )
    if sql:
        text = _on(
            ctx,
            lambda p: p.funnels.sql(doc),
            lambda s: s.post("/api/analytics/funnels/sql", json=doc)["sql"],
        )
        emit_json({"sql": text}) if as_json else console.print(Text(text))
        return
    result = _on(
        ctx,
        lambda p: p.funnels.run(doc),
        lambda s: s.post("/api/analytics/funnels", json=doc),
    )
    emit_json(result) if as_json else print_funnel(result)


@app.command("marketing")
def marketing(
    ctx: typer.Context,
    window: str | None = typer.Option(None, "--window", help=WINDOW_HELP),
    by: list[str] | None = typer.Option(None, "--by", help=BY_HELP + " Default: campaign,channel."),
    since: datetime | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: datetime | None = typer.Option(None, "--until", help=UNTIL_HELP),
    show: bool = typer.Option(False, "--show", help="Print the preset's document, run nothing."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Exposure > click > visit > purchase (online or in store), per campaign and channel."""
    from omnichannel.analytics.funnels.presets import marketing_funnel

    doc = marketing_funnel()
    if show:
        emit_json(doc)
        return
    doc = document(None, None, window=window, by=by, since=since, until=until, base=doc)
    result = _on(
        ctx,
        lambda p: p.funnels.run(doc),
        lambda s: s.post("/api/analytics/funnels", json=doc),
    )
    emit_json(result) if as_json else print_funnel(result)


@app.command("dropoff")
def dropoff(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    step: int = typer.Option(
        ..., "--step", help="Who reached this step (1-based) and not the next."
    ),
    steps: str | None = typer.Option(None, "--steps", help=STEPS_HELP),
    marketing_preset: bool = typer.Option(
        False, "--marketing", help="The marketing funnel's drop-off (instead of FILE/--steps)."
    ),
    window: str | None = typer.Option(None, "--window", help=WINDOW_HELP),
    order: str | None = typer.Option(None, "--order", help=ORDER_HELP),
    since: datetime | None = typer.Option(None, "--since", help=SINCE_HELP),
    until: datetime | None = typer.Option(None, "--until", help=UNTIL_HELP),
    save_segment: str | None = typer.Option(
        None, "--save-segment", help="Save those people as this segment (created or replaced)."
    ),
    limit: int = typer.Option(20, "--limit", help="How many people to list."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The people who reached step N and not step N+1, optionally saved as a segment."""
    if marketing_preset:
        from omnichannel.analytics.funnels.presets import marketing_funnel

        base = marketing_funnel()
        doc = document(None, None, window=window, since=since, until=until, base=base)
    else:
        doc = document(file, steps, window=window, order=order, since=since, until=until)
    params: dict[str, Any] = {"step": step, "limit": limit}
    if save_segment:
        params["save_segment"] = save_segment

    def local(p: Platform) -> dict[str, Any]:
        return p.funnels.dropoff(
            doc, step=step, save_segment=save_segment, limit=limit, actor="cli"
        )

    def remote(s: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = s.post("/api/analytics/funnels/dropoff", json=doc, **params)
        return answer

    result = _on(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            f"Reached step {result['step']} ({result['step_name']}), not "
            f"{result['next_step_name']}: {result['people']:,} people",
            ["person", "reached at"],
            [[r["person"], str(r["reached_at"])] for r in result["listed"]],
        )
    )
    if result["segment"]:
        seg = result["segment"]
        console.print(Text(f"saved as segment {seg['name']} ({seg['members']} members)"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return str(timedelta(seconds=round(seconds)))


def print_funnel(result: dict[str, Any]) -> None:
    """The overall table, then one table per breakdown value."""
    window = _duration(result["window_seconds"])
    title = f"{result['funnel']} funnel ({result['order']}, window {window})"
    groups = [("all", result["overall"]["steps"])]
    for b in result["breakdown"]:
        label = ", ".join(f"{k}={v if v is not None else '(none)'}" for k, v in b["values"].items())
        groups.append((label, b["steps"]))
    for label, steps in groups:
        console.print(
            rows_table(
                f"{title}: {label}",
                ["step", "entered", "from previous", "from first", "dropped", "median", "p90"],
                [
                    [
                        f"{s['step']}. {s['name']}",
                        f"{s['entered']:,}",
                        f"{s['conversion_from_previous']:.1%}",
                        f"{s['conversion_from_first']:.1%}",
                        "" if s["dropped_off"] is None else f"{s['dropped_off']:,}",
                        _duration(s["median_seconds_from_previous"]),
                        _duration(s["p90_seconds_from_previous"]),
                    ]
                    for s in steps
                ],
            )
        )


def _retention_step(name: str | None) -> Any:
    if name is None:
        return None
    return {"order": {}} if name.lower() in ("order", "purchase") else {"event": name}


def retention(
    ctx: typer.Context,
    file: Path | None = typer.Argument(
        None, help="A retention document, YAML or JSON (docs/funnels.md); or give --start."
    ),
    start: str | None = typer.Option(
        None, "--start", help="The cohort's first event name (or 'order': the first purchase)."
    ),
    returning: str | None = typer.Option(
        None, "--returning", help="Returning on this event (or 'order'); default: --start again."
    ),
    period: str | None = typer.Option(None, "--period", help="day, week (default) or month."),
    periods: int | None = typer.Option(None, "--periods", help="How many periods (default 8)."),
    since: datetime | None = typer.Option(None, "--since", help="Cohorts' first fact from (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="Cohorts' first fact before."),
    rates: bool = typer.Option(False, "--rates", help="Show rates instead of counts."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Cohort table: people by the period of their first event or order, and who came back."""
    doc = _read_any(file) if file is not None else {}
    options = {
        "start": _retention_step(start),
        "returning": _retention_step(returning),
        "period": period,
        "periods": periods,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    doc.update({k: v for k, v in options.items() if v is not None})
    if "start" not in doc:
        raise ValidationError("start", None, "--start EVENT (or 'order'), or a document FILE")
    result = _on(
        ctx,
        lambda p: p.retention.run(doc),
        lambda s: s.post("/api/analytics/retention", json=doc),
    )
    if as_json:
        emit_json(result)
        return
    n = int(result["periods"])
    key = "rates" if rates else "counts"
    console.print(
        rows_table(
            f"Retention by {result['period']}: {result['start']} then {result['returning']}",
            ["cohort", "people", *[f"{result['period']} {i}" for i in range(1, n + 1)]],
            [
                [
                    str(c["cohort"])[:10],
                    f"{c['people']:,}",
                    *["" if v is None else (f"{v:.1%}" if rates else f"{v:,}") for v in c[key][1:]],
                ]
                for c in result["cohorts"]
            ],
        )
    )


def _read_any(path: Path) -> dict[str, Any]:
    from omnichannel.segments.definition import read_document

    try:
        text = read_utf8(path)
    except OSError as exc:
        raise OmniError(f"cannot read {path}: {exc.strerror or exc}") from None
    return dict(read_document(text, "an object with start (a step)"))
