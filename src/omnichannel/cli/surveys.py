"""``omni surveys``: define surveys, ask people on any channel, read the results.

Each command calls ``platform.surveys`` (``surveys/service.py``), or, while ``omni
serve`` owns the home, ``/api/surveys``: the same data, printed the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.jsonable import jsonable
from omnichannel.textfiles import read_utf8_argument

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Surveys: NPS, CSAT, CES and custom, on any channel; results with intervals.",
    no_args_is_help=True,
)
ACTOR_HELP = "Who does it (recorded in the audit log); a user's email once users exist."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=lambda p: jsonable(local(p)), remote=remote)


def _fmt(value: Any, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@app.command("list")
def list_(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every survey with its kind, version and counts."""
    result = _run(ctx, lambda p: p.surveys.list(), lambda s: s.get("/api/surveys"))
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            f"{len(result)} surveys",
            ["name", "kind", "version", "invited", "answered", "completed"],
            [
                [r["name"], r["kind"], r["version"], r["invited"], r["answered"], r["completed"]]
                for r in result
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    version: int | None = typer.Option(None, "--version", help="Default: the current one."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """A survey's document, versions and counts."""
    result = _run(
        ctx,
        lambda p: p.surveys.show(name, version=version),
        lambda s: s.get(f"/api/surveys/{name}", version=version),
    )
    if as_json:
        emit_json(result)
        return
    definition = result["definition"]
    console.print(
        Text(
            f"{result['name']} ({result['kind']}), version {result['shown_version']} of "
            f"{result['version']}: {result['invited']} invited, {result['answered']} answered, "
            f"{result['completed']} completed"
        )
    )
    console.print(
        rows_table(
            "questions",
            ["id", "type", "text", "shown if"],
            [
                [q["id"], q["type"], q["text"].get("en", ""), str(q.get("show_if") or "")]
                for q in definition["questions"]
            ],
        )
    )


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help="The survey document (YAML or JSON)."),
    new_version: bool = typer.Option(
        False, "--new-version", help="Save it as a new version of the survey of its name."
    ),
    actor: str = typer.Option("cli", "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Store a survey (docs/surveys.md describes the document), or a new version of it."""
    text = read_utf8_argument(file, "--file", "a survey document")

    def local(platform: Platform) -> dict[str, Any]:
        if new_version:
            return platform.surveys.save_version(text, actor=actor)
        return platform.surveys.create(text, actor=actor)

    def remote(server: ServerClient) -> Any:
        body = {"document": text, "actor": actor}
        if new_version:
            from omnichannel.surveys.definition import parse_survey

            name = parse_survey(text).name
            return server.post(f"/api/surveys/{name}/versions", json=body)
        return server.post("/api/surveys", json=body)

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"survey {result['name']} saved, version {result['version']}"))


@app.command("send")
def send(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    channel: str = typer.Option(..., "--channel", "-c", help="email, sms, wechat, push..."),
    to: str | None = typer.Option(None, "--to", help="One person, TYPE:VALUE."),
    segment: str | None = typer.Option(None, "--segment", help="Or a segment's members."),
    template: str | None = typer.Option(None, "--template", help="With {{ survey_link }}."),
    campaign: str | None = typer.Option(None, "--campaign", help="Default survey:NAME."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Ask one person or a segment by a message carrying their signed link."""
    from omnichannel.errors import ValidationError

    if (to is None) == (segment is None):
        raise ValidationError("--to/--segment", to or segment, "one person or one segment")

    def local(platform: Platform) -> dict[str, Any]:
        if segment is not None:
            return platform.surveys.send_segment(
                name, segment, channel=channel, template=template, campaign=campaign
            )
        return platform.surveys.send(
            name,
            channel=channel,
            identifier=to,
            template=template,
            campaign=campaign,
            origin="cli",
        )

    def remote(server: ServerClient) -> Any:
        if segment is not None:
            body = {
                "segment": segment,
                "channel": channel,
                "template": template,
                "campaign": campaign,
            }
            return server.post(f"/api/surveys/{name}/send-segment", json=body)
        body = {"channel": channel, "identifier": to, "template": template, "campaign": campaign}
        return server.post(f"/api/surveys/{name}/send", json=body)

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    if segment is not None:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items()))
        console.print(Text(f"{result['members']} members of {segment}: {outcomes}"))
        return
    reason = f" ({result['reason']}: {result['detail']})" if result.get("reason") else ""
    console.print(Text(f"message {result['outbox_id']} {result['status']}{reason}"))
    if result.get("survey_link"):
        console.print(Text(result["survey_link"]))


@app.command("results")
def results(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    by: str | None = typer.Option(None, "--by", help="channel, store, campaign or segment."),
    period: str = typer.Option("week", "--period", help="day, week or month."),
    segment: list[str] = typer.Option([], "--segment", help="With --by segment (repeat)."),
    since: datetime | None = typer.Option(None, "--since", help="From (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="Before (UTC)."),
    change: str | None = typer.Option(None, "--change", help="Compare before and after."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The survey's NPS, CSAT or CES with 95 % intervals and the response rate."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.surveys.results(
            name, by=by, period=period, segments=segment, since=since, until=until, change=change
        )

    def remote(server: ServerClient) -> Any:
        return server.get(
            f"/api/surveys/{name}/results",
            by=by,
            period=period,
            segment=segment or None,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
            change=change,
        )

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    figure = result["figure"].upper()
    rows = [{"group": "all", **result["overall"]}, *result["groups"]]
    console.print(
        rows_table(
            f"{result['survey']}: {figure}" + (f" by {result['by']}" if result["by"] else ""),
            ["group", figure, "95% interval", "answers", "invited", "response rate"],
            [
                [
                    r["group"],
                    _fmt(r["value"]),
                    f"{_fmt(r['low'])} to {_fmt(r['high'])}" if r["low"] is not None else "",
                    r["responded"],
                    r["invited"],
                    "" if r["response_rate"] is None else f"{r['response_rate']:.1%}",
                ]
                for r in rows
            ],
        )
    )
    comparison = result.get("comparison")
    if comparison and comparison["difference"] is not None:
        verdict = "beyond noise" if comparison["beyond_noise"] else "within noise"
        console.print(
            Text(
                f"after {comparison['change']}: {comparison['difference']:+.1f} "
                f"(95% {comparison['low']:+.1f} to {comparison['high']:+.1f}, "
                f"p={comparison['p_value']:.3f}): {verdict}"
            )
        )


@app.command("text")
def text(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    by: str = typer.Option("store", "--by", help="store, channel, campaign or period."),
    period: str = typer.Option("month", "--period", help="day, week or month."),
    top: int = typer.Option(10, "--top", help="Keywords per group."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Free-text answers: keywords and sentiment per store, channel or period."""
    result = _run(
        ctx,
        lambda p: p.surveys.text(name, by=by, period=period, top=top),
        lambda s: s.get(f"/api/surveys/{name}/text", by=by, period=period, top=top),
    )
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            f"{result['survey']}: free text by {result['by']}",
            ["group", "answers", "sentiment", "+/=/-", "keywords"],
            [
                [
                    g["group"],
                    g["answers"],
                    _fmt(g["sentiment"], 2),
                    f"{g['positive']}/{g['neutral']}/{g['negative']}",
                    ", ".join(k["word"] for k in g["keywords"]),
                ]
                for g in result["groups"]
            ],
        )
    )


@app.command("qr")
def qr(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    store: str = typer.Option(..., "--store"),
    receipt: str = typer.Option(..., "--receipt"),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the image."),
    format: str = typer.Option("svg", "--format", help="svg or png."),
) -> None:
    """A store receipt's QR code of its survey link (one answer per receipt)."""

    def local(platform: Platform) -> tuple[bytes, str]:
        made = platform.surveys.receipt_qr(name, store=store, receipt=receipt, format=format)
        return made["image"], made["url"]

    def remote(server: ServerClient) -> tuple[bytes, str]:
        response = server.response(
            "GET",
            f"/api/surveys/{name}/receipt-qr",
            params={"store": store, "receipt": receipt, "format": format},
        )
        return response.content, response.headers.get("x-survey-link", "")

    from omnichannel.cli.remote import on_installation

    image, url = on_installation(settings_of(ctx), local=local, remote=remote)
    out.write_bytes(image)
    console.print(Text(f"{out} ({len(image):,} bytes): {url}"))
