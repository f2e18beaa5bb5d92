"""``omni channels``: health (status), the configuration (check) and the suppression list.

``status`` and the suppression commands go through ``omni serve`` while it owns the home
(``/api/channels``, ``/api/suppressions``); ``check`` only reads a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table

app = typer.Typer(
    no_args_is_help=True,
    help="Channels: each one's health, channels.yaml checked, the suppression list.",
)
ACTOR = "cli"


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


@app.command("status")
def status(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Per channel: queue depth, worker, breaker state, error rate, last provider error."""
    rows = _run(
        ctx,
        lambda p: p.channels.status(),
        lambda server: server.get("/api/channels"),
    )
    if as_json:
        emit_json(rows)
        return
    columns = ["channel", "enabled", "worker", "queued", "held", "sending", "breaker", "errors"]
    table = []
    for r in rows:
        rate = r["error_rate"]
        table.append(
            [
                r["channel"],
                "yes" if r["enabled"] else "no",
                r["worker"],
                r["queued"],
                r["held"],
                r["sending"],
                r["breaker"] or "-",
                "-" if rate is None else f"{rate:.1%}",
            ]
        )
    console.print(rows_table("channels", columns, table))
    for r in rows:
        if r["last_error"]:
            console.print(f"{r['channel']}: last error: {r['last_error']}", highlight=False)


@app.command("health")
def health(
    ctx: typer.Context,
    hours: float = typer.Option(24.0, "--hours", help="The recent counts' window."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Per channel: breaker, queue depth and lag, suppressions, and the last hours' steps."""
    rows = _run(
        ctx,
        lambda p: p.channels.health(hours=hours),
        lambda server: server.get("/api/channels/health", hours=hours),
    )
    if as_json:
        emit_json(rows)
        return
    columns = ["channel", "worker", "breaker", "waiting", "lag s", "suppressed"]
    steps = ["sent", "delivered", "failed", "bounced", "dropped"]
    table = [
        [
            r["channel"],
            r["worker"],
            r["breaker"] or "-",
            r["queue_depth"],
            r["lag_seconds"],
            r["suppressions"],
            *(r["recent"].get(s, 0) for s in steps),
        ]
        for r in rows
    ]
    console.print(rows_table(f"channels (steps in the last {hours:g} h)", columns + steps, table))


@app.command("check")
def check(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, help="The file (default: <home>/channels.yaml)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Check a channels.yaml (every section, ${ENV} secrets set); print it, secrets hidden."""
    from omnichannel.channels.settings import FILE_NAME, load_channels_config
    from omnichannel.errors import ConfigError

    settings = settings_of(ctx, needs_installation=False)
    path = file or settings.home / FILE_NAME
    if not path.exists():
        raise ConfigError(f"no {path}: write one (see docs/channels.md) or name a file")
    config = load_channels_config(path)
    document = config.redacted()
    if as_json:
        emit_json(document)
        return
    caps = [f"{c.describe()} (every channel)" for c in config.caps.marketing]
    caps += [f"{c.describe()} ({name})" for name, cs in config.caps.channels.items() for c in cs]
    quiet = config.quiet_hours
    summary = {
        "file": str(path),
        "channels": ", ".join(config.configured()) or "none",
        "enabled": ", ".join(config.enabled()) or "none",
        "public_base_url": config.public_base_url,
        "caps (marketing)": "; ".join(caps) or "none",
        "quiet hours": f"{quiet.start:%H:%M}-{quiet.end:%H:%M} ({quiet.timezone})"
        if quiet.start and quiet.end
        else "none",
        "opt-in required": ", ".join(config.consent.require_opt_in) or "none",
        "test recipients": "; ".join(
            f"{name}: {', '.join(addrs)}" for name, addrs in config.test_recipients.items()
        )
        or "none",
        "secrets from the environment": ", ".join(sorted(config.secret_paths)) or "none",
    }
    console.print(key_value_table("channels.yaml is valid", summary))


@app.command("suppress")
def suppress(
    ctx: typer.Context,
    channel: str = typer.Argument(..., help="The channel (email, sms, ...)."),
    address: str = typer.Argument(..., help="The address never to send to on it."),
    reason: str = typer.Option("manual", "--reason", help="hard_bounce, complaint, manual..."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Add an address to a channel's suppression list."""

    def local(platform: Any) -> dict[str, Any]:
        from omnichannel.channels import suppressions

        with platform.opstore.session() as session:
            row = suppressions.add_suppression(
                session, channel=channel, address=address, reason=reason, source="cli", actor=ACTOR
            )
            return suppressions.public(row)

    body = {"channel": channel, "address": address, "reason": reason, "source": "cli"}
    row = _run(ctx, local, lambda server: server.post("/api/suppressions", json=body))
    if as_json:
        emit_json(row)
    else:
        console.print(f"suppressed {row['address']} on {row['channel']} ({row['reason']})")


@app.command("unsuppress")
def unsuppress(
    ctx: typer.Context,
    channel: str = typer.Argument(...),
    address: str = typer.Argument(...),
) -> None:
    """Lift a suppression."""

    def local(platform: Any) -> None:
        from omnichannel.channels import suppressions

        with platform.opstore.session() as session:
            suppressions.remove_suppression(session, channel=channel, address=address, actor=ACTOR)

    _run(
        ctx,
        local,
        lambda server: server.request("DELETE", f"/api/suppressions/{channel}/{address}"),
    )
    console.print(f"{address} may receive {channel} messages again")


@app.command("suppressions")
def list_suppressions(
    ctx: typer.Context,
    channel: str | None = typer.Option(None, "--channel", "-c"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Suppressed addresses, newest first."""

    def local(platform: Any) -> list[dict[str, Any]]:
        from omnichannel.channels import suppressions

        with platform.opstore.session() as session:
            rows = suppressions.list_suppressions(session, channel=channel, limit=limit)
            return [suppressions.public(r) for r in rows]

    params = {"limit": limit, **({"channel": channel} if channel else {})}
    rows = _run(ctx, local, lambda server: server.get("/api/suppressions", **params))
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            f"{len(rows)} suppressed",
            ["channel", "address", "reason", "source", "since"],
            [
                [r["channel"], r["address"], r["reason"], r["source"], (r["created_at"] or "")[:19]]
                for r in rows
            ],
        )
    )
