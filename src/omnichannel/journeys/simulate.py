"""A journey's dry run over the last N days of stored events: sends nothing, writes nothing.

What it does, in order:

1. reads the window's events the journey listens for (entry, ``wait_for``, goal; the
   ``Segment Entered``/``Exited`` events for a segment entry) in one query, each with the
   profile its identifiers belong to (``segments.sources``: the same attribution the
   segment language uses); an event of an identifier no profile holds yet is the
   person ``user_id:42`` / ``anonymous_id:abc``, as the entries would enrol them;
2. lists the entry occasions (an event entry's matching events; segment changes; a date
   trait's days and a schedule's ticks as the entries job finds them, in each person's
   zone, ``journeys/scheduled.py``), and
   applies, in time order and in memory, the audience (its current members), the entry
   key, one open enrolment per person and key, re-entry and the journey's caps;
3. walks each accepted enrolment through the steps on a virtual clock: waits move the
   clock (``wait_until`` in the person's time zone, ``wait_send_time`` to the person's
   best hour from ``platform.send_times``), ``wait_for`` looks for the person's real
   later event within the timeout, ``condition`` is the segment language evaluated once
   per step for every candidate (as of the window's end), ``split`` uses the engine's
   hash (``split.arm_for`` on ``sim:{subject}:{entry_ref}:{step}``), the goal converts
   and, with ``exit``, ends the walk; whoever's clock passes the window's end is counted
   as still in the journey, at the step they wait in;
4. counts the sends per step (channel, template), the people without an address on
   that channel (one address lookup per channel, as the send path does it) and those
   without a profile apart. Consent, caps and quiet hours are the send path's business
   at send time and are not predicted.

Example::

    simulate(platform, parse_journey(text), days=14)["steps"]
    # [{"step": "wait-an-hour", "kind": "wait", "reached": 120, "routes": {"next": 120}...
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from omnichannel.errors import ValidationError
from omnichannel.journeys import definition as d
from omnichannel.journeys.enrol import (
    AUDIENCE,
    IN_FLIGHT_SAME_KEY,
    LIMIT_IN_FLIGHT,
    LIMIT_PER_DAY,
    REENTRY,
)
from omnichannel.journeys.matching import key_text, passes, property_value

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

MAX_VISITS = 1_000  # a loop must pass a wait, so the clock ends it; this bounds the rest
MAX_EVENTS = 2_000_000


@dataclass
class Event:
    message_id: str
    name: str
    at: datetime  # naive UTC, as the warehouse keeps it
    subject: str
    profile_id: str | None
    properties: dict[str, Any]


@dataclass(order=True)
class Occasion:
    at: datetime
    entry_ref: str
    subject: str = field(compare=False)
    profile_id: str | None = field(compare=False)
    key: str = field(compare=False, default="")
    properties: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class Counts:
    reached: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    routes: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    waiting: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sends: dict[str, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    exited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    completed: int = 0
    in_flight: int = 0
    converted: int = 0


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def simulate(
    platform: Platform,
    definition: d.JourneyDefinition,
    *,
    days: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The dry run's counts (see the module docstring); reads only."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise ValidationError("days", days, "a whole number of days from 1 to 366")
    end = _naive(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    with platform.warehouse.reader() as wh:
        run = _Run(platform, wh, definition, start, end)
        return run.result(days)


class _Run:
    def __init__(
        self,
        platform: Platform,
        wh: Warehouse,
        definition: d.JourneyDefinition,
        start: datetime,
        end: datetime,
    ) -> None:
        self.platform, self.wh, self.j = platform, wh, definition
        self.start, self.end = start, end
        self.zone = ZoneInfo(platform.config.timezone)
        self.events = _events(platform, wh, definition, start, end)
        self.by_subject: dict[str, list[Event]] = defaultdict(list)
        for event in self.events:
            self.by_subject[event.subject].append(event)
        self.counts = Counts()
        self.seen = 0
        self.occasions = self._occasions()
        self.candidates = sorted({o.profile_id for o in self.occasions if o.profile_id})
        self.conditions = self._conditions()
        self.zones = self._zones()
        self.send_times: dict[tuple[str, datetime], dict[str, datetime]] = {}
        self.people: set[str] = set()
        self.entered = 0

    # --- 2. who enters -----------------------------------------------------------------

    def _occasions(self) -> list[Occasion]:
        entry = self.j.entry
        found: list[Occasion] = []
        if entry.event is not None:
            wanted = entry.event
            for e in self.events:
                if e.name == wanted.name and passes(wanted.where, e.properties, e.at):
                    key = ""
                    if wanted.key is not None:
                        text = key_text(property_value(e.properties, wanted.key))
                        if text is None:
                            self.counts.refused["no_key"] += 1
                            continue
                        key = text
                    found.append(
                        Occasion(e.at, e.message_id, e.subject, e.profile_id, key, e.properties)
                    )
        elif entry.segment is not None:
            name = "Segment Entered" if entry.segment.entered else "Segment Exited"
            for e in self.events:
                if e.name == name and e.properties.get("segment") == entry.segment.segment:
                    found.append(
                        Occasion(e.at, e.message_id, e.subject, e.profile_id, "", e.properties)
                    )
        elif entry.date is not None:
            found = self._timed_occasions(entry.date)
        elif entry.schedule is not None:
            found = self._timed_occasions(entry.schedule)
        self.seen = len(found) + self.counts.refused.get("no_key", 0)
        if entry.audience is not None:
            members = self._members(entry.audience)
            kept = [o for o in found if o.profile_id in members]
            self.counts.refused[AUDIENCE] += len(found) - len(kept)
            found = kept
        return sorted(found)

    def _members(self, segment: str) -> set[str]:
        from omnichannel.segments.membership import current_members

        ids = current_members(self.wh, segment).to_pyarrow().column("profile_id").to_pylist()
        return {str(p) for p in ids}

    def _timed_occasions(self, entry: d.DateEntry | d.ScheduleEntry) -> list[Occasion]:
        """A date trait's days or a schedule's ticks in the window, each person's moment
        in their own zone: the entries' own candidates (``journeys/scheduled.py``)."""
        from omnichannel.journeys.scheduled import date_candidates, schedule_candidates

        begin, until = self.start.replace(tzinfo=UTC), self.end.replace(tzinfo=UTC)
        zone = self.platform.config.timezone
        candidates = (
            date_candidates(self.wh, entry, begin, until, zone)
            if isinstance(entry, d.DateEntry)
            else schedule_candidates(self.wh, entry, begin, until, zone)
        )
        found = []
        for c in candidates:
            at = _naive(c.due_at or begin)
            if at < self.end:
                found.append(Occasion(at, c.entry_ref, c.subject, c.profile_id, c.entry_key))
        return found

    # --- evaluations done once ----------------------------------------------------------

    def _conditions(self) -> dict[str, set[str]]:
        """Per condition step, which candidates meet it (as of the window's end)."""
        import ibis

        from omnichannel.segments.compile import members
        from omnichannel.segments.definition import SegmentDefinition

        met: dict[str, set[str]] = {}
        for name, step in self.j.steps.items():
            if not isinstance(step, d.ConditionStep):
                continue
            if not self.candidates:
                met[name] = set()
                continue
            segment = SegmentDefinition(name="journey-simulation", condition=step.condition)
            ids = ibis.memtable({"profile_id": self.candidates})
            found = members(
                segment, self.wh, now=self.end, profile_ids=ids, rules=self.platform.config.rules
            )
            met[name] = {str(p) for p in self.wh.query(found).column("profile_id").to_pylist()}
        return met

    def _zones(self) -> dict[str, ZoneInfo]:
        if not any(isinstance(s, d.WaitUntilStep) for s in self.j.steps.values()):
            return {}
        from omnichannel.journeys.scheduled import zones_of

        return zones_of(self.wh, self.candidates, self.platform.config.timezone)

    def _best_time(
        self, step: d.WaitSendTimeStep, profile_id: str | None, clock: datetime
    ) -> datetime:
        """The person's next best moment on the channel (one lookup per hour and step
        for every candidate, since a walk is one person at a time)."""
        if profile_id is None:
            return clock
        hour = clock.replace(minute=0, second=0, microsecond=0)
        key = (step.wait_send_time.channel, hour)
        if key not in self.send_times:
            self.send_times[key] = self.platform.send_times.next_best(
                self.candidates,
                step.wait_send_time.channel,
                after=hour,
                within=step.wait_send_time.within,
            )
        best = self.send_times[key].get(profile_id)
        return max(_naive(best), clock) if best is not None else clock

    # --- 3. the walk -------------------------------------------------------------------

    def result(self, days: int) -> dict[str, Any]:
        # Per person and entry key, as the entries decide (enrol.py): when the open
        # enrolment ends, and when they last entered.
        open_until: dict[str, datetime] = {}
        last_entry: dict[str, datetime] = {}
        finishes: list[datetime] = []  # a heap of the open enrolments' ends
        per_day: dict[Any, int] = defaultdict(int)
        limits, reentry = self.j.limits, self.j.reentry
        for o in self.occasions:
            open_key = f"{o.subject}\x1f{o.key}"
            if open_until.get(open_key, o.at) > o.at:
                self.counts.refused[IN_FLIGHT_SAME_KEY] += 1
                continue
            last = last_entry.get(open_key)
            if last is not None and (
                reentry.mode == "never"
                or (
                    reentry.mode == "after"
                    and reentry.wait is not None
                    and o.at < last + reentry.wait
                )
            ):
                self.counts.refused[REENTRY] += 1
                continue
            if (
                limits.entries_per_day is not None
                and per_day[o.at.date()] >= limits.entries_per_day
            ):
                self.counts.refused[LIMIT_PER_DAY] += 1
                continue
            while finishes and finishes[0] <= o.at:
                heapq.heappop(finishes)  # ended before this entry: no longer in flight
            if limits.in_flight is not None and len(finishes) >= limits.in_flight:
                self.counts.refused[LIMIT_IN_FLIGHT] += 1
                continue
            per_day[o.at.date()] += 1
            last_entry[open_key] = o.at
            self.entered += 1
            self.people.add(o.subject)
            finish = self._walk(o)
            open_until[open_key] = finish
            heapq.heappush(finishes, finish)
        return self._public(days)

    def _goal(self, o: Occasion) -> datetime | None:
        goal = self.j.goal
        if goal is None:
            return None
        until = o.at + goal.within
        for e in self.by_subject.get(o.subject, []):
            if e.at <= o.at or e.at > until or e.name != goal.event:
                continue
            if (
                goal.same_key
                and key_text(property_value(e.properties, self.j.entry.key or "")) != o.key
            ):
                continue
            if passes(goal.where, e.properties, e.at):
                return e.at
        return None

    def _walk(self, o: Occasion) -> datetime:
        """One enrolment through the steps; when it ends (``datetime.max``: still in)."""
        goal_at = self._goal(o)
        if goal_at is not None:
            self.counts.converted += 1
        goal_exit = self.j.goal is not None and self.j.goal.exit
        clock, visits = o.at, 0
        name: str | None = self.j.start
        last = self.j.start
        while name is not None and visits < MAX_VISITS:
            if goal_at is not None and goal_exit and clock >= goal_at:
                self.counts.exited["goal"] += 1
                return goal_at
            if clock >= self.end:
                self.counts.in_flight += 1
                self.counts.waiting[last] += 1
                return datetime.max
            step = self.j.steps[name]
            self.counts.reached[name] += 1
            visits += 1
            last = name
            clock, route = self._run_step(name, step, o, clock)
            if route == "holdout":
                self.counts.routes[name][route] += 1
                return self._held_out(o, goal_at, name)
            if route == "exit":
                reason = step.exit.reason if isinstance(step, d.ExitStep) else "exit_step"
                self.counts.exited[reason] += 1
                return clock
            self.counts.routes[name][route] += 1
            name = d.routes(step).get(route)
        self.counts.completed += 1
        return clock

    def _held_out(self, o: Occasion, goal_at: datetime | None, step: str) -> datetime:
        goal = self.j.goal
        until = o.at + goal.within if goal is not None else o.at
        if goal_at is not None and goal is not None and goal.exit:
            self.counts.exited["goal"] += 1
            return goal_at
        if until >= self.end:
            self.counts.in_flight += 1
            self.counts.waiting[step] += 1
            return datetime.max
        self.counts.exited["holdout"] += 1
        return until

    def _run_step(self, name: str, step: Any, o: Occasion, clock: datetime) -> tuple[datetime, str]:
        """(the clock after the step, the route it takes)."""
        from omnichannel.journeys.split import arm_for

        if isinstance(step, d.WaitStep):
            return clock + step.wait, "next"
        if isinstance(step, d.WaitUntilStep):
            return self._until(step.wait_until, o.profile_id, clock), "next"
        if isinstance(step, d.WaitSendTimeStep):
            return self._best_time(step, o.profile_id, clock), "next"
        if isinstance(step, d.WaitForStep):
            return self._wait_for(step.wait_for, o, clock)
        if isinstance(step, d.ConditionStep):
            return clock, "then" if o.profile_id in self.conditions[name] else "else"
        if isinstance(step, d.SplitStep):
            return clock, arm_for(f"sim:{o.subject}:{o.entry_ref}:{name}", step.split)
        if isinstance(step, d.SendStep):
            self.counts.sends[name].append(o.profile_id)
        elif isinstance(step, d.WebhookStep):
            self.counts.sends[name].append(o.profile_id or o.subject)
        elif isinstance(step, d.ExitStep):
            return clock, "exit"
        return clock, "next"

    def _until(self, wait: d.WaitUntil, profile_id: str | None, clock: datetime) -> datetime:
        zone = self.zones.get(profile_id or "", self.zone)
        local = clock.replace(tzinfo=UTC).astimezone(zone)
        hour, minute = (int(x) for x in wait.time.split(":"))
        for ahead in range(8):
            day = local + timedelta(days=ahead)
            moment = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
            weekday = d.WEEKDAYS[moment.weekday()]
            if moment >= local and (not wait.days or weekday in wait.days):
                return _naive(moment)
        return clock  # unreachable: some day of the next eight is allowed

    def _wait_for(self, wait: d.WaitFor, o: Occasion, clock: datetime) -> tuple[datetime, str]:
        timeout = clock + wait.timeout
        for e in self.by_subject.get(o.subject, []):
            if e.at <= clock or e.at > timeout or e.name != wait.event:
                continue
            if (
                wait.same_key
                and key_text(property_value(e.properties, self.j.entry.key or "")) != o.key
            ):
                continue
            if passes(wait.where, e.properties, e.at):
                return e.at, "on_event"
        return timeout, "on_timeout"

    # --- 4. the answer -----------------------------------------------------------------

    def _public(self, days: int) -> dict[str, Any]:
        c = self.counts
        steps = [
            {
                "step": name,
                "kind": d.step_kind(self.j.steps[name]),
                "reached": c.reached.get(name, 0),
                "routes": dict(c.routes.get(name, {})),
                "waiting": c.waiting.get(name, 0),
            }
            for name in self.j.reachable()
        ]
        return {
            "journey": self.j.name,
            "days": days,
            "start": self.start.replace(tzinfo=UTC).isoformat(),
            "end": self.end.replace(tzinfo=UTC).isoformat(),
            "events_read": len(self.events),
            "entries_seen": self.seen,
            "entered": self.entered,
            "refused": dict(sorted(c.refused.items())),
            "people": len(self.people),
            "steps": steps,
            "sends": self._sends(),
            "completed": c.completed,
            "exited": dict(sorted(c.exited.items())),
            "in_flight": c.in_flight,
            "converted": c.converted,
            "sent_nothing": True,
        }

    def _sends(self) -> list[dict[str, Any]]:
        answer = []
        for name in self.j.reachable():
            step = self.j.steps[name]
            people = self.counts.sends.get(name, [])
            if isinstance(step, d.WebhookStep):
                answer.append(_send(name, "webhook", None, len(people), 0, 0))
            elif isinstance(step, d.SendStep):
                known = [p for p in people if p is not None]
                reachable = self._addressable(step.send.channel, sorted(set(known)))
                would = sum(1 for p in known if p in reachable)
                answer.append(
                    _send(
                        name,
                        step.send.channel,
                        step.send.template,
                        would,
                        len(known) - would,
                        len(people) - len(known),
                    )
                )
        return answer

    def _addressable(self, channel: str, profile_ids: list[str]) -> set[str]:
        """The profiles with an address on ``channel``, found as the send path finds it."""
        from omnichannel.channels import addresses, registry

        if not profile_ids:
            return set()
        adapter: Any = registry.adapter_class(channel)
        default = getattr(adapter, "default_address", None)
        if default is not None and default(self.platform.messages.config.channel(channel)):
            return set(profile_ids)
        lookup = getattr(adapter, "lookup_addresses", None)
        if lookup is not None:
            found = lookup(self.wh, profile_ids, rules=self.platform.config.rules)
        else:
            ids = addresses.identifiers_of(self.wh, profile_ids)
            found = addresses.addresses_from(ids, adapter.address_types)
        return {p for p, address in found.items() if address}


def _send(
    step: str, channel: str, template: str | None, would: int, no_address: int, no_profile: int
) -> dict[str, Any]:
    return {
        "step": step,
        "channel": channel,
        "template": template,
        "would_send": would,
        "no_address": no_address,
        "no_profile": no_profile,
    }


# --- 1. the events ---------------------------------------------------------------------


def _events(
    platform: Platform, wh: Warehouse, j: d.JourneyDefinition, start: datetime, end: datetime
) -> list[Event]:
    """The window's events the journey listens for, oldest first, each with its person."""
    import ibis

    from omnichannel.segments.compile import sources

    names = sorted(j.event_names())
    if not names:
        return []
    e = wh.table("events")
    ts = e.timestamp.coalesce(e.original_timestamp, e.received_at)
    raw = e.filter(
        e.event.isin(names),
        ts >= ibis.literal(start, "timestamp"),
        ts < ibis.literal(end, "timestamp"),
    ).select(
        "message_id",
        "event",
        "user_id",
        "anonymous_id",
        "source",
        "context_device_id",
        "properties",
        ts=ts,
    )
    src = sources(wh, now=end, rules=platform.config.rules, event_source="identifiers")
    attributed = src.bind(src.attribute(raw, ["message_id"]))
    owner: dict[str, str] = {}
    for row in wh.query(attributed).to_pylist():
        owner.setdefault(row["message_id"], row["profile_id"])
    rows = wh.query(raw.order_by(["ts", "message_id"]).limit(MAX_EVENTS)).to_pylist()
    found: list[Event] = []
    for row in rows:
        properties = _properties(row["properties"])
        profile_id = owner.get(row["message_id"])
        if row["event"] in ("Segment Entered", "Segment Exited") and properties.get("profile_id"):
            profile_id = str(properties["profile_id"])
        subject = profile_id or _identifier(row)
        if subject is None:
            continue  # no one to enrol (an event with neither id)
        found.append(
            Event(row["message_id"], row["event"], row["ts"], subject, profile_id, properties)
        )
    return found


def _identifier(row: dict[str, Any]) -> str | None:
    for column in ("user_id", "anonymous_id"):
        value = (row.get(column) or "").strip()
        if value:
            return f"{column}:{value}"
    return None


def _properties(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
