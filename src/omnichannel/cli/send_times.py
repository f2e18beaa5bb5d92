"""``omni send-times``: fit the best-send-time model, show one person's, show channel peaks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Best send time per person and channel, and each channel's peak hours.",
)


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


@app.command("build")
def build(
    ctx: typer.Context,
    until: datetime | None = typer.Option(
        None, "--until", help="Learn only from events before this time (UTC), e.g. 2026-05-01."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Fit every profile's best send hour per channel and swap the tables in."""
    from omnichannel.jsonable import jsonable

    def local(platform: Platform) -> Any:
        return jsonable(platform.send_times.build(until=until).as_dict())

    def remote(server: ServerClient) -> Any:
        params = {"until": until.isoformat()} if until else None
        return server.request("POST", "/api/send-times/build", params=params)

    report = _run(ctx, local, remote)
    if as_json:
        emit_json(report)
        return
    console.print(
        key_value_table(
            "send times built",
            {k: report[k] for k in ("profiles", "rows", "until", "timezone", "seconds")},
        )
    )
    rows = [
        [
            name,
            c["peak"],
            f"{c['prior_strength']:.1f}",
            f"{c['engagements']:,}",
            f"{c['own']:,}",
            f"{c['population']:,}",
        ]
        for name, c in report["channels"].items()
    ]
    columns = ["channel", "peak", "prior strength", "responses", "own", "population"]
    console.print(rows_table("per channel", columns, rows))


@app.command("show")
def show(
    ctx: typer.Context,
    identifier: str = typer.Argument(
        ..., help="A profile id, or TYPE:VALUE (email:ann@example.com)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One person's best send time on each channel, with its evidence."""

    def local(platform: Platform) -> Any:
        return platform.send_times.of(identifier)

    def remote(server: ServerClient) -> Any:
        return server.request("GET", f"/api/send-times/{identifier}")

    found = _run(ctx, local, remote)
    if as_json:
        emit_json(found)
        return
    zone = found["timezone"] + ("" if found["timezone_known"] else " (the installation's)")
    rows = [
        [name, c["label"], c["source"], f"{c['weight_own']:.2f}", c["evidence"], c["engagements"]]
        for name, c in found["channels"].items()
    ]
    columns = ["channel", "best (local)", "from", "own weight", "evidence", "responses"]
    console.print(rows_table(f"{found['profile_id']}, time zone {zone}", columns, rows))


@app.command("peaks")
def peaks(
    ctx: typer.Context,
    channel: str | None = typer.Option(None, "--channel", help="One channel (default: all)."),
    top: int = typer.Option(5, "--top", help="How many hours to list per channel."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Each channel's busiest local hours of the week for the whole audience."""
    from omnichannel.sendtime.evidence import CHANNELS

    names = [channel] if channel else list(CHANNELS)

    def local(platform: Platform) -> Any:
        return [
            {"channel": name, "hours": platform.send_times.peaks(name, top=top)} for name in names
        ]

    def remote(server: ServerClient) -> Any:
        params: dict[str, Any] = {"top": top}
        if channel:
            params["channel"] = channel
        return server.request("GET", "/api/send-times/peaks", params=params)

    found = _run(ctx, local, remote)
    if as_json:
        emit_json(found)
        return
    rows = [
        [entry["channel"], h["label"], f"{100 * h['share']:.2f} %"]
        for entry in found
        for h in entry["hours"]
    ]
    console.print(rows_table("peak hours (local time)", ["channel", "hour", "share"], rows))
