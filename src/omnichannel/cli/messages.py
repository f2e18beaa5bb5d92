"""``omni messages``: send (to a person, an address or a segment), test, status, list, show.

Each command is one call into ``platform.messages`` (``channels/service.py``) or, while
``omni serve`` owns the home, the same call on ``/api/messages``; both print the same.
Sending only queues: the channel workers of ``omni serve`` (or ``omni worker``) deliver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from omnichannel.access.principal import cli_actor
from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table
from omnichannel.errors import OmniError, ValidationError
from omnichannel.textfiles import read_utf8

app = typer.Typer(
    no_args_is_help=True,
    help="Messages: send through the one send path (consent, caps, quiet hours), test, track.",
)

CONTENT_HELP = (
    'The message\'s parts as JSON, e.g. \'{"subject": "Hi", "text": "..."}\' '
    "(Jinja2 templates, rendered per person)."
)
CONTENT_FILE_HELP = "The message's parts in a YAML or JSON file."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _content(text: str | None, path: Path | None) -> dict[str, Any] | None:
    """The parts given inline or in a file; errors name the option and the problem."""
    if text is not None and path is not None:
        raise ValidationError("--content", text, "either --content or --content-file, not both")
    if path is not None:
        import yaml

        try:
            loaded = yaml.safe_load(read_utf8(path))
        except OSError as exc:
            raise OmniError(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise OmniError(f"{path} is not valid YAML or JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValidationError("--content-file", str(path), "a mapping of part name to text")
        return loaded
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise ValidationError("--content", text, f"a JSON object ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValidationError("--content", text, "a JSON object of part name to text")
    return parsed


def _print_sent(answer: dict[str, Any]) -> None:
    status = "duplicate of an earlier request" if answer.get("duplicate") else answer["status"]
    rows = {
        "message": answer.get("outbox_id"),
        "status": status,
        "channel": answer.get("channel"),
        "to": answer.get("address"),
        "profile": answer.get("profile_id"),
    }
    if answer.get("reason"):
        rows["reason"] = f"{answer['reason']}: {answer.get('detail') or ''}"
    console.print(key_value_table("message", {k: v for k, v in rows.items() if v is not None}))


@app.command("send")
def send(
    ctx: typer.Context,
    channel: str = typer.Option(
        ..., "--channel", "-c", help="email, sms, push, wechat, webhook, inbox."
    ),
    to: str | None = typer.Option(None, "--to", help="The person: any identifier, type:value."),
    profile_id: str | None = typer.Option(None, "--profile-id", help="The person's profile id."),
    address: str | None = typer.Option(None, "--address", help="Send here (no person needed)."),
    segment: str | None = typer.Option(None, "--segment", help="Every current member of it."),
    template: str | None = typer.Option(None, "--template", "-t", help="A saved template."),
    content: str | None = typer.Option(None, "--content", help=CONTENT_HELP),
    content_file: Path | None = typer.Option(None, "--content-file", help=CONTENT_FILE_HELP),
    campaign: str | None = typer.Option(None, "--campaign", help="Counted per campaign."),
    kind: str | None = typer.Option(None, "--kind", help="marketing or transactional."),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: a re-run sends once."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Queue a message to a person, an address or a segment's members (checked and logged)."""
    parts = _content(content, content_file)
    if segment is not None:
        if to or profile_id or address:
            raise ValidationError("--segment", segment, "a segment alone, without --to/--address")
        body = {
            "segment": segment,
            "channel": channel,
            "template": template,
            "content": parts,
            "campaign": campaign,
            "kind": kind,
        }
        summary = _run(
            ctx,
            lambda p: p.messages.send_segment(
                segment, **{k: v for k, v in body.items() if k != "segment"}, actor=cli_actor()
            ),
            lambda server: server.post("/api/messages/segment", json=body),
        )
        if as_json:
            emit_json(summary)
            return
        if summary.get("pending_approval"):
            console.print(
                f"Segment {segment} has {summary['members']:,} members, more than "
                f"OMNI_LARGE_SEND_THRESHOLD ({summary['threshold']:,}): nothing was sent. "
                f"Large send {summary['send_id']} waits for an approver "
                f"(omni messages approve {summary['send_id']} --actor APPROVER).",
                highlight=False,
            )
            return
        rows = {
            "members": summary["members"],
            **{f"{k}": v for k, v in summary["by_status"].items()},
        }
        rows.update({f"  {k}": v for k, v in summary["by_reason"].items()})
        console.print(key_value_table(f"sent to segment {segment} on {channel}", rows))
        for error in summary["errors"]:
            console.print(f"error: {error}", highlight=False)
        return
    request = {
        "channel": channel,
        "identifier": to,
        "profile_id": profile_id,
        "address": address,
        "template": template,
        "content": parts,
        "campaign": campaign,
        "kind": kind,
        "idempotency_key": key,
        "origin": "cli",
    }
    request = {k: v for k, v in request.items() if v is not None}
    answer = _run(
        ctx,
        lambda p: p.messages.send(request),
        lambda server: server.post("/api/messages", json=request),
    )
    emit_json(answer) if as_json else _print_sent(answer)


@app.command("test")
def test(
    ctx: typer.Context,
    channel: str = typer.Option(..., "--channel", "-c", help="The channel to test."),
    address: str = typer.Option(..., "--address", help="One of test_recipients in channels.yaml."),
    template: str | None = typer.Option(None, "--template", "-t", help="A saved template."),
    version: int | None = typer.Option(None, "--version", help="That version of the template."),
    content: str | None = typer.Option(None, "--content", help=CONTENT_HELP),
    content_file: Path | None = typer.Option(None, "--content-file", help=CONTENT_FILE_HELP),
    to: str | None = typer.Option(None, "--as", help="Render for this person (type:value)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """A test send to an allow-listed address, rendered for a real person if you name one."""
    body = {
        "channel": channel,
        "address": address,
        "template": template,
        "version": version,
        "content": _content(content, content_file),
        "identifier": to,
    }
    answer = _run(
        ctx,
        lambda p: p.messages.test(**body),
        lambda server: server.post("/api/messages/test", json=body),
    )
    emit_json(answer) if as_json else _print_sent(answer)


@app.command("status")
def status(
    ctx: typer.Context,
    campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign's."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Messages per channel and status, and why they were held, dropped or failed."""
    data = _run(
        ctx,
        lambda p: p.messages.status(campaign=campaign),
        lambda server: server.get(
            "/api/messages/status", **({"campaign": campaign} if campaign else {})
        ),
    )
    if as_json:
        emit_json(data)
        return
    statuses = ("queued", "held", "sending", "sent", "failed", "dropped")
    rows = [
        [name, *(entry["by_status"].get(s, 0) for s in statuses)]
        for name, entry in sorted(data["channels"].items())
    ]
    title = f"messages{' of campaign ' + campaign if campaign else ''}"
    console.print(rows_table(title, ["channel", *statuses], rows))
    reasons = [
        [name, key, count]
        for name, entry in sorted(data["channels"].items())
        for key, count in sorted(entry["by_reason"].items())
    ]
    if reasons:
        console.print(rows_table("why", ["channel", "status:reason", "messages"], reasons))


@app.command("list")
def list_messages(
    ctx: typer.Context,
    channel: str | None = typer.Option(None, "--channel", "-c"),
    status: str | None = typer.Option(
        None, "--status", help="queued, held, sending, sent, failed, dropped."
    ),
    campaign: str | None = typer.Option(None, "--campaign"),
    profile_id: str | None = typer.Option(None, "--profile-id"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Messages, newest first."""
    filters = {"channel": channel, "status": status, "campaign": campaign, "profile_id": profile_id}
    filters = {k: v for k, v in filters.items() if v is not None}
    rows = _run(
        ctx,
        lambda p: p.messages.list(**filters, limit=limit),
        lambda server: server.get("/api/messages", **filters, limit=limit),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            f"{len(rows)} message{'' if len(rows) == 1 else 's'}",
            ["id", "channel", "to", "status", "reason", "attempts", "campaign", "created"],
            [
                [
                    r["id"],
                    r["channel"],
                    r["address"],
                    r["status"],
                    r["reason"] or "",
                    r["attempts"],
                    r["campaign"] or "",
                    (r["created_at"] or "")[:19],
                ]
                for r in rows
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    outbox_id: int = typer.Argument(..., help="The message's id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One message: its state, the provider's last answer, and its delivery log."""
    data = _run(
        ctx,
        lambda p: p.messages.get(outbox_id),
        lambda server: server.get(f"/api/messages/{outbox_id}"),
    )
    if as_json:
        emit_json(data)
        return
    keys = (
        "channel",
        "address",
        "profile_id",
        "template",
        "campaign",
        "status",
        "reason",
        "reason_detail",
        "attempts",
        "next_attempt_at",
        "provider_message_id",
        "provider_response",
        "created_at",
        "sent_at",
    )
    console.print(
        key_value_table(f"message {outbox_id}", {k: data[k] for k in keys if data[k] is not None})
    )
    console.print(
        rows_table(
            "delivery log",
            ["at", "status", "attempt", "reason", "detail"],
            [
                [
                    str(h["at"])[:23],
                    h["status"],
                    h["attempt"] or "",
                    h["reason"] or "",
                    h["error"] or "",
                ]
                for h in data.get("history") or []
            ],
        )
    )


SEND_COLUMNS = ["id", "status", "segment", "channel", "template", "campaign", "audience", "by"]


def _send_row(r: dict[str, Any]) -> list[Any]:
    return [
        r["id"],
        r["status"],
        r["segment"],
        r["channel"],
        r["template"] or "",
        r["campaign"] or "",
        r["audience"],
        r["requested_by"] + (f" / {r['decided_by']}" if r["decided_by"] else ""),
    ]


@app.command("sends")
def sends(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="pending_approval, sending, sent or rejected."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Large sends (above OMNI_LARGE_SEND_THRESHOLD people), newest first."""
    params = {"status": status} if status else {}
    rows = _run(
        ctx,
        lambda p: p.messages.sends(**params),
        lambda server: server.get("/api/messages/sends", **params),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(rows_table("large sends", SEND_COLUMNS, [_send_row(r) for r in rows]))


def _decide(ctx: typer.Context, verb: str, send_id: int, actor: str | None, note: str) -> Any:
    who = actor or cli_actor()
    body = {"note": note, "actor": who}
    return _run(
        ctx,
        lambda p: getattr(p.messages, f"{verb}_send")(send_id, actor=who, note=note),
        lambda server: server.post(f"/api/messages/sends/{send_id}/{verb}", json=body),
    )


ACTOR_HELP = (
    "Who decides (the audit log's actor): once users exist, an approver's or admin's email "
    "other than the send's author."
)


@app.command("approve")
def approve(
    ctx: typer.Context,
    send_id: int = typer.Argument(..., help="The large send's id (omni messages sends)."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    note: str = typer.Option("", "--note", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Approve a large send someone else asked for; it is sent at once."""
    row = _decide(ctx, "approve", send_id, actor, note)
    if as_json:
        emit_json(row)
        return
    console.print(rows_table("large send", SEND_COLUMNS, [_send_row(row)]))
    result = row.get("result") or {}
    console.print(key_value_table("sent", dict(result.get("by_status", {}))))


@app.command("reject")
def reject(
    ctx: typer.Context,
    send_id: int = typer.Argument(..., help="The large send's id (omni messages sends)."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    note: str = typer.Option("", "--note", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """End a pending large send unsent."""
    row = _decide(ctx, "reject", send_id, actor, note)
    if as_json:
        emit_json(row)
        return
    console.print(rows_table("large send", SEND_COLUMNS, [_send_row(row)]))


@app.command("log")
def delivery_log(
    ctx: typer.Context,
    channel: str | None = typer.Option(None, "--channel", "-c"),
    status: str | None = typer.Option(
        None, "--status", help="A step: queued, sent, delivered, opened, clicked, failed..."
    ),
    campaign: str | None = typer.Option(None, "--campaign"),
    journey: str | None = typer.Option(None, "--journey", help="A journey's name or id."),
    profile_id: str | None = typer.Option(None, "--profile-id"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The delivery log (every step of every message), newest first."""
    filters = {
        "channel": channel,
        "status": status,
        "campaign": campaign,
        "journey": journey,
        "profile_id": profile_id,
    }
    filters = {k: v for k, v in filters.items() if v is not None}
    page = _run(
        ctx,
        lambda p: p.messages.deliveries(**filters, limit=limit, offset=offset),
        lambda server: server.get("/api/messages/log", **filters, limit=limit, offset=offset),
    )
    if as_json:
        emit_json(page)
        return
    columns = ["at", "message", "step", "channel", "to", "campaign", "reason"]
    rows = [
        [
            str(r["at"] or "")[:19],
            r["outbox_id"],
            r["status"],
            r["channel"],
            r["recipient"] or "",
            r["campaign_id"] or "",
            r["reason"] or "",
        ]
        for r in page["rows"]
    ]
    shown = f"{offset + 1}-{offset + len(rows)}" if rows else "none"
    console.print(rows_table(f"delivery log: {shown} of {page['total']:,}", columns, rows))
