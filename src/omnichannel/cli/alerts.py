"""``omni alerts``: alert rules, checking them now, the alerts they opened, acknowledging.

Each command calls ``platform.alerts`` (or, while ``omni serve`` owns the home,
``/api/alerts...``); the ``alerts`` job of ``omni serve`` runs ``check`` on its schedule.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Alerts: rules on KPIs, silent tracking, spend without conversions, funnel drops.",
)


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation
    from omnichannel.jsonable import jsonable

    return jsonable(on_installation(settings_of(ctx), local=local, remote=remote))


def _print_alerts(title: str, alerts: list[dict[str, Any]]) -> None:
    console.print(
        rows_table(
            title,
            ["id", "rule", "subject", "state", "value", "range", "opened", "ack", "message"],
            [
                [
                    a["id"],
                    a["rule"],
                    a["subject"],
                    a["state"],
                    "-" if a["value"] is None else f"{a['value']:.6g}",
                    f"{'-' if a['low'] is None else format(a['low'], '.6g')} .. "
                    f"{'-' if a['high'] is None else format(a['high'], '.6g')}",
                    str(a["opened_at"])[:19],
                    a["acknowledged_by"] or "",
                    a["message"],
                ]
                for a in alerts
            ],
        )
    )


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help="open or resolved (default: both)."),
    rule: str | None = typer.Option(None, "--rule", help="Only this rule's alerts."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Alerts, newest first: what went out of range, its value and its normal range."""

    def local(platform: Platform) -> Any:
        return platform.alerts.list(state=state, rule=rule, limit=limit)

    def remote(server: ServerClient) -> Any:
        params: dict[str, Any] = {"limit": limit}
        params.update({k: v for k, v in (("state", state), ("rule", rule)) if v})
        return server.get("/api/alerts", **params)

    alerts = _run(ctx, local, remote)
    if as_json:
        emit_json(alerts)
        return
    _print_alerts("alerts", alerts)


@app.command("rules")
def rules(
    ctx: typer.Context,
    save: Path | None = typer.Option(
        None, "--save", help="Store the rules of this YAML or JSON document (by name)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="With --save: drop stored rules the document does not name."
    ),
    delete: str | None = typer.Option(None, "--delete", help="Delete the rule of this name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Show the stored alert rules, or store (--save FILE) or delete (--delete NAME) them."""
    text = None
    if save is not None:
        try:
            text = save.read_text(encoding="utf-8")
        except OSError as exc:
            from omnichannel.errors import OmniError

            raise OmniError(f"cannot read {save}: {exc.strerror or exc}") from None

    def local(platform: Platform) -> Any:
        if delete is not None:
            platform.alerts.delete_rule(delete, actor="cli")
        if text is not None:
            return platform.alerts.save_rules(text, actor="cli", replace=replace)
        return platform.alerts.rules()

    def remote(server: ServerClient) -> Any:
        if delete is not None:
            server.request("DELETE", f"/api/alerts/rules/{delete}")
        if text is not None:
            return server.request(
                "PUT", "/api/alerts/rules", params={"replace": replace}, json={"document": text}
            )
        return server.get("/api/alerts/rules")

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            "alert rules",
            ["name", "kind", "enabled", "settings"],
            [
                [
                    r["name"],
                    r["kind"],
                    "yes" if r["enabled"] else "no",
                    ", ".join(
                        f"{k}={v}"
                        for k, v in r.items()
                        if k not in ("name", "kind", "enabled", "updated_at", "notify")
                    ),
                ]
                for r in result["rules"]
            ],
        )
    )
    notify = result["notify"]
    console.print(
        f"notify: webhook {', '.join(notify['webhook']) or '-'}; "
        f"email {', '.join(notify['email']) or '-'}",
        markup=False,
        highlight=False,
    )


@app.command("check")
def check(
    ctx: typer.Context,
    as_of: datetime | None = typer.Option(None, "--as-of", help="Judge as at this time (UTC)."),
    rule: list[str] | None = typer.Option(None, "--rule", help="Only these rules (repeatable)."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Open and resolve, send nothing."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Evaluate the rules now: open, resolve and notify alerts (what the alerts job runs)."""

    def local(platform: Platform) -> Any:
        return platform.alerts.check(as_of=as_of, rules=rule or None, notify=not no_notify)

    def remote(server: ServerClient) -> Any:
        body: dict[str, Any] = {"notify": not no_notify}
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        if rule:
            body["rules"] = rule
        return server.post("/api/alerts/check", json=body)

    report = _run(ctx, local, remote)
    if as_json:
        emit_json(report)
        return
    console.print(
        f"{report['rules']} rules, {report['judged']} subjects judged: "
        f"{len(report['opened'])} opened, {len(report['resolved'])} resolved, "
        f"{len(report['open'])} open",
        markup=False,
        highlight=False,
    )
    if report["open"]:
        _print_alerts("open alerts", report["open"])
    for name, error in report["errors"].items():
        console.print(f"rule {name} failed: {error}", markup=False, highlight=False)


@app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: int = typer.Argument(..., help="The alert's id (omni alerts list)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Acknowledge an alert: someone has seen it (it resolves when its rule says so)."""

    def local(platform: Platform) -> Any:
        return platform.alerts.ack(alert_id, actor="cli")

    def remote(server: ServerClient) -> Any:
        return server.post(f"/api/alerts/{alert_id}/ack")

    alert = _run(ctx, local, remote)
    if as_json:
        emit_json(alert)
        return
    console.print(f"alert {alert['id']} acknowledged", markup=False, highlight=False)
