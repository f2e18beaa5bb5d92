"""``omni admin token``: replace the admin token the management and profile API routes need."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json

app = typer.Typer(
    help="Administration: the admin token of the HTTP API's management and profile routes.",
    no_args_is_help=True,
)

ACTOR = "cli"


@app.command("token")
def token(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Make a new admin token and print it (shown only this once); the old ones stop working."""
    from omnichannel.opstore import open_opstore
    from omnichannel.opstore.admin_tokens import rotate_admin_token
    from omnichannel.opstore.sealed import home_sealer

    settings = settings_of(ctx)
    with (
        open_opstore(settings.resolved_opstore_url, sealer=home_sealer(settings.home)) as store,
        store.session() as session,
    ):
        plain = rotate_admin_token(session, actor=ACTOR)
    if as_json:
        emit_json({"admin_token": plain})
        return
    console.print(
        "New admin token, shown once (send it as `Authorization: Bearer <token>`; a running "
        f"server stops accepting the old one within {settings.write_key_cache_seconds:g} s):"
    )
    print(plain)
