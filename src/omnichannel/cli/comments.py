"""``omni comments add|list|edit|notifications``: the discussion on a segment, journey or
report, through ``platform.collaboration`` (or ``/api/comments`` while ``omni serve`` runs).

The CLI comments as ``cli:<login>`` unless ``--as`` names a user (then @mentions of
that user's own name are not notified back to them).
"""

from __future__ import annotations

from typing import Any

import typer

from omnichannel.access.principal import cli_actor
from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(
    help="Comments with @mentions on segments, journeys and reports; your notifications.",
    no_args_is_help=True,
)

SUBJECT_HELP = "KIND:ID with KIND segment, journey or report (segment:lapsing)."
AS_HELP = "Write as this user (their email); default cli:<your login>."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _print(rows: list[dict[str, Any]], title: str) -> None:
    table = [
        [
            r["id"],
            r["created_at"][:19],
            r["author"],
            r["body"] + (" (edited)" if r["edited_at"] else ""),
            ", ".join(r["mentions"]),
        ]
        for r in rows
    ]
    console.print(rows_table(title, ["id", "at", "author", "comment", "mentions"], table))


@app.command("add")
def add(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help=SUBJECT_HELP),
    body: str = typer.Argument(..., help="The text; @email or @name mentions a user."),
    author: str | None = typer.Option(None, "--as", help=AS_HELP),
    email: bool = typer.Option(
        False, "--email", help="Also email each user mentioned (when email is enabled)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Comment on a segment, journey or report; each user @mentioned is notified."""
    who = author or cli_actor()
    payload = {"subject": subject, "body": body, "author": who, "email": email}
    added = _run(
        ctx,
        lambda p: p.collaboration.add(subject, body, author=who, email=email),
        lambda server: server.post("/api/comments", json=payload),
    )
    if as_json:
        emit_json(added)
        return
    _print([added], f"comment {added['id']} on {added['subject']}")


@app.command("list")
def list_comments(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help=SUBJECT_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The comments on a segment, journey or report, oldest first."""
    rows = _run(
        ctx,
        lambda p: p.collaboration.comments(subject),
        lambda server: server.get("/api/comments", subject=subject),
    )
    if as_json:
        emit_json(rows)
        return
    _print(rows, f"{len(rows)} comment{'' if len(rows) == 1 else 's'} on {subject}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    comment_id: int = typer.Argument(..., help="The comment's id (omni comments list)."),
    body: str = typer.Argument(..., help="The new text (the earlier one is kept)."),
    author: str | None = typer.Option(None, "--as", help=AS_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Change one's own comment; users newly @mentioned are notified."""
    who = author or cli_actor()
    edited = _run(
        ctx,
        lambda p: p.collaboration.edit(comment_id, body, actor=who),
        lambda server: server.request(
            "PATCH", f"/api/comments/{comment_id}", json={"body": body, "author": who}
        ).json(),
    )
    if as_json:
        emit_json(edited)
        return
    _print([edited], f"comment {edited['id']} on {edited['subject']}")


@app.command("notifications")
def notifications(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Whose notifications (an email)."),
    unread: bool = typer.Option(False, "--unread", help="Only those not read yet."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """A user's notifications (mentions of them), newest first."""
    rows = _run(
        ctx,
        lambda p: p.collaboration.notifications(user, unread=unread),
        lambda server: server.get("/api/notifications", user=user, unread=unread or None),
    )
    if as_json:
        emit_json(rows)
        return
    table = [
        [r["id"], r["created_at"][:19], r["actor"], r["subject"], r["text"], r["read_at"] or ""]
        for r in rows
    ]
    columns = ["id", "at", "from", "on", "text", "read"]
    console.print(rows_table(f"notifications of {user}", columns, table))
