"""``omni kpis``: KPIs per channel, campaign, content and period; comparisons; coverage.

Each command calls ``platform.kpis`` (or, while ``omni serve`` owns the home,
``GET /api/analytics/kpis...``); ``--json`` prints the same object either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="KPIs per channel, campaign, content and period; comparisons; channel coverage.",
)

KPIS_HELP = "Comma-separated KPI names (default: all; `omni kpis list` shows them)."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation
    from omnichannel.jsonable import jsonable

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    return jsonable(answer)


def _params(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


@app.command("list")
def list_kpis(
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The KPI catalogue: each KPI's formula and the events and tables it reads."""
    from omnichannel.analytics.kpis.service import catalogue

    rows = catalogue()
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            "KPIs",
            ["name", "kind", "formula", "reads"],
            [[r["name"], r["kind"], r["formula"], ", ".join(r["inputs"])] for r in rows],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    kpis: str | None = typer.Option(None, "--kpis", "-k", help=KPIS_HELP),
    by: str | None = typer.Option(
        None, "--by", help="Group by channel, campaign and/or content (comma-separated)."
    ),
    period: str | None = typer.Option(None, "--period", help="day, week or month."),
    since: datetime | None = typer.Option(None, "--since", help="From (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="Before (UTC)."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign id."),
    segment: str | None = typer.Option(
        None, "--segment", help="Target audience: audience_coverage is reached / its size."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """KPIs over a period, one row per group and period; "no data" KPIs say why."""
    args: dict[str, Any] = dict(
        since=since,
        until=until,
        by=by,
        period=period,
        channel=channel,
        campaign=campaign,
        segment=segment,
    )

    def local(platform: Platform) -> Any:
        return platform.kpis.run(kpis, **args)

    def remote(server: ServerClient) -> Any:
        return server.get("/api/analytics/kpis", **_params(kpis=kpis, **args))

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    names = result["kpis"]
    dims = result["parameters"]["by"] + (["period"] if result["parameters"]["period"] else [])
    console.print(
        rows_table(
            "KPIs",
            [*dims, *names],
            [
                [
                    *(_fmt(r["group"].get(d)) for d in result["parameters"]["by"]),
                    *([r["period"]] if result["parameters"]["period"] else []),
                    *(
                        "no data"
                        if r["kpis"][n]["status"] == "no_data"
                        else _fmt(r["kpis"][n]["value"])
                        for n in names
                    ),
                ]
                for r in result["rows"]
            ],
        )
    )
    for name, reason in result["no_data"].items():
        console.print(f"{name}: {reason}", highlight=False, markup=False)


@app.command("compare")
def compare(
    ctx: typer.Context,
    kpis: str | None = typer.Option(None, "--kpis", "-k", help=KPIS_HELP),
    since: datetime | None = typer.Option(None, "--since", help="This period from (UTC)."),
    until: datetime | None = typer.Option(None, "--until", help="This period before (UTC)."),
    against_since: datetime | None = typer.Option(
        None, "--against-since", help="The other period from (default: the one before)."
    ),
    against_until: datetime | None = typer.Option(
        None, "--against-until", help="The other period before (default: --since)."
    ),
    across: str | None = typer.Option(
        None, "--across", help="channel or campaign: each against --baseline in one period."
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="The channel or campaign compared against (default: most exposed)."
    ),
    by: str | None = typer.Option(None, "--by", help="Also group by these dimensions."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign id."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the flag."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Change of each KPI between periods, channels or campaigns, and whether it is noise."""
    args: dict[str, Any] = dict(
        since=since,
        until=until,
        against_since=against_since,
        against_until=against_until,
        across=across,
        baseline=baseline,
        by=by,
        channel=channel,
        campaign=campaign,
        alpha=alpha,
    )

    def local(platform: Platform) -> Any:
        return platform.kpis.compare(kpis, **args)

    def remote(server: ServerClient) -> Any:
        return server.get("/api/analytics/kpis/compare", **_params(kpis=kpis, **args))

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            f"KPI comparison ({result['mode']})",
            ["group", "kpi", "a", "b", "change", "relative", "test", "p", "beyond noise"],
            [
                [
                    ", ".join(f"{k}={v}" for k, v in r["group"].items()) or "all",
                    r["kpi"],
                    _fmt(r["a"]),
                    _fmt(r["b"]),
                    _fmt(r["change"]),
                    "-" if r["relative_change"] is None else f"{r['relative_change']:+.1%}",
                    r["test"],
                    _fmt(r["p_value"]),
                    {True: "yes", False: "no", None: "-"}[r["significant"]],
                ]
                for r in result["rows"]
            ],
        )
    )


@app.command("coverage")
def coverage(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Channel coverage: the share of profiles each channel can reach (address + consent)."""

    def local(platform: Platform) -> Any:
        return platform.kpis.channel_coverage()

    def remote(server: ServerClient) -> Any:
        return server.get("/api/analytics/kpis/coverage")

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            "channel coverage",
            ["channel", "addressable", "reachable", "profiles", "coverage"],
            [
                [
                    r["channel"],
                    _fmt(r["addressable"]),
                    _fmt(r["reachable"]),
                    r["profiles"],
                    "no data" if r["value"] is None else f"{r['value']:.1%}",
                ]
                for r in result["channels"]
            ],
        )
    )
