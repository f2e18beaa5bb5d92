"""The root ``omni`` app: global options, sub-command registration, error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from omnichannel import __version__
from omnichannel.cli.lazy import LazyCommand, lazy_group
from omnichannel.errors import OmniError

# Each command's module is imported only when that command runs (see cli/lazy.py);
# the summary is what `omni --help` lists and must be the first line of its docstring.
COMMANDS = [
    LazyCommand(
        "demo",
        "omnichannel.cli.demo:demo",
        "Generate a synthetic retailer, feed it through ingestion, link, profile, run journeys.",
    ),
    LazyCommand(
        "serve",
        "omnichannel.cli.server:serve",
        "Start the HTTP server: dashboard at /, API contract at /docs, liveness at /healthz.",
    ),
    LazyCommand(
        "status",
        "omnichannel.cli.status:status",
        "Show the warehouse (engine, schema version, rows per table) and the operational store.",
    ),
    LazyCommand(
        "init",
        "omnichannel.cli.status:init",
        "Create the home directory, the warehouse tables and the operational store.",
    ),
    LazyCommand(
        "settings",
        "omnichannel.cli.status:show_settings",
        "List every setting, its effective value and the OMNI_* variable that sets it.",
    ),
    LazyCommand(
        "backup",
        "omnichannel.cli.backup:backup",
        "Copy the warehouse, operational store, event log and home files, while serving.",
    ),
    LazyCommand(
        "restore",
        "omnichannel.cli.backup:restore",
        "Put a backup in place as this home, checked table by table against its manifest.",
    ),
    LazyCommand(
        "query",
        "omnichannel.cli.warehouse:query",
        "Run a read-only SQL query on the warehouse and print the result.",
    ),
    LazyCommand(
        "ingest",
        "omnichannel.cli.ingest:ingest",
        "Load one file; refused rows go to dead letters (see `omni dlq list`).",
    ),
    LazyCommand(
        "quality", "omnichannel.cli.quality:quality", "The data-quality report per source and day."
    ),
    LazyCommand(
        "warehouse",
        "omnichannel.cli.warehouse:app",
        "Inspect the warehouse: canonical tables, schemas and row counts.",
    ),
    LazyCommand(
        "dlq",
        "omnichannel.cli.dlq:app",
        "Dead letters: records refused on the way in, with the reason.",
    ),
    LazyCommand(
        "sources",
        "omnichannel.cli.sources:app",
        "Sources and their write keys (what SDKs authenticate with).",
    ),
    LazyCommand(
        "events",
        "omnichannel.cli.events:app",
        "Collected events: counts, and loading the event log.",
    ),
    LazyCommand(
        "clv",
        "omnichannel.cli.clv:app",
        "Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, holdout check.",
    ),
    LazyCommand(
        "linkage",
        "omnichannel.cli.linkage:app",
        "Probabilistic record linkage (Splink) for customer records that share no identifier.",
    ),
    LazyCommand(
        "identity",
        "omnichannel.cli.identity:app",
        "Unified identity: join records that share identifiers into profiles, under rules.",
    ),
    LazyCommand(
        "profiles",
        "omnichannel.cli.profiles:app",
        "Profiles: one row per person with traits, CLV and rule tags.",
    ),
    LazyCommand(
        "profile", "omnichannel.cli.profile:app", "One profile: the 360° view of a person."
    ),
    LazyCommand(
        "segments",
        "omnichannel.cli.segments:app",
        "Segments: who matches a condition document, kept current; preview, explain, export.",
    ),
    LazyCommand(
        "journeys",
        "omnichannel.cli.journeys:app",
        "Journeys: automated multi-step strategies; approve, run, count, simulate.",
    ),
    LazyCommand(
        "templates",
        "omnichannel.cli.templates:app",
        "Message templates: versioned, checked when saved, previewed against real people.",
    ),
    LazyCommand(
        "messages",
        "omnichannel.cli.messages:app",
        "Messages: send through the one send path (consent, caps, quiet hours), test, track.",
    ),
    LazyCommand(
        "channels",
        "omnichannel.cli.channels:app",
        "Channels: each one's health, channels.yaml checked, the suppression list.",
    ),
    LazyCommand(
        "audiences",
        "omnichannel.cli.audiences:app",
        "Ad audiences: a segment's members uploaded, hashed, to Meta or Google Ads.",
    ),
    LazyCommand(
        "recs",
        "omnichannel.cli.recs:app",
        "Recommendations: one person's products with a reason each; offline evaluation.",
    ),
    LazyCommand(
        "models",
        "omnichannel.cli.models:app",
        "Models: train versions, keep their metrics, promote the better one.",
    ),
    LazyCommand(
        "propensity",
        "omnichannel.cli.propensity:app",
        "Propensity: purchase-in-30-days and churn scores as traits, explained per person.",
    ),
    LazyCommand(
        "clusters",
        "omnichannel.cli.clusters:app",
        "Customer clusters: personas in words, a person's cluster, a cluster as a segment.",
    ),
    LazyCommand(
        "attribution",
        "omnichannel.cli.attribution:attribution",
        "Credit conversions to channels: heuristics, Markov removal effect or Shapley value.",
    ),
    LazyCommand(
        "catalogue",
        "omnichannel.cli.commerce:catalogue_app",
        "The catalogue: products and their listings per channel (codes, assortment, price).",
    ),
    LazyCommand(
        "inventory",
        "omnichannel.cli.commerce:inventory_app",
        "Stock per location: levels, available-to-promise, reservations, stock files.",
    ),
    LazyCommand(
        "orders",
        "omnichannel.cli.commerce:orders_app",
        "Orders of every channel: route (explained), status, pick-up notices.",
    ),
    LazyCommand(
        "prices",
        "omnichannel.cli.commerce:prices_app",
        "One price book: channel overrides, rules, promotions; conflicts across channels.",
    ),
    LazyCommand(
        "conflict",
        "omnichannel.cli.commerce_conflict:app",
        "Channel conflict: online orders credited to stores, online-to-offline, cannibalisation.",
    ),
    LazyCommand(
        "budget",
        "omnichannel.cli.budget:app",
        "Budget: the best split across channels for a goal, scenarios, bandit, plans.",
    ),
    LazyCommand(
        "surveys",
        "omnichannel.cli.surveys:app",
        "Surveys: NPS, CSAT, CES and custom, on any channel; results with intervals.",
    ),
    LazyCommand(
        "mmm",
        "omnichannel.cli.mmm:app",
        "Marketing-mix model: ROI, marginal ROI, adstock and saturation per channel.",
    ),
    LazyCommand(
        "experiments",
        "omnichannel.cli.experiments:app",
        "Experiments and journey holdouts: assignment, z/Welch tests, CUPED, SRM, mSPRT.",
    ),
    LazyCommand(
        "kpis",
        "omnichannel.cli.kpis:app",
        "KPIs per channel, campaign, content and period; comparisons; channel coverage.",
    ),
    LazyCommand(
        "reports",
        "omnichannel.cli.reports:app",
        "Saved reports: run, version, share with a team, email on a schedule.",
    ),
    LazyCommand(
        "teams",
        "omnichannel.cli.reports:teams_app",
        "Teams: named sets of users that reports are shared with.",
    ),
    LazyCommand(
        "alerts",
        "omnichannel.cli.alerts:app",
        "Alerts: rules on KPIs, silent tracking, spend without conversions, funnel drops.",
    ),
    LazyCommand(
        "funnel",
        "omnichannel.cli.funnels:app",
        "Funnels: step conversion, time to convert, drop-off lists saved as segments.",
    ),
    LazyCommand(
        "retention",
        "omnichannel.cli.funnels:retention",
        "Cohort table: people by the period of their first event or order, and who came back.",
    ),
    LazyCommand(
        "send-times",
        "omnichannel.cli.send_times:app",
        "Best send time per person and channel, and each channel's peak hours.",
    ),
    LazyCommand(
        "jobs", "omnichannel.cli.jobs:app", "Background jobs: schedules, history, run one now."
    ),
    LazyCommand(
        "operations",
        "omnichannel.cli.operations:app",
        "Upkeep: the backups taken, the retention in force.",
    ),
    LazyCommand(
        "worker",
        "omnichannel.cli.worker:worker",
        "Run the background jobs on their schedules (and the consumers) until stopped.",
    ),
    LazyCommand(
        "users",
        "omnichannel.cli.users:app",
        "Users, their roles and API tokens: create, list, disable, enable, role, password.",
    ),
    LazyCommand(
        "audit",
        "omnichannel.cli.audit:app",
        "The audit log: every change, who made it, when, before and after.",
    ),
    LazyCommand(
        "comments",
        "omnichannel.cli.comments:app",
        "Comments with @mentions on segments, journeys and reports; your notifications.",
    ),
    LazyCommand(
        "consent",
        "omnichannel.cli.consent:app",
        "Consent ledger: lawful basis and consent per purpose and channel, with history.",
    ),
    LazyCommand(
        "privacy",
        "omnichannel.cli.privacy:app",
        "Data-subject requests: export or erase one person, deadlines, the suppression list.",
    ),
    LazyCommand(
        "partners",
        "omnichannel.cli.partners:app",
        "Partner audiences: salted-hash files, overlap and joint-campaign attribution as counts.",
    ),
    LazyCommand(
        "admin",
        "omnichannel.cli.admin:app",
        "Administration: the admin token of the HTTP API's management and profile routes.",
    ),
]

app = typer.Typer(
    name="omni",
    cls=lazy_group(COMMANDS),
    help="Omnichannel: collect, unify, segment, engage and measure, from one Python system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"omnichannel {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None,
        "--home",
        envvar="OMNI_HOME",
        help="Directory holding all state of this installation (default: ./omni-home).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options; every setting can also be given as an OMNI_* environment variable."""
    from omnichannel.config import get_settings  # pydantic-settings: not for --version

    ctx.obj = get_settings(home=home)


def main() -> None:
    """Entry point: errors we raise on purpose print as one clear line, exit code 1."""
    try:
        app()
    except OmniError as exc:
        from rich.markup import escape

        from omnichannel.cli.output import errors

        # soft_wrap: keep the message on one line so it can be grepped and copied whole.
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(1)
