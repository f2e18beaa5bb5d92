"""``omni audiences``: upload a segment, hashed, to an ad platform's audience (audiences.yaml)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Ad audiences: a segment's members uploaded, hashed, to Meta or Google Ads.",
)


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


@app.command("list")
def list_destinations(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The destinations named in audiences.yaml."""

    def local(platform: Platform) -> Any:
        return platform.audiences.destinations()

    def remote(server: ServerClient) -> Any:
        return server.request("GET", "/api/audiences")

    found = _run(ctx, local, remote)
    if as_json:
        emit_json(found)
        return
    if not found:
        console.print("no destinations: name them in audiences.yaml (see docs/channels.md)")
        return
    rows = [[d["name"], d["platform"], d["target"]] for d in found]
    console.print(rows_table("audience destinations", ["name", "platform", "target"], rows))


@app.command("sync")
def sync(
    ctx: typer.Context,
    segment: str = typer.Argument(..., help="The segment whose members to upload."),
    destination: str = typer.Option(..., "--to", help="A destination of audiences.yaml."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Replace a destination's audience with a segment's members now (hashed, consent honoured)."""

    def local(platform: Platform) -> Any:
        return platform.audiences.sync(segment, destination, actor="cli")

    def remote(server: ServerClient) -> Any:
        return server.request(
            "POST",
            f"/api/audiences/{destination}/sync",
            params={"segment": segment, "actor": "cli"},
        )

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        Text(
            f"{result['segment']} -> {result['destination']} ({result['platform']}): "
            f"{result['rows']} of {result['members']} members uploaded as {result['uploaded']} "
            f"{'rows' if result['platform'] == 'meta' else 'members'} in {result['batches']} "
            f"batch(es); reference {result['reference']}"
        )
    )
    for reason, count in sorted(result["left_out"].items()):
        console.print(Text(f"  left out: {count} ({reason})"))
