"""``omni consent show|history|record|import``: the consent ledger (docs/privacy.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(
    help="Consent ledger: lawful basis and consent per purpose and channel, with history.",
    no_args_is_help=True,
)

PERSON_HELP = "TYPE:VALUE (email:ann@x.com, user_id:u1) or profile:ID."
ACTOR = "cli"


def _path(person: str) -> str:
    return "/api/consent/" + quote(person, safe=":@+")


@app.command("show")
def show(
    ctx: typer.Context,
    person: str = typer.Argument(..., help=PERSON_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The consent in force for one person, per purpose and channel."""
    from omnichannel.cli.remote import on_installation

    shown: dict[str, Any] = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.consent.show(person),
        remote=lambda server: server.get(_path(person)),
    )
    if as_json:
        emit_json(shown)
        return
    console.print(f"{person}: profile {shown['profile_id'] or '(none)'}")
    _print(f"In force ({shown['decisions']} decisions)", shown["current"])


@app.command("history")
def history(
    ctx: typer.Context,
    person: str = typer.Argument(..., help=PERSON_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Every decision that counts for one person, oldest first: who, when, where, why."""
    from omnichannel.cli.remote import on_installation

    rows: list[dict[str, Any]] = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.consent.history(person),
        remote=lambda server: server.get(_path(person) + "/history"),
    )
    if as_json:
        emit_json(rows)
        return
    _print(f"Consent history of {person}", rows)


@app.command("record")
def record(
    ctx: typer.Context,
    person: str = typer.Argument(..., help=PERSON_HELP),
    purpose: str = typer.Option(..., "--purpose", help="marketing, analytics, profiling, ..."),
    status: str = typer.Option(..., "--status", help="granted, denied, withdrawn, unsubscribed."),
    channel: str = typer.Option("*", "--channel", help="email, sms, push, wechat, web, or *."),
    lawful_basis: str = typer.Option("consent", "--basis", help="consent, contract, ..."),
    source: str = typer.Option("cli", "--source", help="Where it was captured (a form...)."),
    text_version: str = typer.Option("", "--text-version", help="The consent text's version."),
    evidence: str = typer.Option("{}", "--evidence", help="A JSON object of proof."),
    actor: str = typer.Option(ACTOR, "--actor", help="Who records it (the audit log's name)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Record one consent decision (audited; a marketing one changes what may be sent)."""
    from omnichannel.cli.remote import on_installation
    from omnichannel.errors import ValidationError

    try:
        proof = json.loads(evidence)
    except ValueError:
        raise ValidationError("--evidence", evidence, "a JSON object") from None
    body = {
        "person": person,
        "purpose": purpose,
        "status": status,
        "channel": channel,
        "lawful_basis": lawful_basis,
        "source": source,
        "text_version": text_version,
        "evidence": proof,
    }
    entry = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.consent.record(
            person,
            purpose=purpose,
            status=status,
            channel=channel,
            lawful_basis=lawful_basis,
            source=source,
            actor=actor,
            evidence=proof,
            text_version=text_version,
        ),
        remote=lambda server: server.post("/api/consent", json=body),
    )
    if as_json:
        emit_json(entry)
        return
    _print("Recorded", [entry])


@app.command("import")
def import_file(
    ctx: typer.Context,
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A CSV of decisions."),
    source: str = typer.Option("import", "--source", help="Where the file comes from."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Record every row of a CSV (identifier, purpose, channel, status[, lawful_basis, at,
    source, text_version, evidence]); all rows or none."""
    from omnichannel.cli.remote import on_installation

    result = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.consent.import_file(path, source=source, actor=ACTOR),
        remote=None,
    )
    if as_json:
        emit_json(result)
        return
    console.print(f"Recorded {result['recorded']} decisions from {path}.")


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    columns = ["at", "subject", "purpose", "channel", "status", "lawful_basis", "source", "actor"]
    console.print(rows_table(title, columns, [[r.get(c) for c in columns] for r in rows]))
