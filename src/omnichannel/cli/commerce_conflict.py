"""``omni conflict``: channel conflict: catchment credit, online-to-offline, cannibalisation.

Thin calls into ``platform.commerce.conflict`` (commerce/conflict.py), or, while
``omni serve`` owns the home, the same call over ``/api/commerce/conflict/...``.
"""

from __future__ import annotations

from datetime import datetime

import typer

from omnichannel.cli.commerce import JSON, _run
from omnichannel.cli.output import console, emit_json, key_value_table, rows_table

app = typer.Typer(
    no_args_is_help=True,
    help="Channel conflict: online orders credited to stores, online-to-offline, cannibalisation.",
)
DAY = "%Y-%m-%d"


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


@app.command("catchment")
def catchment(
    ctx: typer.Context,
    since: datetime | None = typer.Option(None, formats=[DAY], help="First day (YYYY-MM-DD)."),
    until: datetime | None = typer.Option(None, formats=[DAY], help="Day after the last."),
    radius_km: float = typer.Option(10.0, help="How near a store an order's address counts."),
    as_json: bool = JSON,
) -> None:
    """Each store's own orders beside the online orders credited to it (its KPI)."""
    start, end = _day(since), _day(until)
    seen = _run(
        ctx,
        lambda p: p.commerce.conflict.catchment(
            since=since.date() if since else None,
            until=until.date() if until else None,
            radius_km=radius_km,
        ),
        lambda s: s.get(
            "/api/commerce/conflict/catchment", since=start, until=end, radius_km=radius_km
        ),
    )
    if as_json:
        emit_json(seen)
        return
    console.print(
        rows_table(
            f"catchment credit: {seen['credited_orders']} of {seen['online_orders']} online "
            f"orders credited, {seen['unattributed_orders']} without a store",
            ["store", "store orders", "credited", "share", "by"],
            [
                [
                    f"{r['store_id']} {r['name'] or ''}".strip(),
                    r["store_orders"],
                    r["credited_orders"],
                    f"{r['credit_share']:.1%}",
                    ", ".join(f"{k} {v}" for k, v in r["by"].items()),
                ]
                for r in seen["stores"]
            ],
        )
    )


@app.command("o2o")
def online_to_offline(
    ctx: typer.Context,
    campaign: str = typer.Argument(..., help="The campaign_id of its deliveries."),
    window_days: int = typer.Option(14, help="Days after the message that a store buy counts."),
    as_json: bool = JSON,
) -> None:
    """Did a campaign's online messages bring people into the stores? (lift over the rest)"""
    seen = _run(
        ctx,
        lambda p: p.commerce.conflict.online_to_offline(campaign, window_days=window_days),
        lambda s: s.get(f"/api/commerce/conflict/o2o/{campaign}", window_days=window_days),
    )
    if as_json:
        emit_json(seen)
        return
    exposed, others = seen["exposed"], seen["others"]
    console.print(
        key_value_table(
            f"{campaign}: store purchases within {window_days} days",
            {
                "reached": exposed["people"],
                "reached: rate before / after": f"{exposed['rate_before']:.1%} / "
                f"{exposed['rate_after']:.1%}",
                "everyone else": others["people"],
                "everyone else: before / after": f"{others['rate_before']:.1%} / "
                f"{others['rate_after']:.1%}",
                "lift (difference in differences)": f"{seen['lift']:+.1%}",
                "p-value": seen["p_value"],
            },
        )
    )


@app.command("cannibalisation")
def cannibalisation(
    ctx: typer.Context,
    promotion: str = typer.Argument(..., help="A promotion of the price book."),
    as_json: bool = JSON,
) -> None:
    """What a promotion's channels gained and the other channels lost, against before it."""
    seen = _run(
        ctx,
        lambda p: p.commerce.conflict.cannibalisation(promotion),
        lambda s: s.get("/api/commerce/conflict/cannibalisation", promotion=promotion),
    )
    if as_json:
        emit_json(seen)
        return
    console.print(
        rows_table(
            f"{promotion} ({seen['starts']} to {seen['ends']}) against {seen['baseline_from']}",
            ["channels", "units before", "during", "change", "p-value"],
            [
                [side, s["units_before"], s["units_during"], s["change"], s["p_value"]]
                for side, s in (("promoted", seen["promoted"]), ("other", seen["other"]))
            ],
        )
    )
    verdict = "cannibalised" if seen["cannibalised"] else "no significant cannibalisation"
    console.print(
        f"{verdict}: {seen['cannibalised_units']} units taken from the other channels "
        f"({seen['cannibalised_share']:.0%} of the promoted channels' gain)"
    )
