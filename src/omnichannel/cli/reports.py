"""``omni reports`` and ``omni teams``: saved reports (metric x dimensions x filters),
shared with a team, emailed on a schedule; teams are named sets of users.

Each command calls ``platform.reports`` (``reports/service.py``), or, while ``omni
serve`` owns the home, ``/api/reports``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.access.principal import cli_actor
from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table, write_csv

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(help="Saved reports: run, version, share with a team, email on a schedule.")
teams_app = typer.Typer(help="Teams: named sets of users that reports are shared with.")


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _print_reports(rows: list[dict[str, Any]]) -> None:
    console.print(
        rows_table(
            "reports",
            ["id", "title", "metric", "owner", "team", "version", "schedule"],
            [
                [
                    r["id"],
                    r["title"],
                    r.get("metric"),
                    r["owner"],
                    r["team"] or "(private)",
                    r["version"],
                    (r["schedule"] or {}).get("every") or "",
                ]
                for r in rows
            ],
        )
    )


@app.command("list")
def list_(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every saved report with its owner, team and schedule."""
    result = _run(ctx, lambda p: p.reports.list(), lambda s: s.get("/api/reports"))
    if as_json:
        emit_json(result)
        return
    _print_reports(result)


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The report definition (YAML or JSON)."),
    team: str | None = typer.Option(None, "--team", help="Share with this team at once."),
    owner: str | None = typer.Option(None, "--owner", help="Its owner (default: you)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a report (docs/reports.md describes the definition)."""
    text = file.read_text(encoding="utf-8")
    who = owner or cli_actor()

    def local(platform: Platform) -> dict[str, Any]:
        return platform.reports.create(text, owner=who, team=team, actor=cli_actor())

    def remote(server: ServerClient) -> dict[str, Any]:
        body = {"document": text, "team": team, "owner": who}
        answer: dict[str, Any] = server.post("/api/reports", json=body)
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"report {result['id']} saved: {result['title']} (version 1)"))


@app.command("update")
def update(
    ctx: typer.Context,
    report_id: int = typer.Argument(..., help="The report's id."),
    file: Path = typer.Argument(..., help="The new definition (YAML or JSON)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a new version of a report's definition (earlier versions are kept)."""
    text = file.read_text(encoding="utf-8")

    def local(platform: Platform) -> dict[str, Any]:
        return platform.reports.update(report_id, text, actor=cli_actor())

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.request(
            "PUT", f"/api/reports/{report_id}", json={"document": text}
        )
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"report {report_id} is at version {result['version']}"))


@app.command("show")
def show(
    ctx: typer.Context,
    report_id: int = typer.Argument(..., help="The report's id."),
    version: int | None = typer.Option(None, "--version", help="An earlier version."),
) -> None:
    """A report with its definition (JSON)."""
    emit_json(
        _run(
            ctx,
            lambda p: p.reports.show(report_id, version=version),
            lambda s: s.get(f"/api/reports/{report_id}", version=version),
        )
    )


@app.command("versions")
def versions(ctx: typer.Context, report_id: int = typer.Argument(...)) -> None:
    """Every saved version of a report, newest first (JSON)."""
    emit_json(
        _run(
            ctx,
            lambda p: p.reports.versions(report_id),
            lambda s: s.get(f"/api/reports/{report_id}/versions"),
        )
    )


@app.command("run")
def run(
    ctx: typer.Context,
    report_id: int = typer.Argument(..., help="The report's id."),
    as_csv: bool = typer.Option(False, "--csv", help="The table as CSV."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Run a report now and print its table."""
    result = _run(
        ctx, lambda p: p.reports.run(report_id), lambda s: s.get(f"/api/reports/{report_id}/run")
    )
    columns, rows = result["columns"], result["rows"]
    if as_json:
        emit_json(result)
    elif as_csv:
        write_csv(columns, [[r.get(c) for c in columns] for r in rows])
    else:
        title = result["report"]["title"]
        console.print(rows_table(title, columns, [[r.get(c) for c in columns] for r in rows]))


@app.command("share")
def share(
    ctx: typer.Context,
    report_id: int = typer.Argument(..., help="The report's id."),
    team: str | None = typer.Argument(None, help="The team (omit with --private)."),
    private: bool = typer.Option(False, "--private", help="Stop sharing it."),
) -> None:
    """Share a report with a team (its members see it), or make it private."""
    if (team is None) != private:
        raise typer.BadParameter("give a team, or --private (not both)")

    def local(platform: Platform) -> dict[str, Any]:
        return platform.reports.share(report_id, team, actor=cli_actor())

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.request(
            "PUT", f"/api/reports/{report_id}/share", json={"team": team}
        )
        return answer

    result = _run(ctx, local, remote)
    console.print(Text(f"report {report_id}: " + (f"shared with {team}" if team else "private")))
    del result


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    report_id: int = typer.Argument(..., help="The report's id."),
    every: str | None = typer.Option(None, "--every", help="day, week or month."),
    hour: int = typer.Option(7, "--hour", help="The hour (UTC), 0 to 23."),
    weekday: int = typer.Option(0, "--weekday", help="Weekly: 0 Monday to 6 Sunday."),
    day: int = typer.Option(1, "--day", help="Monthly: the day, 1 to 28."),
    off: bool = typer.Option(False, "--off", help="Stop emailing it."),
) -> None:
    """Email a report on a schedule to its team's members (its owner while private)."""
    if (every is None) != off:
        raise typer.BadParameter("give --every day|week|month, or --off (not both)")
    plan: dict[str, Any] | None = None
    if every is not None:
        plan = {"every": every, "hour": hour}
        if every == "week":
            plan["weekday"] = weekday
        if every == "month":
            plan["day"] = day

    def local(platform: Platform) -> dict[str, Any]:
        return platform.reports.schedule(report_id, plan, actor=cli_actor())

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.request(
            "PUT", f"/api/reports/{report_id}/schedule", json={"schedule": plan}
        )
        return answer

    result = _run(ctx, local, remote)
    nxt = result.get("next_send_at")
    console.print(Text(f"report {report_id}: " + (f"next email {nxt}" if nxt else "not emailed")))


@app.command("send")
def send(ctx: typer.Context, report_id: int = typer.Argument(...)) -> None:
    """Run a report and email it now to its team's members (its owner while private)."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.reports.send(report_id, actor=cli_actor())

    result = _run(ctx, local, lambda s: s.post(f"/api/reports/{report_id}/send"))
    for item in result["sent"]:
        console.print(Text(f"{item['address']}: {item.get('status') or item.get('error')}"))
    if not result["sent"]:
        console.print(Text("nobody to send it to: share it with a team that has members"))


@app.command("delete")
def delete(ctx: typer.Context, report_id: int = typer.Argument(...)) -> None:
    """Delete a report and its versions."""

    def local(platform: Platform) -> None:
        platform.reports.delete(report_id, actor=cli_actor())

    _run(ctx, local, lambda s: s.request("DELETE", f"/api/reports/{report_id}"))
    console.print(Text(f"report {report_id} deleted"))


@app.command("events")
def events(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", help="How many names."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The event names the warehouse holds, most frequent first (funnel steps)."""
    result = _run(
        ctx,
        lambda p: p.reports.event_names(limit=limit),
        lambda s: s.get("/api/reports/events", limit=limit),
    )
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table("event names", ["event", "events"], [[r["event"], r["events"]] for r in result])
    )


@teams_app.command("list")
def teams_list(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every team and its members."""
    result = _run(ctx, lambda p: p.reports.teams.list(), lambda s: s.get("/api/reports/teams"))
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            "teams",
            ["team", "members", "description"],
            [[t["name"], ", ".join(t["members"]), t["description"]] for t in result],
        )
    )


@teams_app.command("create")
def teams_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The team's name (lower case)."),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a team."""
    _run(
        ctx,
        lambda p: p.reports.teams.create(name, description=description, actor=cli_actor()),
        lambda s: s.post("/api/reports/teams", json={"name": name, "description": description}),
    )
    console.print(Text(f"team {name} created"))


@teams_app.command("add")
def teams_add(
    ctx: typer.Context, name: str = typer.Argument(...), email: str = typer.Argument(...)
) -> None:
    """Put a user in a team."""
    _run(
        ctx,
        lambda p: p.reports.teams.add(name, email, actor=cli_actor()),
        lambda s: s.post(f"/api/reports/teams/{name}/members", json={"email": email}),
    )
    console.print(Text(f"{email} is in {name}"))


@teams_app.command("remove")
def teams_remove(
    ctx: typer.Context, name: str = typer.Argument(...), email: str = typer.Argument(...)
) -> None:
    """Take a user out of a team."""
    _run(
        ctx,
        lambda p: p.reports.teams.remove(name, email, actor=cli_actor()),
        lambda s: s.request("DELETE", f"/api/reports/teams/{name}/members/{email}"),
    )
    console.print(Text(f"{email} left {name}"))


@teams_app.command("delete")
def teams_delete(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a team; the reports shared with it become their owners' private ones."""
    _run(
        ctx,
        lambda p: p.reports.teams.delete(name, actor=cli_actor()),
        lambda s: s.request("DELETE", f"/api/reports/teams/{name}"),
    )
    console.print(Text(f"team {name} deleted"))
