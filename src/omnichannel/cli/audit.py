"""``omni audit list``: the audit log, newest first, with before and after."""

from __future__ import annotations

import json

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(
    help="The audit log: every change, who made it, when, before and after.",
    no_args_is_help=True,
)


@app.command("list")
def list_entries(
    ctx: typer.Context,
    target: str | None = typer.Option(None, "--target", help="TYPE or TYPE:ID (journey:cart)."),
    actor: str | None = typer.Option(None, "--actor", help="Who acted (ana@shop.example)."),
    action: str | None = typer.Option(
        None, "--action", help="journey.approve, or a prefix ending in a dot (journey.)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Audit entries, newest first: when, who, what, which object, before and after."""
    from omnichannel.cli.remote import on_installation

    filters = {"target": target, "actor": actor, "action": action}
    params = {k: v for k, v in filters.items() if v is not None}
    entries = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.access.audit(
            target=target, actor=actor, action=action, limit=limit
        ),
        remote=lambda server: server.get("/api/audit", **params, limit=limit),
    )
    if as_json:
        emit_json(entries)
        return
    rows = [
        [
            e["id"],
            e["at"],
            e["actor"],
            e["action"],
            e["target"],
            _short(e["before"]),
            _short(e["after"]),
        ]
        for e in entries
    ]
    columns = ["id", "at", "actor", "action", "target", "before", "after"]
    console.print(rows_table("Audit log", columns, rows))


def _short(value: object, limit: int = 80) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
