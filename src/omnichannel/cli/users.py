"""``omni users``: accounts, roles, passwords and API tokens (``platform.users``).

Each command runs on the installation, or through the ``omni serve`` that owns it (its
``/api/users`` routes, with the server's local admin token); changes are audited as
``cli:<login>``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table

app = typer.Typer(
    help="Users, their roles and API tokens: create, list, disable, enable, role, password.",
    no_args_is_help=True,
)
token_app = typer.Typer(help="API tokens for programs: create (shown once), list, revoke.")
app.add_typer(token_app, name="token")

ROLE_HELP = "admin, marketer, analyst, approver, viewer or service_desk (docs/access.md)."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.access.principal import cli_actor
    from omnichannel.cli.remote import on_installation

    actor = cli_actor()
    return on_installation(
        settings_of(ctx),
        local=lambda platform: local(platform, actor),
        remote=remote,
    )


def _u(email: str) -> str:
    return quote(email.strip(), safe="")


def _show_user(user: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        emit_json(user)
        return
    password = user.pop("password", None)
    console.print(key_value_table(title, user))
    if password:
        console.print("One-time password, shown once (to be changed at first sign-in):")
        print(password)


@app.command("create")
def create(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The user's email: what they sign in with."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    name: str = typer.Option("", "--name", help="Their name, as pages show it."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create a user with a one-time password (printed once; changed at first sign-in)."""
    made = _run(
        ctx,
        lambda platform, actor: platform.users.create(email, role=role, name=name, actor=actor),
        lambda server: server.post("/api/users", json={"email": email, "role": role, "name": name}),
    )
    _show_user(made, as_json, f"User {made['email']}")


@app.command("list")
def list_users(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every user: role, active, last sign-in."""
    users = _run(ctx, lambda platform, _: platform.users.list(), lambda s: s.get("/api/users"))
    if as_json:
        emit_json(users)
        return
    columns = ["email", "name", "role", "active", "must_change_password", "last_login_at"]
    console.print(rows_table("Users", columns, [[u[c] for c in columns] for u in users]))


def _change(ctx: typer.Context, email: str, verb: str, as_json: bool, **body: Any) -> None:
    method = {"disable": "disable", "enable": "enable", "role": "set_role"}[verb]

    def local(platform: Any, actor: str) -> Any:
        call = getattr(platform.users, method)
        return call(email, *body.values(), actor=actor)

    done = _run(
        ctx, local, lambda server: server.post(f"/api/users/{_u(email)}/{verb}", json=body or None)
    )
    _show_user(done, as_json, f"User {done['email']}")


@app.command("disable")
def disable(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Disable a user: no sign-in; their sessions end and their API tokens stop working."""
    _change(ctx, email, "disable", as_json)


@app.command("enable")
def enable(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Enable a disabled user again."""
    _change(ctx, email, "enable", as_json)


@app.command("role")
def role(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    new_role: str = typer.Argument(..., metavar="ROLE", help=ROLE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Change a user's role (the last active admin cannot lose it)."""
    _change(ctx, email, "role", as_json, role=new_role)


@app.command("password")
def password(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Reset a password to a one-time one (printed once); their sessions end."""
    done = _run(
        ctx,
        lambda platform, actor: platform.users.set_password(email, actor=actor),
        lambda server: server.post(f"/api/users/{_u(email)}/password"),
    )
    _show_user(done, as_json, f"User {done['email']}")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The user the program acts as."),
    name: str = typer.Option(..., "--name", help="What it is for, e.g. reports."),
    scope: str | None = typer.Option(
        None, "--role", help="Its role: the user's own by default, never wider. " + ROLE_HELP
    ),
    expires_days: int | None = typer.Option(None, "--expires-days", help="Days it works."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create an API token (printed once; send it as `Authorization: Bearer <token>`)."""
    body = {"name": name, "role": scope, "expires_days": expires_days}
    made = _run(
        ctx,
        lambda platform, actor: platform.users.create_token(email, actor=actor, **body),
        lambda server: server.post(f"/api/users/{_u(email)}/tokens", json=body),
    )
    if as_json:
        emit_json(made)
        return
    plain = made.pop("token")
    console.print(key_value_table(f"API token {made['prefix']}...", made))
    console.print("The token, shown once:")
    print(plain)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    email: str | None = typer.Argument(None, help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """API tokens: prefix, user, role, created, last used, revoked (never the tokens)."""
    path = f"/api/users/{_u(email)}/tokens" if email else "/api/tokens"
    tokens = _run(ctx, lambda platform, _: platform.users.list_tokens(email), lambda s: s.get(path))
    if as_json:
        emit_json(tokens)
        return
    columns = ["id", "prefix", "user", "name", "role", "created_at", "last_used_at", "revoked_at"]
    console.print(rows_table("API tokens", columns, [[t[c] for c in columns] for t in tokens]))


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: int = typer.Argument(..., help="The token's id (`omni users token list`)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Revoke an API token: it stops working (within OMNI_WRITE_KEY_CACHE_SECONDS)."""
    done = _run(
        ctx,
        lambda platform, actor: platform.users.revoke_token(token_id, actor=actor),
        lambda server: server.post(f"/api/tokens/{token_id}/revoke"),
    )
    if as_json:
        emit_json(done)
        return
    console.print(key_value_table(f"API token {done['prefix']}... revoked", done))
