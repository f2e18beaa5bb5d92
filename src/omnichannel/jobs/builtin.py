"""The jobs every installation has; later capabilities add theirs here.

- ``profiles`` (every 15 minutes): incremental identity resolution, then a profile build
  (skipped when nothing changed), so new events and records reach profiles without
  anyone running ``omni identity resolve`` and ``omni profiles build`` by hand.
- ``identity``: resolution alone (what ``omni identity resolve`` runs), on demand.
- ``profiles-build``: the build alone (``omni profiles build``), on demand.
- ``ingest``: one file through a connector (``omni ingest``), on demand.
- ``linkage``: probabilistic record linkage (Splink); on demand, since it retrains its
  model and the graph only needs it when customer records change a lot.
- ``segments`` (every 5 minutes): refresh every stored segment in dependency order,
  incrementally where only new events can have moved anyone, in full after a profile
  build, a definition change, or for a clock-sensitive segment (so "not purchased in 30
  days" expires by the clock); the real-time updater handles arrivals in between.
- ``audiences`` (every 6 hours): each ad-audience destination of ``audiences.yaml`` that
  names a ``segment`` is replaced with that segment's members; one failing destination
  costs no other (the run fails naming it, after the others synced).
- ``reports`` (every 15 minutes): each scheduled report that is due is run and emailed
  to its team's members, an HTML table with the CSV attached (``reports/``).
- ``inbox`` (daily): in-app inbox messages past their expiry are deleted (an app never
  shows them; the delivery log keeps their history).
- ``journey-entries`` (every minute): people whose date trait comes round or whose
  schedule tick passed enter their journeys, in their own time zone
  (``journeys/scheduled.py``; a tick missed while down is caught up once, within a day).
- ``send-times`` (daily): each person's best send hour per channel refitted from their
  opens, clicks and sessions (``sendtime/``; option ``until``).
- ``alerts`` (every 15 minutes): the alert rules evaluated; alerts opened and resolved,
  notified by webhook and email (``analytics/alerts/``; option ``as_of``).
- ``models-retrain`` (daily): each model with a version in use (recommendations...) is
  trained again on the latest data and put in use unless it scores worse (``models/``;
  option ``model``).
- ``budget-loop`` (daily): the marketing-mix model refitted on the warehouse, then every
  budget plan whose period is over evaluated, actual against predicted (``budget/``;
  options ``today``, ``refit``).
- ``reservations-expire`` (every minute) and ``price-check`` (hourly): stock holds past
  their expiry released; the price book's consistency check raising its alerts
  (``commerce/jobs.py``; option ``as_of``).

Options come from the caller (the CLI's flags): files are paths on the server's machine,
which is the CLI's machine, since the runtime file that led the CLI there is local.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError
from omnichannel.jobs.registry import Job, JobOutcome, JobRegistry, Progress

if TYPE_CHECKING:
    from omnichannel.configuration import InstallationConfig
    from omnichannel.platform import Platform

PROFILES_EVERY = timedelta(minutes=15)
SEGMENTS_EVERY = timedelta(minutes=5)
# Ad platforms match uploads in hours; more often than this only costs API quota.
AUDIENCES_EVERY = timedelta(hours=6)
INBOX_EVERY = timedelta(days=1)
# Schedules name an hour: a quarter-hour check sends within 15 minutes of it.
REPORTS_EVERY = timedelta(minutes=15)
# Date and schedule entries are due on the minute (enrolled a little ahead).
JOURNEY_ENTRIES_EVERY = timedelta(minutes=1)
# Habits move slowly; a day's new opens barely shift a fitted hour.
SEND_TIMES_EVERY = timedelta(days=1)
# A pixel that stopped firing should be known within the hour, not the next morning.
ALERTS_EVERY = timedelta(minutes=15)
# Tastes move over days; a day's new interactions are folded in live meanwhile.
MODELS_RETRAIN_EVERY = timedelta(days=1)
# Plans are for days or weeks; a finished day is evaluated by the next morning.
BUDGET_LOOP_EVERY = timedelta(days=1)
RETENTION_EVERY = timedelta(days=1)
# Partner files removed on the day they expire, not only when someone next uses one:
# a copy kept past its agreed expiry is a breach of that agreement.
PARTNERS_PURGE_EVERY = timedelta(hours=1)


def _path(options: Mapping[str, Any], name: str) -> Path | None:
    value = options.get(name)
    return None if value in (None, "") else Path(str(value))


def _config(platform: Platform, options: Mapping[str, Any]) -> InstallationConfig:
    """The installation's configuration, with any file or time zone the caller gave."""
    rules, tags = _path(options, "rules"), _path(options, "tags")
    timezone = options.get("timezone")
    if rules is None and tags is None and timezone is None:
        return platform.config
    from omnichannel.configuration import InstallationConfig

    return InstallationConfig.load(
        platform.settings, rules_file=rules, tags_file=tags, timezone=timezone
    )


def send_reports(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """Email every scheduled report that is due (option ``as_of``: as at that time)."""
    from omnichannel.jsonable import jsonable

    result = platform.reports.send_due(now=parse_as_of(options.get("as_of")))
    return JobOutcome(rows=len(result["sent"]), detail=jsonable(result))


def parse_as_of(value: object, *, field_name: str = "as_of") -> datetime | None:
    """A build's clock from an option or a flag: an ISO 8601 date or time, or nothing."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(
            field_name, value, "an ISO 8601 date or time, e.g. 2026-05-01"
        ) from None


def _as_of(options: Mapping[str, Any]) -> datetime | None:
    return parse_as_of(options.get("as_of"))


def aware_as_of(options: Mapping[str, Any]) -> datetime | None:
    """Option ``as_of`` as an aware time (UTC when it names no zone), for the jobs that
    compare it with the operational store's aware times."""
    at = parse_as_of(options.get("as_of"))
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def resolve_identities(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    report = platform.identity.resolve(
        full=bool(options.get("full")), config=_config(platform, options), progress=progress
    )
    return JobOutcome(rows=report.profiles, detail=report.as_dict())


def build_profiles(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    report = platform.profiles.build(
        force=bool(options.get("force")),
        as_of=_as_of(options),
        config=_config(platform, options),
        progress=progress,
    )
    return JobOutcome(rows=report.profiles, detail=report.as_dict())


def refresh_profiles(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    identity = resolve_identities(platform, progress, {})
    built = build_profiles(platform, progress, {})
    return JobOutcome(
        rows=built.rows,
        detail={
            "identity_mode": identity.detail.get("mode"),
            "new_observations": identity.detail.get("new_observations"),
            "profiles": identity.detail.get("profiles"),
            "merges": identity.detail.get("merges"),
            "build": built.detail.get("status"),
        },
    )


def run_linkage(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    from omnichannel.identity.linkage import run_linkage as link
    from omnichannel.identity.linkage_config import load_config

    config = load_config(_path(options, "config") or platform.config.linkage_config_path)
    threshold = options.get("threshold")
    with platform.warehouse.reader() as wh:
        report = link(
            warehouse=wh,
            config=config,
            threshold=None if threshold is None else float(threshold),
            progress=progress,
        )
    return JobOutcome(rows=report.links, detail={"links": report.links})


def ingest_file(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """Load one file (what ``omni ingest`` runs); the mapping is remembered once it loaded."""
    from omnichannel.ingest.connectors import ingest_file as load
    from omnichannel.ingest.mapping import load_mapping, mapping_of_source, remember_mapping
    from omnichannel.ingest.segment import Limits

    settings = platform.settings
    path, kind, source = _path(options, "path"), options.get("kind"), options.get("source")
    if path is None or not kind or not source:
        raise ValidationError("options", dict(options), "path, kind and source")
    given = options.get("mapping")
    chosen = (
        load_mapping(str(given)) if given else mapping_of_source(settings.home, str(source), kind)
    )
    with platform.warehouse.writer() as wh:
        report = load(
            wh,
            path,
            kind=str(kind),
            source=str(source),
            mapping=chosen,
            fmt=options.get("format"),
            region=settings.default_region,
            currency=settings.default_currency,
            progress=progress,
            limits=Limits(max_future=settings.event_max_future, max_age=settings.event_max_age),
            erased=platform.privacy.erased,
        )
    # Only a mapping that loaded becomes the source's; a failed load leaves the old one.
    if given and chosen is not None:
        remember_mapping(settings.home, str(source), chosen)
    return JobOutcome(rows=sum(report.written.values()), detail=report.as_dict())


def refresh_segments(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    from omnichannel.segments.refresh import refresh_all
    from omnichannel.segments.store import SegmentStore

    results = refresh_all(
        platform.warehouse,
        SegmentStore(platform.opstore),
        platform.config.rules,
        full=bool(options.get("full")),
        progress=progress,
    )
    return JobOutcome(
        rows=sum(r.entered + r.exited for r in results),
        detail={"segments": [r.as_dict() for r in results]},
    )


def sync_audiences(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Every audience destination that follows a segment, synced (channels/audiences.py)."""
    from omnichannel.errors import OmniError

    result = platform.audiences.sync_followed(actor="job")
    if result["failed"]:
        done = ", ".join(r["destination"] for r in result["synced"]) or "none"
        problems = "; ".join(f"{name}: {error}" for name, error in result["failed"].items())
        raise OmniError(f"audiences not synced: {problems} (synced: {done})")
    return JobOutcome(rows=sum(r["uploaded"] for r in result["synced"]), detail=result)


def expire_inbox(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """In-app inbox messages past their expiry, deleted (channels/inbox.py)."""
    from omnichannel.channels.inbox import delete_expired

    removed = delete_expired(platform.opstore)
    return JobOutcome(rows=removed, detail={"deleted": removed})


def purge_partner_files(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """The kept partner files past their expiry, removed (privacy/partners.py)."""
    purged = platform.partners.purge_expired(now=aware_as_of(options))
    return JobOutcome(rows=len(purged), detail={"purged": purged})


def back_up(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """A consistent copy of the installation into ``directory`` (backup.py)."""
    from omnichannel.backup import backup

    directory = options.get("directory")
    if not directory:
        raise ValidationError("directory", directory, "a new or empty directory to copy into")
    manifest = backup(platform, Path(str(directory)))
    rows = sum(manifest["warehouse"].values()) + sum(manifest["opstore"].values())
    return JobOutcome(rows=rows, detail=manifest)


def apply_retention(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Rows older than OMNI_RETENTION keeps them, deleted (retention.py); audited."""
    from omnichannel.opstore.audit import record
    from omnichannel.retention import apply_retention as apply

    done = apply(platform, now=aware_as_of(options))
    if done:
        with platform.opstore.session() as session:
            record(
                session,
                actor="retention",
                action="retention.applied",
                object_type="installation",
                details=done,
            )
    return JobOutcome(rows=sum(d["deleted"] for d in done.values()), detail=done)


def enter_journeys(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Date and schedule entries of live journeys (journeys/scheduled.py)."""
    from omnichannel.journeys.scheduled import run_job

    return run_job(platform, progress, options)


def build_send_times(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Best send hours refitted (sendtime/build.py); option ``until`` (ISO time)."""
    from omnichannel.jsonable import jsonable

    until = parse_as_of(options.get("until"), field_name="until")
    report = platform.send_times.build(until=until, progress=progress)
    return JobOutcome(rows=report.rows, detail=jsonable(report.as_dict()))


def check_alerts(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """Alert rules evaluated, alerts opened, resolved and notified (analytics/alerts/)."""
    from omnichannel.jsonable import jsonable

    report = platform.alerts.check(as_of=parse_as_of(options.get("as_of")))
    detail = {k: report[k] for k in ("rules", "judged", "errors")}
    detail.update(
        opened=[a["id"] for a in report["opened"]],
        resolved=[a["id"] for a in report["resolved"]],
        open=len(report["open"]),
    )
    return JobOutcome(rows=len(report["opened"]) + len(report["resolved"]), detail=jsonable(detail))


def retrain_models(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Retrain each model in use (or the one named); a refused promotion is reported."""
    from omnichannel.models.registry import model_names

    wanted = options.get("model")
    names = [str(wanted)] if wanted else model_names()
    detail: dict[str, Any] = {}
    for name in names:
        if platform.models.active(name) is None and not wanted:
            detail[name] = "no version in use: train one with omni models train " + name
            continue
        version = platform.models.retrain(name)
        detail[name] = {
            "version": version["version"],
            "status": version["status"],
            "score": version["score"],
            "promotion_refused": version.get("promotion_refused"),
        }
    return JobOutcome(rows=sum(isinstance(v, dict) for v in detail.values()), detail=detail)


def close_budget_loop(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Refit the marketing-mix model, then evaluate the budget plans whose period is over."""
    from omnichannel.jsonable import jsonable

    today = parse_as_of(options.get("today"), field_name="today")
    refit = str(options.get("refit", "true")).lower() not in ("false", "0", "no")
    result = platform.budget.close_loop(today=None if today is None else today.date(), refit=refit)
    return JobOutcome(rows=len(result["evaluated"]), detail=jsonable(result))


def builtin_jobs() -> JobRegistry:
    from omnichannel.commerce import jobs as commerce_jobs

    registry = JobRegistry()
    for job in (
        Job(
            "profiles",
            "Resolve new identities, then rebuild profiles if anything changed.",
            refresh_profiles,
            every=PROFILES_EVERY,
        ),
        Job("identity", "Resolve identities (options: full, rules).", resolve_identities),
        Job(
            "profiles-build",
            "Build profiles (options: force, as_of, timezone, tags).",
            build_profiles,
        ),
        Job("ingest", "Load one file (options: path, kind, source, mapping, format).", ingest_file),
        Job(
            "linkage",
            "Probabilistic record linkage of customer records (options: config, threshold).",
            run_linkage,
        ),
        Job(
            "segments",
            "Refresh every segment's members (incremental where possible; option: full).",
            refresh_segments,
            every=SEGMENTS_EVERY,
        ),
        Job(
            "audiences",
            "Sync each ad-audience destination that names a segment (audiences.yaml).",
            sync_audiences,
            every=AUDIENCES_EVERY,
        ),
        Job(
            "inbox",
            "Delete in-app inbox messages past their expiry (inbox.keep_for).",
            expire_inbox,
            every=INBOX_EVERY,
        ),
        Job(
            "reports",
            "Email each scheduled report that is due to its team (option: as_of).",
            send_reports,
            every=REPORTS_EVERY,
        ),
        Job(
            "journey-entries",
            "Enrol people whose journey date or schedule moment came (their time zone).",
            enter_journeys,
            every=JOURNEY_ENTRIES_EVERY,
        ),
        Job(
            "send-times",
            "Refit each person's best send hour per channel (option: until).",
            build_send_times,
            every=SEND_TIMES_EVERY,
        ),
        Job(
            "alerts",
            "Evaluate the alert rules; open, resolve and notify alerts (option: as_of).",
            check_alerts,
            every=ALERTS_EVERY,
        ),
        Job(
            "models-retrain",
            "Retrain each model in use; promote unless it scores worse (option: model).",
            retrain_models,
            every=MODELS_RETRAIN_EVERY,
        ),
        Job(
            "budget-loop",
            "Refit the marketing-mix model; evaluate budget plans whose period is over.",
            close_budget_loop,
            every=BUDGET_LOOP_EVERY,
        ),
        Job("backup", "Copy the installation consistently (option: directory).", back_up),
        Job(
            "retention",
            "Delete rows older than OMNI_RETENTION keeps them (option: as_of).",
            apply_retention,
            every=RETENTION_EVERY,
        ),
        Job(
            "partners-purge",
            "Remove the kept partner files past their expiry (option: as_of).",
            purge_partner_files,
            every=PARTNERS_PURGE_EVERY,
        ),
        Job(
            "reservations-expire",
            "Release stock reservations past their expiry (option: as_of).",
            commerce_jobs.expire_reservations,
            every=commerce_jobs.EXPIRE_EVERY,
        ),
        Job(
            "price-check",
            "Check prices and promotions across channels; raise their alerts (option: as_of).",
            commerce_jobs.check_prices,
            every=commerce_jobs.PRICE_CHECK_EVERY,
        ),
    ):
        registry.register(job)
    return registry
