"""The journey trigger: a durable consumer that turns stored events into journey moves.

It reads each batch of stored events once (``consumers/``: after its checkpoint, in
``load_seq`` order, at least once; ``start_at="end"``, so history is never replayed into
journeys) for every journey at once, and does three things:

1. **entries** of live journeys: ``event`` entries (name, ``where`` filters, the ``key``
   property read with ``matching.key_text``) and ``segment`` entries (the ``Segment
   Entered`` / ``Segment Exited`` events the segment updater stores, which name their
   person in ``properties.profile_id``), through ``enrol.enrol_many``: one call per
   journey per batch. Events stored before the journey started, or that happened more
   than ``SKEW`` before it, enrol nobody, so starting a journey never enrols from history.
2. **wait_for matches**: an enrolment waiting for an event (``state=waiting``,
   ``wait_event``) of the same person, carrying the same entry key with ``same_key`` and
   passing the step's ``where``, happening before the timeout (``due_at``), is made due
   now: ``matched_at``, ``context.matched`` (the event's properties), ``state=active``,
   ``due_at=now``, its lease cleared (a worker timing it out right then records
   nothing); the engine then takes ``on_event``. An enrolment whose next step is the
   wait_for (during a ``wait`` before it) is matched too and keeps its due time.

3. **goals**: an enrolment whose goal event comes within ``goal_until`` gets
   ``converted_at`` (once), and with ``goal.exit`` an open one is exited
   (``exit_reason="goal"``, ``open_key`` NULL, its lease cleared so a worker running its
   step finds it gone and records nothing). Finished enrolments still in their window are
   counted as converted too.

Waits and goals follow the version each enrolment entered, and run for live and paused
journeys (the event happened; a paused journey's steps wait, its conversions count).
Events are matched to enrolments by person: the profile their identifiers link to, else
their identifiers (``people.py``). An entry event's ``load_seq`` is kept in the
enrolment's context, so only later events can match its waits and goal, even when both
arrive in one batch or a batch is replayed. A replayed batch changes nothing: entries
are unique by the event's message id, matches and conversions are conditional updates.

After anything was enrolled or made due it wakes the engine
(``platform.journeys.wake()``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from omnichannel.consumers.runner import StartAt
from omnichannel.errors import OmniError
from omnichannel.identity.rules import IdentityRules
from omnichannel.journeys.definition import JourneyDefinition, WaitForStep, parse_journey
from omnichannel.journeys.enrol import Candidate, enrol_many
from omnichannel.journeys.matching import key_text, passes, property_value
from omnichannel.journeys.people import (
    SUBJECT_TYPES,
    identifier_subjects,
    own_subjects,
    profiles_of,
    typed_identifiers,
)
from omnichannel.opstore.models import (
    OPEN_ENROLMENT_STATES,
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyVersion,
    utcnow,
)
from omnichannel.segments.membership import ENTERED_EVENT, EVENT_SOURCE, EXITED_EVENT

if TYPE_CHECKING:
    from omnichannel.opstore import OpStore
    from omnichannel.platform import Platform
    from omnichannel.warehouse.access import WarehouseAccess

log = logging.getLogger(__name__)

CONSUMER_NAME = "journeys"
# An event may say it happened this long before the journey started (client clocks).
SKEW = timedelta(minutes=5)
CHUNK = 500
_COLUMNS = (
    "load_seq",
    "message_id",
    "event",
    "source",
    "user_id",
    "anonymous_id",
    "context_device_id",
    "timestamp",
    "loaded_at",
    "properties",
)


@dataclass
class Event:
    """One stored event as the trigger sees it: who, what, when."""

    seq: int
    message_id: str
    name: str
    at: datetime  # when it happened, UTC-aware
    loaded_at: datetime | None
    properties: dict[str, Any]
    subject: str  # the profile id, else the first identifier subject
    profile_id: str | None
    aliases: tuple[str, ...]  # every subject the person may be enrolled under

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.subject, *self.aliases)))


@dataclass
class Live:
    """A journey the trigger serves, with every version its enrolments may follow."""

    journey: Journey
    versions: dict[int, JourneyDefinition]

    @property
    def current(self) -> JourneyDefinition | None:
        version = self.journey.live_version
        return self.versions.get(version) if version is not None else None


@dataclass
class BatchResult:
    """What one batch did (for tests, logs and the benchmark)."""

    enrolled: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    matched: int = 0
    converted: int = 0
    exited: int = 0


@dataclass
class JourneyTrigger:
    """Entries, wait_for matches and goals of every journey, from the event stream."""

    opstore: OpStore
    warehouse: WarehouseAccess
    rules: Callable[[], IdentityRules]
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utcnow
    name: str = CONSUMER_NAME
    start_at: StartAt = "end"
    on_batch: list[Callable[[BatchResult], None]] = field(default_factory=list)
    # Parsed documents by (journey id, version): a version never changes once saved.
    _parsed: dict[tuple[int, int], JourneyDefinition] = field(default_factory=dict)
    _broken: set[tuple[int, int]] = field(default_factory=set)

    @classmethod
    def of(cls, platform: Platform) -> JourneyTrigger:
        return cls(
            platform.opstore,
            platform.warehouse,
            lambda: platform.config.rules,
            wake=lambda: wake_engine(platform),
            clock=lambda: clock_of(platform),
        )

    # --- the batch ---------------------------------------------------------------------

    def handle(self, batch: pa.Table) -> None:
        started = time.perf_counter()
        now = self.clock()
        journeys = self.journeys()
        if not journeys:
            return
        names = _listened(journeys)
        wanted = batch.filter(pc.fill_null(pc.is_in(batch.column("event"), pa.array(names)), False))
        if wanted.num_rows == 0:
            return
        events = self.people(wanted.select(list(_COLUMNS)).to_pylist())
        result = BatchResult()
        with self.opstore.session() as session:
            entered = self._entries(session, journeys, events, now, result)
            self._waits(session, journeys, events, now, result)
            self._goals(session, journeys, events, now, result, entered)
        if result.enrolled or result.matched:
            self.wake()
        if result.enrolled or result.matched or result.converted:
            stored = [e.loaded_at for e in events if e.loaded_at is not None]
            log.info(
                "journey trigger: %d entered, %d matched, %d converted",
                result.enrolled,
                result.matched,
                result.converted,
                extra={
                    "consumer": self.name,
                    "events": batch.num_rows,
                    "refused": result.refused,
                    "seconds": round(time.perf_counter() - started, 3),
                    # How long after being stored the batch's oldest event was handled.
                    "behind_seconds": round((now - min(stored)).total_seconds(), 3)
                    if stored
                    else None,
                },
            )
        for listener in self.on_batch:
            listener(result)

    def journeys(self) -> list[Live]:
        """Live and paused journeys, each with its saved versions parsed (cached)."""
        with self.opstore.session() as session:
            rows = list(
                session.scalars(
                    select(Journey).where(
                        Journey.status.in_([JourneyStatus.LIVE, JourneyStatus.PAUSED])
                    )
                )
            )
            if not rows:
                return []
            ids = [j.id for j in rows]
            pairs = session.execute(
                select(JourneyVersion.journey_id, JourneyVersion.version).where(
                    JourneyVersion.journey_id.in_(ids)
                )
            ).all()
            missing = [
                (j, v)
                for j, v in pairs
                if (j, v) not in self._parsed and (j, v) not in self._broken
            ]
            for j, v in missing:
                stored = session.get(JourneyVersion, (j, v))
                if stored is None:
                    continue
                try:
                    self._parsed[(j, v)] = parse_journey(stored.definition)
                except OmniError as exc:
                    # A stored document that no longer parses (written by another version
                    # of Omnichannel?) must not stop every other journey's entries.
                    self._broken.add((j, v))
                    log.error(
                        "journey trigger: a stored journey version does not parse; skipped",
                        extra={"journey_id": j, "version": v, "error": str(exc)},
                    )
        out = []
        for journey in rows:
            versions = {v: d for (j, v), d in self._parsed.items() if j == journey.id}
            out.append(Live(journey, versions))
        return out

    def people(self, rows: list[dict[str, Any]]) -> list[Event]:
        """The batch's events with their person: profile, else identifier subject."""
        rules = self.rules()
        pairs = {p for row in rows for p in typed_identifiers(row, rules)}
        with self.warehouse.reader() as wh:
            owner = profiles_of(wh, pairs) if pairs else {}
        events = []
        for row in rows:
            props = _properties(row.get("properties"))
            aliases = own_subjects(row)
            profile: str | None = None
            if row.get("source") == EVENT_SOURCE:
                found = props.get("profile_id")
                profile = str(found) if found else None
            else:
                profile = next(
                    (owner[p] for p in typed_identifiers(row, rules) if p in owner), None
                )
            subject = profile or (aliases[0] if aliases else None)
            if subject is None:
                continue  # nobody to enrol or match
            events.append(
                Event(
                    seq=int(row["load_seq"] or 0),
                    message_id=str(row["message_id"]),
                    name=str(row["event"]),
                    at=_aware(row["timestamp"]) if row.get("timestamp") else self.clock(),
                    loaded_at=_aware(row["loaded_at"]) if row.get("loaded_at") else None,
                    properties=props,
                    subject=subject,
                    profile_id=profile,
                    aliases=tuple(aliases),
                )
            )
        return events

    # --- 1. entries --------------------------------------------------------------------

    def _entries(
        self,
        session: Session,
        journeys: list[Live],
        events: list[Event],
        now: datetime,
        result: BatchResult,
    ) -> dict[int, int]:
        """Enrol from entry events; returns new enrolment id -> its entry event's seq."""
        made: dict[int, int] = {}
        for live in journeys:
            definition = live.current
            if live.journey.status != JourneyStatus.LIVE or definition is None:
                continue
            since = _started(live.journey)
            chosen = [
                (e, c)
                for e in events
                if _counts_from(e, since)
                for c in [_candidate(definition, e, now)]
                if c is not None
            ]
            # Earlier events first, and among events of one moment (a segment refresh's
            # thousands of Segment Entered) by person: who takes a capped journey's last
            # places must not depend on the order the warehouse happened to store them.
            chosen.sort(key=lambda pair: (pair[0].at, pair[0].subject, pair[0].message_id))
            if not chosen:
                continue
            results = enrol_many(
                session,
                live.journey,
                definition,
                [c for _, c in chosen],
                now=now,
                warehouse=self.warehouse,
            )
            for (event, _), outcome in zip(chosen, results, strict=True):
                if outcome.enrolled and outcome.enrolment_id is not None:
                    made[outcome.enrolment_id] = event.seq
                    result.enrolled += 1
                elif outcome.reason:
                    result.refused[outcome.reason] = result.refused.get(outcome.reason, 0) + 1
        return made

    # --- 2. wait_for -------------------------------------------------------------------

    def _waits(
        self,
        session: Session,
        journeys: list[Live],
        events: list[Event],
        now: datetime,
        result: BatchResult,
    ) -> None:
        by_id = {live.journey.id: live for live in journeys}
        awaited = {
            step.wait_for.event
            for live in journeys
            for d in live.versions.values()
            for step in d.steps.values()
            if isinstance(step, WaitForStep)
        }
        relevant = [e for e in events if e.name in awaited]
        if not relevant:
            return
        self._add_profile_subjects(session, relevant)
        e = JourneyEnrolment
        wait_steps = sorted(
            {
                name
                for live in journeys
                for d in live.versions.values()
                for name, step in d.steps.items()
                if isinstance(step, WaitForStep)
            }
        )
        # Through coalesce, so SQLite (no statistics) takes the person or waiting index
        # rather than walking every waiting enrolment by the state index.
        state = func.coalesce(e.state, "")
        waiting = self._enrolments_of(
            session,
            relevant,
            state == EnrolmentState.WAITING.value,
            e.wait_event.in_(sorted(awaited)),
            e.journey_id.in_(list(by_id)),
        )
        # Not waiting yet, but their next step is the wait_for (after a wait, say): an
        # event now counts too, and the engine takes on_event when it gets there.
        coming = self._enrolments_of(
            session,
            relevant,
            state == EnrolmentState.ACTIVE.value,
            e.step.in_(wait_steps),
            e.journey_id.in_(list(by_id)),
        )
        for enrolment in [*waiting, *coming]:
            live = by_id[enrolment.journey_id]
            definition = live.versions.get(enrolment.journey_version)
            step = definition.steps.get(enrolment.step or "") if definition else None
            if definition is None or not isinstance(step, WaitForStep):
                continue
            match = next(
                (ev for ev in relevant if _waited(definition, step, enrolment, ev, now)), None
            )
            if match is None:
                continue
            context = {**(enrolment.context or {}), "matched": match.properties}
            context["matched_event"] = {"event": match.name, "message_id": match.message_id}
            values: dict[str, Any] = {
                "matched_at": now,
                "context": context,
                "updated_at": now,
                # A worker holding it is timing the wait out, or beginning it: its
                # advance is conditional on the lease (and on no match), so it now
                # records nothing, and the row is claimed again for on_event.
                "lease_holder": None,
                "lease_until": None,
            }
            if enrolment.state == EnrolmentState.WAITING:
                values |= {"state": EnrolmentState.ACTIVE, "due_at": now}
            done = session.execute(
                update(e)
                .where(
                    e.id == enrolment.id,
                    e.state == enrolment.state,
                    e.step == enrolment.step,
                    e.visit == enrolment.visit,
                    e.matched_at.is_(None),
                )
                .values(**values)
            )
            result.matched += int(getattr(done, "rowcount", 0) or 0)

    # --- 3. goals ----------------------------------------------------------------------

    def _goals(
        self,
        session: Session,
        journeys: list[Live],
        events: list[Event],
        now: datetime,
        result: BatchResult,
        entered: dict[int, int],
    ) -> None:
        by_id = {live.journey.id: live for live in journeys}
        goal_names = {
            d.goal.event for live in journeys for d in live.versions.values() if d.goal is not None
        }
        relevant = [e for e in events if e.name in goal_names]
        if not relevant:
            return
        self._add_profile_subjects(session, relevant)
        e = JourneyEnrolment
        oldest = min(ev.at for ev in relevant)
        candidates = self._enrolments_of(
            session,
            relevant,
            e.journey_id.in_(list(by_id)),
            e.converted_at.is_(None),
            e.goal_until >= oldest,
        )
        for enrolment in candidates:
            definition = by_id[enrolment.journey_id].versions.get(enrolment.journey_version)
            goal = definition.goal if definition is not None else None
            if definition is None or goal is None:
                continue
            after = entered.get(enrolment.id, _entry_seq(enrolment))
            match = next(
                (
                    ev
                    for ev in relevant
                    if ev.name == goal.event
                    and ev.seq > after
                    and _same_person(enrolment, ev)
                    and enrolment.goal_until is not None
                    and ev.at <= _aware(enrolment.goal_until)
                    and (not goal.same_key or _key_of(definition, ev) == enrolment.entry_key)
                    and passes(goal.where, ev.properties, now)
                ),
                None,
            )
            if match is None:
                continue
            converted_at = max(match.at, _aware(enrolment.entered_at))
            values: dict[str, Any] = {"converted_at": converted_at, "updated_at": now}
            leaving = goal.exit and enrolment.state in OPEN_ENROLMENT_STATES
            if leaving:
                values |= {
                    "state": EnrolmentState.EXITED,
                    "exit_reason": "goal",
                    "open_key": None,
                    "due_at": None,
                    "finished_at": now,
                    "lease_holder": None,
                    "lease_until": None,
                }
            done = session.execute(
                update(e).where(e.id == enrolment.id, e.converted_at.is_(None)).values(**values)
            )
            if getattr(done, "rowcount", 0):
                result.converted += 1
                result.exited += int(leaving)

    # --- shared reads ------------------------------------------------------------------

    def _enrolments_of(
        self, session: Session, events: list[Event], *conditions: Any
    ) -> list[JourneyEnrolment]:
        """Enrolments (meeting ``conditions``) of the people of ``events``."""
        subjects = sorted({s for ev in events for s in ev.subjects})
        e = JourneyEnrolment
        found: dict[int, JourneyEnrolment] = {}
        for start in range(0, len(subjects), CHUNK):
            chunk = subjects[start : start + CHUNK]
            # By subject (the (subject, journey_id) index): every subject the person may
            # be enrolled under is among the events' subjects.
            rows = session.scalars(select(e).where(e.subject.in_(chunk), *conditions))
            for row in rows:
                found[row.id] = row
        return sorted(found.values(), key=lambda r: r.id)

    def _add_profile_subjects(self, session: Session, events: list[Event]) -> None:
        """Let identifier-subject enrolments (made before a profile existed) see the
        events of that person's other identifiers: only read when any such is open."""
        profiles = sorted({ev.profile_id for ev in events if ev.profile_id})
        if not profiles or not _identifier_enrolments_open(session):
            return
        with self.warehouse.reader() as wh:
            linked = identifier_subjects(wh, profiles)
        for ev in events:
            if ev.profile_id in linked:
                ev.aliases = tuple(dict.fromkeys((*ev.aliases, *linked[ev.profile_id])))


def _identifier_enrolments_open(session: Session) -> bool:
    """Is anyone in a journey under an identifier subject? A range of the subject index
    per identifier type (``user_id:`` up to ``user_id;``), not a scan of every enrolment."""
    e = JourneyEnrolment
    for prefix in SUBJECT_TYPES:
        low, high = f"{prefix}:", f"{prefix};"
        found = session.scalar(
            select(e.id)
            .where(
                e.subject >= low,
                e.subject < high,
                func.coalesce(e.state, "").in_([s.value for s in OPEN_ENROLMENT_STATES]),
            )
            .limit(1)
        )
        if found is not None:
            return True
    return False


# --- what counts -----------------------------------------------------------------------


def _listened(journeys: Iterable[Live]) -> list[str]:
    names: set[str] = set()
    for live in journeys:
        for d in live.versions.values():
            names |= d.event_names()
    return sorted(names)


def _started(journey: Journey) -> datetime:
    at = journey.started_at or journey.updated_at or journey.created_at
    return _aware(at)


def _counts_from(event: Event, since: datetime) -> bool:
    """An entry counts if stored after the journey started and not from well before."""
    if event.loaded_at is not None and event.loaded_at < since:
        return False
    return event.at >= since - SKEW


def _candidate(definition: JourneyDefinition, event: Event, now: datetime) -> Candidate | None:
    entry = definition.entry
    context: dict[str, Any] = {
        "event": event.name,
        "entry": event.properties,
        "load_seq": event.seq,
        "message_id": event.message_id,
    }
    if entry.event is not None:
        if event.name != entry.event.name or not passes(entry.event.where, event.properties, now):
            return None
        key = ""
        if entry.event.key is not None:
            key = key_text(property_value(event.properties, entry.event.key)) or ""
            if not key:
                return None  # a keyed journey needs the key to tell things in flight apart
    elif entry.segment is not None:
        wanted = ENTERED_EVENT if entry.segment.entered else EXITED_EVENT
        if event.name != wanted or event.properties.get("segment") != entry.segment.segment:
            return None
        if event.profile_id is None:
            return None
        key = ""
    else:
        return None  # date and schedule entries are the journey-entries job's
    return Candidate(
        subject=event.subject,
        entry_ref=event.message_id,
        profile_id=event.profile_id,
        entry_key=key,
        context=context,
        aliases=event.aliases,
    )


def _waited(
    definition: JourneyDefinition,
    step: WaitForStep,
    enrolment: JourneyEnrolment,
    event: Event,
    now: datetime,
) -> bool:
    wait = step.wait_for
    if event.name != wait.event or event.seq <= _entry_seq(enrolment):
        return False
    if not _same_person(enrolment, event):
        return False
    waiting = enrolment.state == EnrolmentState.WAITING
    if waiting and enrolment.due_at is not None and event.at > _aware(enrolment.due_at):
        return False  # it came after the timeout
    if wait.same_key and _key_of(definition, event) != enrolment.entry_key:
        return False
    return passes(wait.where, event.properties, now)


def _same_person(enrolment: JourneyEnrolment, event: Event) -> bool:
    subjects = set(event.subjects)
    return enrolment.subject in subjects or (
        enrolment.profile_id is not None and enrolment.profile_id in subjects
    )


def _key_of(definition: JourneyDefinition, event: Event) -> str:
    key = definition.entry.key
    return (key_text(property_value(event.properties, key)) or "") if key else ""


def _entry_seq(enrolment: JourneyEnrolment) -> int:
    value = (enrolment.context or {}).get("load_seq")
    return int(value) if isinstance(value, int) else 0


def _properties(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def clock_of(platform: Platform) -> datetime:
    """Now, as the journey engine sees it (``JourneyRuntime.clock``: real or virtual)."""
    capability: Any = getattr(platform, "journeys", None)
    runtime = getattr(capability, "runtime", None) if capability is not None else None
    return runtime.clock() if runtime is not None else utcnow()


def wake_engine(platform: Platform) -> None:
    """Tell the journey engine that enrolments are due now (when it has landed).

    A failing wake must not fail the batch (the events would come again and enrol
    nobody new): the engine also looks by itself at the next due time."""
    if getattr(type(platform), "journeys", None) is None:
        return
    try:
        capability: Any = getattr(platform, "journeys")  # noqa: B009 - not on every Platform yet
        capability.wake()
    except Exception:
        log.warning("journey trigger: waking the engine failed", exc_info=True)
