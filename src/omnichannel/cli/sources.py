"""``omni sources ...``: the places events come from, and their write keys."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, escape, rows_table
from omnichannel.ingest.sources import create_source, list_sources, revoke
from omnichannel.opstore import open_opstore
from omnichannel.opstore.models import SourceKind

app = typer.Typer(
    help="Sources and their write keys (what SDKs authenticate with).", no_args_is_help=True
)

ACTOR = "cli"


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, stamped on every event, e.g. web-store."),
    kind: SourceKind = typer.Option(SourceKind.HTTP, "--kind", help="What sends the data."),
    description: str = typer.Option("", "--description", help="Free text for operators."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create a source and print its write key (shown only this once)."""
    with open_opstore(settings_of(ctx).resolved_opstore_url) as store, store.session() as session:
        info = create_source(
            session, name=name, kind=kind.value, description=description, actor=ACTOR
        )
    if as_json:
        emit_json(info.public())
        return
    console.print(
        f"Created source [bold]{escape(info.name)}[/] ({escape(info.kind)}). Write key, shown once:"
    )
    print(info.write_key)


@app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List sources with their keys' prefixes and whether each key is active."""
    with open_opstore(settings_of(ctx).resolved_opstore_url) as store, store.session() as session:
        infos = list_sources(session)
    if as_json:
        emit_json([info.public() for info in infos])
        return
    rows = []
    for info in infos:
        keys = ", ".join(
            f"{k.prefix}…" + ("" if k.revoked_at is None else " (revoked)") for k in info.keys
        )
        rows.append([info.name, info.kind, info.created_at.isoformat(timespec="seconds"), keys])
    console.print(rows_table(f"{len(infos)} sources", ["name", "kind", "created", "keys"], rows))


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="A source name (all its keys) or a key prefix."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Revoke write keys: every key of a source, or the one key a prefix names."""
    with open_opstore(settings_of(ctx).resolved_opstore_url) as store, store.session() as session:
        prefixes = revoke(session, target=target, actor=ACTOR)
    if as_json:
        emit_json({"revoked": prefixes})
        return
    console.print(
        f"Revoked {len(prefixes)} key(s): {escape(', '.join(prefixes)) or 'none active'}. "
        "A running server stops accepting them within OMNI_WRITE_KEY_CACHE_SECONDS."
    )
