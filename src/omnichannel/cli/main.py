"""The root ``omni`` app: global options, sub-command registration, error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from omnichannel import __version__
from omnichannel.cli import (
    clv,
    demo,
    dlq,
    events,
    identity,
    ingest,
    linkage,
    profile,
    profiles,
    quality,
    server,
    sources,
    status,
    warehouse,
)
from omnichannel.cli.output import errors
from omnichannel.config import get_settings
from omnichannel.errors import OmniError

app = typer.Typer(
    name="omni",
    help="Omnichannel: collect, unify, segment, engage and measure, from one Python system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"omnichannel {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None,
        "--home",
        envvar="OMNI_HOME",
        help="Directory holding all state of this installation (default: ./omni-home).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options; every setting can also be given as an OMNI_* environment variable."""
    ctx.obj = get_settings(home=home)


app.command("demo")(demo.demo)
app.command("serve")(server.serve)
app.command("status")(status.status)
app.command("init")(status.init)
app.command("settings")(status.show_settings)
app.command("query")(warehouse.query)
app.command("ingest")(ingest.ingest)
app.command("quality")(quality.quality)
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(dlq.app, name="dlq")
app.add_typer(sources.app, name="sources")
app.add_typer(events.app, name="events")
app.add_typer(clv.app, name="clv")
app.add_typer(linkage.app, name="linkage")
app.add_typer(identity.app, name="identity")
app.add_typer(profiles.app, name="profiles")
app.add_typer(profile.app, name="profile")


def main() -> None:
    """Entry point: errors we raise on purpose print as one clear line, exit code 1."""
    try:
        app()
    except OmniError as exc:
        # soft_wrap: keep the message on one line so it can be grepped and copied whole.
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(1)
