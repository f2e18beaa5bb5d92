"""``omni sources ...``: the places events come from, and their write keys."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, escape, rows_table
from omnichannel.errors import ValidationError
from omnichannel.ingest.sources import add_write_key, create_source, list_sources, revoke
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.models import SourceKind
from omnichannel.opstore.sealed import home_sealer

app = typer.Typer(
    help="Sources and their write keys (what SDKs authenticate with).", no_args_is_help=True
)

ACTOR = "cli"


def _open_store(ctx: typer.Context) -> OpStore:
    settings = settings_of(ctx)
    return open_opstore(settings.resolved_opstore_url, sealer=home_sealer(settings.home))


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, stamped on every event, e.g. web-store."),
    kind: SourceKind = typer.Option(SourceKind.HTTP, "--kind", help="What sends the data."),
    description: str = typer.Option("", "--description", help="Free text for operators."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create a source and print its write key (shown only this once)."""
    with _open_store(ctx) as store, store.session() as session:
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
    with _open_store(ctx) as store, store.session() as session:
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


@app.command("add-key")
def add_key(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="An existing source, e.g. web (see `omni sources list`)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Add a write key to an existing source and print it (shown only this once)."""
    with _open_store(ctx) as store, store.session() as session:
        info = add_write_key(session, name=name, actor=ACTOR)
    if as_json:
        emit_json(info.public())
        return
    active = sum(1 for k in info.keys if k.revoked_at is None)
    console.print(
        f"New write key for [bold]{escape(info.name)}[/] ({active} active), shown once. "
        "To rotate: deploy it, then `omni sources revoke OLD_PREFIX`."
    )
    print(info.write_key)


@app.command("keys")
def keys_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="An existing source, e.g. web."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List one source's write keys: prefix, created, revoked (the keys themselves are not kept)."""
    with _open_store(ctx) as store, store.session() as session:
        infos = list_sources(session)
    info = next((i for i in infos if i.name == name), None)
    if info is None:
        known = ", ".join(i.name for i in infos) or "none yet (`omni sources create NAME`)"
        raise ValidationError("source", name, f"the name of an existing source: {known}")
    if as_json:
        emit_json([k.public() for k in info.keys])
        return
    console.print(
        rows_table(
            f"{len(info.keys)} key{'' if len(info.keys) == 1 else 's'} of {info.name}",
            ["prefix", "created", "revoked", "active"],
            [
                [
                    f"{k.prefix}…",
                    k.created_at.isoformat(timespec="seconds"),
                    k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
                    "yes" if k.revoked_at is None else "no",
                ]
                for k in info.keys
            ],
        )
    )


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="A source name (all its keys) or a key prefix."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Revoke write keys: every key of a source, or the one key a prefix names."""
    with _open_store(ctx) as store, store.session() as session:
        prefixes = revoke(session, target=target, actor=ACTOR)
    if as_json:
        emit_json({"revoked": prefixes})
        return
    console.print(
        f"Revoked {len(prefixes)} key(s): {escape(', '.join(prefixes)) or 'none active'}. "
        "A running server stops accepting them within OMNI_WRITE_KEY_CACHE_SECONDS."
    )
