"""Date and schedule entries: the ``journey-entries`` job, every minute.

A journey whose entry is a **date** (``{trait: birth_date, at: "09:00", days_before: 0,
yearly: true}``) enrols each person on the day their trait's month and day come round
(``days_before`` earlier), at the local time ``at`` in their own time zone; with
``yearly: false`` only on the exact date. A **schedule** (``{cron: "0 9 * * mon",
segment: vips, timezone: person}``) enrols the segment's members (everyone with a
profile when no segment is named) at each tick of the cron expression, read in each
person's zone or the installation's. APScheduler's ``CronTrigger`` does the cron
arithmetic, time zones and daylight saving included.

A person's zone is the latest ``context.timezone`` their events carried (the one quiet
hours use, ``channels/addresses.py``), else the installation's (``OMNI_TIMEZONE``).
Date traits are the profile's date and time traits (``first_order_at``...) and the
person's record fields (``birth_date``, newest record first).

Each run looks at the moments from where the last successful run stopped (its
``until``, kept in the job's run record) to ``LOOKAHEAD`` ahead of now, and enrols
each person with ``due_at`` = their local moment, so the engine runs the first step on
the minute rather than at the next run. After the server was down, the first run goes
back up to ``CATCH_UP`` (a day): a tick missed is enrolled once, late; an older one is
left. Nothing before the journey started counts. Entry references are per person and
moment (``date:<yyyy-mm-dd>:<profile>``, the anniversary; ``schedule:<tick>:<profile>``),
and unique per journey, so a run repeated after a crash enrols nobody twice.
"""

from __future__ import annotations

import logging
import threading
import time as time_module
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from omnichannel.errors import OmniError, ValidationError
from omnichannel.journeys.definition import (
    DateEntry,
    JourneyDefinition,
    ScheduleEntry,
    parse_journey,
)
from omnichannel.journeys.enrol import Candidate, enrol_many
from omnichannel.journeys.trigger import wake_engine
from omnichannel.opstore.models import (
    JobRun,
    JobRunStatus,
    Journey,
    JourneyStatus,
    JourneyVersion,
    utcnow,
)

if TYPE_CHECKING:
    from omnichannel.jobs.registry import JobOutcome, Progress
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

log = logging.getLogger(__name__)

JOB_NAME = "journey-entries"
EVERY = timedelta(minutes=1)
CATCH_UP = timedelta(days=1)
# Enrol this far ahead, due at the moment itself: the job runs every minute.
LOOKAHEAD = timedelta(minutes=2)
# Every zone's local day overlaps a UTC window widened by this much.
_ZONE_SPAN = timedelta(hours=15)
_CHUNK = 500
# How long people's time zones are reused by schedules read in each person's zone.
ZONES_FRESH = timedelta(minutes=15)


@dataclass
class ScheduledResult:
    """What a run did: its window, and per journey how many entered or were refused."""

    since: datetime
    until: datetime
    enrolled: dict[str, int] = field(default_factory=dict)
    refused: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.enrolled.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "enrolled": self.enrolled,
            "refused": self.refused,
            "failed": self.failed,
        }


def enter_scheduled(
    platform: Platform, *, now: datetime | None = None, since: datetime | None = None
) -> ScheduledResult:
    """Enrol everyone whose date or schedule moment falls in the window (module doc)."""
    now = _aware(now or utcnow())
    start = max(_aware(since) if since else _last_until(platform) or now, now - CATCH_UP)
    result = ScheduledResult(since=start, until=now + LOOKAHEAD)
    journeys, unreadable = _journeys(platform)
    result.failed |= unreadable
    for journey, definition in journeys:
        entry = definition.entry
        begin = max(start, _aware(journey.started_at or journey.updated_at))
        if begin > result.until:
            continue
        try:
            with platform.warehouse.reader() as wh:
                if entry.date is not None:
                    candidates = list(
                        date_candidates(
                            wh, entry.date, begin, result.until, platform.config.timezone
                        )
                    )
                else:
                    assert entry.schedule is not None
                    candidates = list(
                        schedule_candidates(
                            wh,
                            entry.schedule,
                            begin,
                            result.until,
                            platform.config.timezone,
                            cache=zone_cache(platform),
                        )
                    )
            with platform.opstore.session() as session:
                outcomes = enrol_many(
                    session,
                    journey,
                    definition,
                    candidates,
                    now=now,
                    warehouse=platform.warehouse,
                )
        except OmniError as exc:
            # One journey's problem (a trait that does not exist) costs no other.
            result.failed[journey.name] = str(exc)
            continue
        result.enrolled[journey.name] = sum(o.enrolled for o in outcomes)
        refused: dict[str, int] = {}
        for o in outcomes:
            if o.reason:
                refused[o.reason] = refused.get(o.reason, 0) + 1
        result.refused[journey.name] = refused
    if result.total:
        wake_engine(platform)
    return result


def run_job(platform: Platform, progress: Progress, options: Any) -> JobOutcome:
    """The ``journey-entries`` job: one window, from where the last run stopped (its
    ``until`` is this run's detail). A journey that cannot be read fails the run, after
    the others enrolled, naming it."""
    from omnichannel.jobs.registry import JobOutcome

    result = enter_scheduled(platform)
    if result.failed:
        problems = "; ".join(f"{name}: {error}" for name, error in sorted(result.failed.items()))
        raise OmniError(f"journey entries failed for {problems}")
    return JobOutcome(rows=result.total, detail=result.as_dict())


def _journeys(
    platform: Platform,
) -> tuple[list[tuple[Journey, JourneyDefinition]], dict[str, str]]:
    """Live journeys whose entry is a date or a schedule, with their live definition;
    and the live journeys whose stored document does not parse, with why."""
    out = []
    unreadable: dict[str, str] = {}
    with platform.opstore.session() as session:
        rows = session.scalars(select(Journey).where(Journey.status == JourneyStatus.LIVE))
        for journey in rows:
            if journey.live_version is None:
                continue
            stored = session.get(JourneyVersion, (journey.id, journey.live_version))
            if stored is None:
                continue
            try:
                definition = parse_journey(stored.definition)
            except OmniError as exc:
                unreadable[journey.name] = str(exc)
                continue
            if definition.entry.date is not None or definition.entry.schedule is not None:
                out.append((journey, definition))
    return out, unreadable


def _last_until(platform: Platform) -> datetime | None:
    """Where the last successful run of the job stopped."""
    with platform.opstore.session() as session:
        detail = session.scalar(
            select(JobRun.detail)
            .where(JobRun.job == JOB_NAME, JobRun.status == JobRunStatus.SUCCEEDED)
            .order_by(JobRun.id.desc())
            .limit(1)
        )
    value = (detail or {}).get("until")
    try:
        return _aware(datetime.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return None


# --- date entries ----------------------------------------------------------------------


def date_candidates(
    wh: Warehouse, entry: DateEntry, begin: datetime, until: datetime, default_zone: str
) -> Iterator[Candidate]:
    """The people whose local moment of ``entry`` falls in ``[begin, until]``."""
    # Local days anywhere on earth during the window, shifted to the trait's date.
    shift = timedelta(days=entry.days_before)
    first = (begin - _ZONE_SPAN).date() + shift
    last = (until + _ZONE_SPAN).date() + shift
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    values = trait_values(wh, entry.trait, days, yearly=entry.yearly)
    zones = zones_of(wh, list(values), default_zone)
    at = time.fromisoformat(entry.at)
    for pid, value in sorted(values.items()):
        zone = zones[pid]
        for anniversary in _occurrences(value, days, yearly=entry.yearly):
            local = datetime.combine(anniversary - shift, at, tzinfo=zone)
            moment = local.astimezone(UTC)
            if begin <= moment <= until:
                yield Candidate(
                    subject=pid,
                    profile_id=pid,
                    entry_ref=f"date:{anniversary.isoformat()}:{pid}",
                    due_at=moment,
                    context={
                        "event": "date",
                        "entry": {
                            "trait": entry.trait,
                            "value": value.isoformat(),
                            "date": anniversary.isoformat(),
                            "timezone": str(zone),
                        },
                    },
                )


def _occurrences(value: date, days: Sequence[date], *, yearly: bool) -> Iterator[date]:
    """The dates among ``days`` that are ``value``'s (anniversaries when ``yearly``;
    29 February falls on the 28th in other years)."""
    for day in days:
        if not yearly:
            if day == value:
                yield day
            continue
        if (day.month, day.day) == (value.month, value.day) or (
            (value.month, value.day, day.month, day.day) == (2, 29, 2, 28) and not _leap(day.year)
        ):
            yield day


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def date_traits(wh: Warehouse) -> dict[str, str]:
    """Trait name -> where it is read: ``profiles`` columns and record fields of date type."""
    found: dict[str, str] = {}
    for table in ("customer_records", "profiles"):
        for name, dtype in wh.spec(table).schema.items():
            if (dtype.is_date() or dtype.is_timestamp()) and name not in ("loaded_at", "built_at"):
                found[name] = table
    return found


def trait_values(
    wh: Warehouse, trait: str, days: Sequence[date], *, yearly: bool
) -> dict[str, date]:
    """Per profile, the date of ``trait``, for people whose date may fall on ``days``."""
    where = date_traits(wh)
    table = where.get(trait)
    if table is None:
        raise ValidationError(
            "entry.date.trait", trait, f"a date trait: {', '.join(sorted(where))}"
        )
    codes = sorted({d.month * 100 + d.day for d in days} | ({229} if yearly else set()))
    if table == "profiles":
        p = wh.table("profiles")
        col = p[trait]
        near = col.month() * 100 + col.day() if yearly else None
        keep = near.isin(codes) if near is not None else col.date().isin(list(days))
        rows = p.filter(col.notnull(), keep).select("profile_id", value=col).to_pyarrow()
        return {
            str(r["profile_id"]): _as_date(r["value"])
            for r in rows.to_pylist()
            if r["value"] is not None
        }
    # A record field: the newest record that has one wins (as templates read it).
    cr = wh.table("customer_records")
    rp = wh.table("record_profiles")
    joined = cr.join(rp, ["source", "record_id"])
    col = joined[trait]
    near = col.month() * 100 + col.day() if yearly else None
    keep = near.isin(codes) if near is not None else col.cast("date").isin(list(days))
    maybe = joined.filter(col.notnull(), keep).select("profile_id").distinct().to_pyarrow()
    ids = [str(p) for p in maybe.column(0).to_pylist()]
    values: dict[str, date] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        mine = joined.filter(joined.profile_id.isin(chunk), col.notnull())
        rows = mine.select("profile_id", "updated_at", value=col).to_pyarrow().to_pylist()
        newest: dict[str, tuple[Any, date]] = {}
        for r in rows:
            stamp = r["updated_at"] or datetime.min
            pid = str(r["profile_id"])
            if pid not in newest or stamp > newest[pid][0]:
                newest[pid] = (stamp, _as_date(r["value"]))
        values |= {pid: value for pid, (_, value) in newest.items()}
    return values


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- schedule entries ------------------------------------------------------------------


def schedule_candidates(
    wh: Warehouse,
    entry: ScheduleEntry,
    begin: datetime,
    until: datetime,
    default_zone: str,
    *,
    cache: ZoneCache | None = None,
) -> Iterator[Candidate]:
    """The people of ``entry`` at each of its ticks in ``[begin, until]`` (their zone's)."""
    from apscheduler.triggers.cron import CronTrigger

    # A cron tick in some zone falls in the window only if the wall clock of the widened
    # window has one: a cheap test before reading anyone (weekly schedules, mostly).
    naive = CronTrigger.from_crontab(entry.cron, timezone=UTC)
    if not list(_ticks(naive, begin - _ZONE_SPAN, until + _ZONE_SPAN)):
        return
    people = audience(wh, entry.segment)
    if entry.timezone == "person":
        zones = (cache or ZoneCache()).zones(wh, people, default_zone)
    else:
        zones = dict.fromkeys(people, _zone(default_zone))
    by_zone: dict[str, list[str]] = {}
    for pid in people:
        by_zone.setdefault(str(zones[pid]), []).append(pid)
    for name, pids in sorted(by_zone.items()):
        trigger = CronTrigger.from_crontab(entry.cron, timezone=_zone(name))
        for tick in _ticks(trigger, begin, until):
            moment = tick.astimezone(UTC)
            for pid in pids:
                yield Candidate(
                    subject=pid,
                    profile_id=pid,
                    entry_ref=f"schedule:{moment.isoformat()}:{pid}",
                    due_at=moment,
                    context={
                        "event": "schedule",
                        "entry": {"cron": entry.cron, "tick": tick.isoformat(), "timezone": name},
                    },
                )


def _ticks(trigger: Any, begin: datetime, until: datetime) -> Iterator[datetime]:
    tick = trigger.get_next_fire_time(None, begin)
    while tick is not None and tick <= until:
        yield tick
        tick = trigger.get_next_fire_time(tick, tick)


def audience(wh: Warehouse, segment: str | None) -> list[str]:
    """The segment's current members, or every profile."""
    if segment is not None:
        from omnichannel.segments.membership import current_members

        rows = current_members(wh, segment).to_pyarrow()
    else:
        rows = wh.table("profiles").select("profile_id").to_pyarrow()
    return sorted({str(p) for p in rows.column(0).to_pylist() if p is not None})


# --- time zones ------------------------------------------------------------------------


class ZoneCache:
    """People's time zones, read again at most every ``ZONES_FRESH``: a schedule in each
    person's zone is looked at every minute for everyone in its audience, and a person's
    zone (their latest event's) rarely changes; someone new is read at once."""

    def __init__(self, fresh: timedelta = ZONES_FRESH) -> None:
        self.fresh = fresh.total_seconds()
        self._zones: dict[str, ZoneInfo] = {}
        self._read_at = 0.0
        self._default: str | None = None
        self._lock = threading.Lock()

    def zones(
        self, wh: Warehouse, profile_ids: Sequence[str], default_zone: str
    ) -> dict[str, ZoneInfo]:
        with self._lock:
            stale = _monotonic() - self._read_at > self.fresh
            if stale or default_zone != self._default:
                self._zones, self._read_at, self._default = {}, _monotonic(), default_zone
            missing = [p for p in profile_ids if p not in self._zones]
            if missing:
                self._zones |= zones_of(wh, missing, default_zone)
            return {p: self._zones[p] for p in profile_ids}


_CACHES: weakref.WeakKeyDictionary[Any, ZoneCache] = weakref.WeakKeyDictionary()


def zone_cache(platform: Platform) -> ZoneCache:
    """The installation's zone cache (one per open Platform)."""
    cache = _CACHES.get(platform)
    if cache is None:
        cache = _CACHES[platform] = ZoneCache()
    return cache


def _monotonic() -> float:
    return time_module.monotonic()


def zones_of(wh: Warehouse, profile_ids: Iterable[str], default_zone: str) -> dict[str, ZoneInfo]:
    """Per profile, its own time zone (latest event's), else the installation's."""
    from omnichannel.channels.addresses import identifiers_of, timezones_of

    ids = sorted(set(profile_ids))
    fallback = _zone(default_zone)
    own: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        own |= timezones_of(wh, identifiers_of(wh, chunk))
    zones = {}
    for pid in ids:
        try:
            zones[pid] = _zone(own[pid]) if pid in own else fallback
        except ZoneInfoNotFoundError:
            zones[pid] = fallback  # an event said a zone that does not exist
    return zones


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneInfoNotFoundError(name) from None


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
