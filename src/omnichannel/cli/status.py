"""``omni init``, ``omni status`` and ``omni settings``: what this installation is."""

from __future__ import annotations

from typing import Any

import typer

from omnichannel import __version__
from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table
from omnichannel.config import Settings
from omnichannel.installation import describe_installation, initialise


def init(
    ctx: typer.Context,
    admin_email: str = typer.Option(
        "admin@localhost", "--admin-email", help="The first admin's email (when no user exists)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create the home directory, the warehouse tables and the operational store."""
    settings = settings_of(ctx, needs_installation=False)
    info = initialise(settings)
    info["first_admin"] = first_admin(settings, admin_email)
    if as_json:
        emit_json(info)
        return
    token = info.pop("admin_token", "")
    admin = info.pop("first_admin")
    console.print(key_value_table("Initialised", _flatten(info)))
    if admin is not None:
        console.print(
            f"First admin {admin['email']}: sign in at /login with this one-time password "
            "(shown once; you choose your own at first sign-in):",
            highlight=False,
        )
        print(admin["password"])
    else:
        console.print("users: exist already (`omni users list`)", highlight=False)
    if token.startswith("omni_admin_"):
        # On a line of its own: a table cell would cut it, and it is shown only this once.
        console.print("Admin token for the API's management and profile routes, shown once:")
        print(token)
    else:
        console.print(f"admin token: {token}", highlight=False)


def first_admin(settings: Settings, email: str) -> dict[str, Any] | None:
    """The first admin with a one-time password, when the installation has no user yet."""
    from omnichannel.access.principal import cli_actor
    from omnichannel.access.users import UsersCapability
    from omnichannel.platform import Platform

    platform = Platform(settings)
    try:
        return UsersCapability(platform).ensure_first_admin(email=email, actor=cli_actor())
    finally:
        platform.close()


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Show the warehouse (engine, schema version, rows per table) and the operational store."""
    from omnichannel.cli.remote import on_installation

    settings = settings_of(ctx)
    info = on_installation(
        settings,
        local=lambda platform: describe_installation(settings),
        remote=lambda server: server.get("/v1/warehouse/status"),
    )
    if as_json:
        emit_json(info)
        return
    console.print(key_value_table(f"Omnichannel {__version__}", _flatten(info)))


def show_settings(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List every setting, its effective value and the OMNI_* variable that sets it."""
    settings = settings_of(ctx, needs_installation=False)
    rows = settings_table(settings)
    if as_json:
        emit_json(rows)
        return
    console.print(
        key_value_table("Settings", {f"{r['name']} ({r['env']})": r["value"] for r in rows})
    )


def settings_table(settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "env": f"OMNI_{name.upper()}",
            "value": str(getattr(settings, name)),
            "description": field.description,
        }
        for name, field in Settings.model_fields.items()
    ]


def _flatten(info: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
