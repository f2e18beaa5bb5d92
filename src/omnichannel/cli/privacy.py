"""``omni privacy export|erase|requests|request|compact``: data-subject requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(
    help="Data-subject requests: export or erase one person, deadlines, the suppression list.",
    no_args_is_help=True,
)

PERSON_HELP = "TYPE:VALUE (email:ann@x.com, phone:+86..., user_id:u1) or profile:ID."
REGULATION_HELP = "gdpr or pipl (default: OMNI_PRIVACY_REGULATION)."


@app.command("requests")
def list_requests(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="open, overdue, done or failed."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Requests with their legal deadline, newest first."""
    from omnichannel.cli.remote import on_installation

    rows: list[dict[str, Any]] = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.privacy.requests(status=status),
        remote=lambda server: server.get("/api/privacy/requests", status=status),
    )
    if as_json:
        emit_json(rows)
        return
    columns = ["id", "kind", "regulation", "status", "received_at", "due_at", "days_left"]
    console.print(
        rows_table("Data-subject requests", columns, [[r[c] for c in columns] for r in rows])
    )


@app.command("request")
def open_request(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="export or erasure."),
    person: str = typer.Argument(..., help=PERSON_HELP),
    regulation: str | None = typer.Option(None, "--regulation", help=REGULATION_HELP),
    note: str = typer.Option("", "--note", help="How it arrived (email, letter...)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Log a request as received today; prints its deadline."""
    from omnichannel.cli.remote import on_installation

    body = {"kind": kind, "person": person, "regulation": regulation, "note": note}
    request = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.privacy.open_request(
            kind, person, requested_by="cli", regulation=regulation, note=note
        ),
        remote=lambda server: server.post("/api/privacy/requests", json=body),
    )
    if as_json:
        emit_json(request)
        return
    console.print(
        f"Request {request['id']} ({request['kind']}, {request['regulation']}): "
        f"due {request['due_at']}"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    person: str = typer.Argument(..., help=PERSON_HELP),
    out: Path | None = typer.Option(None, "--out", help="The zip to write (default: in the home)."),
    request_id: int | None = typer.Option(None, "--request", help="A request logged earlier."),
    regulation: str | None = typer.Option(None, "--regulation", help=REGULATION_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Everything held about one person, as a zip of JSON files with a manifest."""
    from omnichannel.cli.remote import on_installation

    body = {"person": person, "request_id": request_id, "regulation": regulation}
    result = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.privacy.export(
            person, requested_by="cli", out=out, request_id=request_id, regulation=regulation
        ),
        remote=None
        if out is not None
        else lambda server: server.post("/api/privacy/export", json=body),
    )
    if as_json:
        emit_json(result)
        return
    files = result["manifest"]["files"]
    console.print(
        f"Wrote {result['archive']}: {len(files)} files (request {result['request']['id']})."
    )


@app.command("erase")
def erase(
    ctx: typer.Context,
    person: str = typer.Argument(..., help=PERSON_HELP),
    yes: bool = typer.Option(False, "--yes", help="Confirm: erasure cannot be undone."),
    request_id: int | None = typer.Option(None, "--request", help="A request logged earlier."),
    regulation: str | None = typer.Option(None, "--regulation", help=REGULATION_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Erase one person from both stores, the event log and every file; print the receipt."""
    from omnichannel.cli.remote import on_installation
    from omnichannel.errors import ValidationError

    if not yes:
        raise ValidationError("--yes", False, "--yes: erasure cannot be undone")
    body = {"person": person, "request_id": request_id, "regulation": regulation, "confirm": True}
    result = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.privacy.erase(
            person, requested_by="cli", request_id=request_id, regulation=regulation
        ),
        remote=lambda server: server.post("/api/privacy/erase", json=body),
    )
    if as_json:
        emit_json(result)
        return
    summary = result["receipt"]["summary"]
    console.print(
        f"Erasure request {result['request']['id']} done: "
        + ", ".join(f"{k} {v}" for k, v in summary.items())
    )
    console.print(f"Warehouse file: {result['receipt']['warehouse_file']}")


@app.command("compact")
def compact(ctx: typer.Context) -> None:
    """Rewrite the DuckDB warehouse without erased rows' bytes (needs the server stopped)."""
    from omnichannel.cli.remote import on_installation

    done = on_installation(
        settings_of(ctx), local=lambda platform: platform.privacy.compact(), remote=None
    )
    console.print(done)


@app.command("keys")
def keys(
    ctx: typer.Context,
    rotate: bool = typer.Option(False, "--rotate", help="Make a new data key the active one."),
    master: bool = typer.Option(
        False, "--rotate-master", help="Replace the master key file; re-wrap the data keys."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The keyring personal data is sealed with; rotate a data key or the master key."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Any) -> dict[str, Any]:
        if rotate or master:
            return dict(platform.privacy.rotate_keys(actor="cli", master=master))
        return dict(platform.privacy.keys_status())

    def remote(server: Any) -> dict[str, Any]:
        if rotate or master:
            return dict(server.post("/api/privacy/keys/rotate", json={"master": master}))
        return dict(server.get("/api/privacy/keys"))

    status = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(status)
        return
    console.print(
        f"{status['keyring']}: master key {status['master_fingerprint']}, active data key "
        f"{status['active']}"
    )
    console.print(
        rows_table(
            "Data keys",
            ["id", "created", "active"],
            [[k["id"], k["created"][:19], k["active"]] for k in status["data_keys"]],
        )
    )
