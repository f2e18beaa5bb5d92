"""``omni demo``: generate the demo business and run every pipeline stage on it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, escape, key_value_table
from omnichannel.errors import OmniError
from omnichannel.installation import initialise
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.warehouse import open_warehouse


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(7, "--seed", help="Random seed; the same seed gives the same data."),
    people: int = typer.Option(
        20_000, "--people", min=100, help="Number of customers (at least 100)."
    ),
    days: int = typer.Option(180, "--days", min=7, help="Days of history."),
    start: datetime = typer.Option(
        "2026-01-01", "--start", formats=["%Y-%m-%d"], help="First day of history."
    ),
    reset: bool = typer.Option(
        False,
        "--reset",
        help="Empty the warehouse and delete the demo's journeys first (required if it "
        "holds data).",
    ),
    no_journeys: bool = typer.Option(
        False, "--no-journeys", help="Skip the journeys (welcome, abandoned cart, win-back)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Generate a synthetic retailer, feed it through ingestion, link, profile, run journeys.

    The journeys (welcome, abandoned cart, win-back) send to local stand-in servers."""
    from omnichannel.cli.output import progress_bars
    from omnichannel.cli.remote import refuse_while_served
    from omnichannel.demo import DemoConfig, run_demo
    from omnichannel.pipeline import run_pipeline

    settings = settings_of(ctx, needs_installation=False)
    refuse_while_served(settings, "a demo rewrites the warehouse the server is serving")
    initialise(settings)
    config = DemoConfig(seed=seed, people=people, days=days, start=_as_date(start))
    with (
        open_warehouse(settings.resolved_warehouse_url) as wh,
        open_opstore(settings.resolved_opstore_url) as store,
    ):
        held = {name: n for name, n in wh.counts().items() if n}
        if held and not reset:
            raise OmniError(
                f"the warehouse at {settings.home} already holds data ({held}); "
                "pass --reset to replace it with the demo, or use another --home"
            )
        if reset:
            wh.truncate()
            _reset_demo_journeys(store)
        with progress_bars(enabled=not as_json) as progress:
            summary = run_demo(
                warehouse=wh,
                truth_dir=settings.truth_dir,
                config=config,
                progress=progress,
                home=settings.home,
                opstore=store,
            )
            stages = run_pipeline(settings, wh, progress=progress)
    if summary.extra.get("exports_dir"):
        from omnichannel.demo.inventory import load_demo_inventory

        # Listings and stock per location (docs/commerce.md), after the stores are closed.
        stages["commerce"] = load_demo_inventory(
            settings, Path(str(summary.extra["exports_dir"])), seed=seed
        )
    from omnichannel.cli.status import first_admin

    # The dashboard needs a user to sign in: the first admin, made once a home (before the
    # journeys' author and approver, or the home would already have users).
    admin = first_admin(settings, "admin@localhost")
    journeys: dict[str, object] = {}
    if not no_journeys:
        from omnichannel.demo.journeys import run_journeys

        # After the stores above are closed: the journeys run on a Platform of their own.
        with progress_bars(enabled=not as_json) as progress:
            journeys = run_journeys(settings, config=config, progress=progress)
    from omnichannel.demo.surveys import run_surveys

    # A store NPS asked in the app and on receipts, and its answers (docs/surveys.md).
    surveys = run_surveys(settings, seed=seed)
    result = {**summary.to_dict(), **stages, **({"journeys": journeys} if journeys else {})}
    result["surveys"] = surveys
    if admin is not None:
        result["dashboard_admin"] = {"email": admin["email"], "password": admin["password"]}
    if as_json:
        emit_json(result)
        return
    shown = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
    dashboard_admin = result.pop("dashboard_admin", None)
    console.print(key_value_table("Demo business loaded", shown))
    console.print(
        f"Exports the connectors read are in {escape(str(result['exports_dir']))}; "
        f"{result['dead_letters']} planted bad records are in dead letters "
        "([bold]omni dlq list[/])."
    )
    if journeys:
        console.print(journeys_table(journeys))
    console.print(
        "\nNext: [bold]omni serve[/] and open "
        f"[link]http://{settings.host}:{settings.port}/[/link] (API at /docs); "
        '[bold]omni status[/] for row counts; [bold]omni query "SELECT ..."[/] for SQL; '
        "[bold]omni profile show user_id:...[/] for one customer's 360° card."
    )
    if isinstance(dashboard_admin, dict):
        console.print(
            f"Dashboard sign-in: {dashboard_admin['email']} with this one-time password "
            "(shown once; you choose your own at first sign-in):",
            highlight=False,
        )
        print(dashboard_admin["password"])


def _reset_demo_journeys(store: OpStore) -> None:
    """The demo's journeys go with the warehouse: their enrolments, steps and messages were
    about the people just deleted, and a second demo must count from nothing."""
    from omnichannel.demo.journeys import JOURNEYS
    from omnichannel.journeys.store import JourneyStore

    JourneyStore(store).reset(list(JOURNEYS), actor="omni demo --reset")


def journeys_table(journeys: dict[str, object]) -> object:
    """One row per demo journey: entered, sent, opened, clicked, converted, holdout."""
    from rich.table import Table

    table = Table(
        title="Journeys: converted of entered for treated and holdout (omni journeys stats NAME)"
    )
    for column in (
        "journey",
        "entered",
        "sent",
        "opened",
        "clicked",
        "converted",
        "treated",
        "holdout",
    ):
        table.add_column(column, justify="left" if column == "journey" else "right")
    for name, row in journeys.items():
        if not isinstance(row, dict) or "entered" not in row:
            continue  # the sink's total, the seconds taken
        groups = [row.get(g) or {} for g in ("treated", "holdout")]
        shown = [f"{g.get('converted', 0)} of {g.get('entered', 0)}" for g in groups]
        table.add_row(
            name,
            *(str(row.get(k, 0)) for k in ("entered", "sent", "opened", "clicked", "converted")),
            *shown,
        )
    return table


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value
