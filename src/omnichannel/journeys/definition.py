"""The journey document: pydantic models of a journey graph, parsed and checked.

A journey is an entry, a graph of named steps and, optionally, a goal. Like a segment's
condition, each step is an object with exactly one key naming its kind, plus where to
go next; it reads the same in JSON and YAML::

    name: abandoned-cart
    entry:
      event: {name: Product Added, key: cartId}   # one enrolment per cart in flight
    reentry: {mode: always}
    goal: {event: Order Completed, same_key: true, within: 7d}
    start: wait-an-hour
    steps:
      wait-an-hour: {wait: 1h, next: bought}
      bought:
        wait_for: {event: Order Completed, same_key: true, timeout: 23h}
        on_event: done
        on_timeout: reminder
      reminder: {send: {channel: email, template: cart-reminder}, next: done}
      done: {exit: {}}

Entries: ``event`` (optionally ``key``-ed by a property, so one person can be in the
journey once per cart), ``segment`` (entered or exited), ``date`` (a date trait such as a
birthday, at a local time of day), ``schedule`` (a cron expression in the person's zone,
for the members of a segment). Steps: ``wait`` (a duration), ``wait_until`` (a local time
of day), ``wait_send_time`` (the person's best send time on a channel), ``wait_for`` (an
event, matching the entry key, with a timeout branch), ``condition`` (anything the segment
language expresses), ``split`` (weighted arms and a holdout), ``send``, ``update`` (traits
and tags), ``webhook``, ``enter`` (another journey) and ``exit``. A step without ``next``
ends the journey there.

Every problem is raised as one ``omnichannel.errors.ValidationError`` naming the path
inside the document (``steps.reminder.send.channel``), the value and what is accepted.
The published JSON Schema (``docs/journey.schema.json``) is generated from these models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BeforeValidator, Discriminator, Field, Tag, WithJsonSchema, model_validator

from omnichannel.errors import ValidationError
from omnichannel.segments.definition import (
    NAME_PATTERN,
    Condition,
    DefinitionProblem,
    PropertyTest,
    _path,
    _Strict,
    _translate,
    read_document,
)

STEP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
StepName = Annotated[str, Field(pattern=STEP_PATTERN)]
JourneyName = Annotated[str, Field(pattern=NAME_PATTERN)]
PropertyPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_$@][A-Za-z0-9_$@ .-]{0,199}$")]
LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# --- durations and times -------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
DURATION_TEXT = 'a duration such as "30m", "1h", "2d" or "1w" (or a number of seconds)'


def _to_duration(value: object) -> object:
    """``"2d"`` / ``"90m"`` / ``3600`` (seconds) as a timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise DefinitionProblem("", value, DURATION_TEXT)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise DefinitionProblem("", value, DURATION_TEXT)
    if seconds <= 0:
        raise DefinitionProblem("", value, "a duration longer than zero")
    return timedelta(seconds=seconds)


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION.pattern},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": DURATION_TEXT,
        }
    ),
]


def _to_local_time(value: object) -> object:
    if isinstance(value, str) and LOCAL_TIME.match(value):
        return value
    raise DefinitionProblem("", value, 'a local time of day "HH:MM" (24-hour, e.g. "09:00")')


LocalTime = Annotated[
    str,
    BeforeValidator(_to_local_time),
    WithJsonSchema({"type": "string", "pattern": LOCAL_TIME.pattern}),
]


def duration_text(delta: timedelta) -> str:
    """The shortest exact spelling of a duration (``timedelta(days=2)`` -> ``"2d"``)."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


class _Doc(_Strict):
    """A journey object: refuses unknown keys, names what it accepts."""


def _as_text(value: Any) -> Any:
    """A dumped document made JSON-ready, durations spelled as they are written."""
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_text(v) for v in value]
    return value


# --- entries ---------------------------------------------------------------------------


class EventEntry(_Doc):
    """Enter when the person performs ``name`` (with property filters).

    ``key``: a property of the event (``cartId``) that identifies one thing in flight;
    the person may then be in the journey once per key value at the same time, and
    ``same_key`` waits and goals match events carrying the same value.
    """

    name: Annotated[str, Field(min_length=1, max_length=200)]
    where: list[PropertyTest] = Field(default_factory=list)
    key: PropertyPath | None = None


class SegmentEntry(_Doc):
    """Enter when the person comes into (``entered``) or leaves (``exited``) a segment."""

    entered: JourneyName | None = None
    exited: JourneyName | None = None

    @model_validator(mode="after")
    def _one(self) -> SegmentEntry:
        if (self.entered is None) == (self.exited is None):
            raise DefinitionProblem("", {}, "exactly one of entered, exited (a segment name)")
        return self

    @property
    def segment(self) -> str:
        return self.entered or self.exited or ""


class DateEntry(_Doc):
    """Enter on a date trait's anniversary (birthday, renewal), at a local time of day.

    ``days_before``: enter that many days ahead of the date (a renewal reminder).
    ``yearly``: the month and day recur every year (a birthday); otherwise the exact date.
    """

    trait: Annotated[str, Field(min_length=1, max_length=100)]
    at: LocalTime = "09:00"
    days_before: Annotated[int, Field(ge=0, le=365)] = 0
    yearly: bool = True


class ScheduleEntry(_Doc):
    """Enter the members of ``segment`` (everyone with a profile when omitted) on a
    schedule: a five-field cron expression (``0 9 * * mon``: Mondays at 9:00) read in
    each person's own time zone (``timezone: person``) or the installation's."""

    cron: Annotated[str, Field(min_length=9, max_length=100)]
    segment: JourneyName | None = None
    timezone: Literal["person", "installation"] = "person"

    @model_validator(mode="after")
    def _cron(self) -> ScheduleEntry:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(self.cron)
        except ValueError as exc:
            raise DefinitionProblem(
                "cron", self.cron, f"a five-field cron expression, e.g. '0 9 * * mon' ({exc})"
            ) from None
        return self


class Entry(_Doc):
    """How people come in: exactly one of ``event``, ``segment``, ``date``, ``schedule``;
    ``audience`` (a segment name) limits entry to its members."""

    event: EventEntry | None = None
    segment: SegmentEntry | None = None
    date: DateEntry | None = None
    schedule: ScheduleEntry | None = None
    audience: JourneyName | None = None

    @model_validator(mode="after")
    def _one(self) -> Entry:
        given = [k for k in ENTRY_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise DefinitionProblem("", given, f"exactly one of {', '.join(ENTRY_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ENTRY_KINDS if getattr(self, k) is not None)

    @property
    def key(self) -> str | None:
        """The entry key's property, for keyed event entries."""
        return self.event.key if self.event is not None else None


ENTRY_KINDS = ("event", "segment", "date", "schedule")


class Reentry(_Doc):
    """May a person go through again once finished: ``never``, ``always``, or ``after`` a
    wait since their last entry (``{mode: after, wait: 30d}``). Never twice at once for
    the same entry key, whatever the mode."""

    mode: Literal["never", "after", "always"] = "never"
    wait: Duration | None = None

    @model_validator(mode="after")
    def _wait(self) -> Reentry:
        if (self.mode == "after") != (self.wait is not None):
            raise DefinitionProblem(
                "wait", self.wait, "a duration with mode after, and only with it"
            )
        return self


class Limits(_Doc):
    """The journey's cap: at most this many entries per day, and in flight at once."""

    entries_per_day: Annotated[int, Field(ge=1)] | None = None
    in_flight: Annotated[int, Field(ge=1)] | None = None


class Goal(_Doc):
    """The conversion: ``event`` (with filters; ``same_key`` for keyed journeys) within
    ``within`` of entry. ``exit``: leave the journey as soon as it is reached."""

    event: Annotated[str, Field(min_length=1, max_length=200)]
    where: list[PropertyTest] = Field(default_factory=list)
    same_key: bool = False
    within: Duration = timedelta(days=7)
    exit: bool = True


# --- steps -----------------------------------------------------------------------------


class WaitUntil(_Doc):
    """A local time of day (in the person's zone), optionally on given weekdays."""

    time: LocalTime
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list
    )


class WaitSendTime(_Doc):
    """The person's best send time on ``channel`` within the next ``within``."""

    channel: Annotated[str, Field(min_length=1)]
    within: Duration = timedelta(hours=24)


class WaitFor(_Doc):
    """An event the person performs (matching the entry key with ``same_key``), or the
    ``timeout``: the step goes on to ``on_event`` or ``on_timeout``."""

    event: Annotated[str, Field(min_length=1, max_length=200)]
    where: list[PropertyTest] = Field(default_factory=list)
    same_key: bool = False
    timeout: Duration


class SplitArm(_Doc):
    name: StepName
    weight: Annotated[float, Field(gt=0)]
    next: StepName | None = None


class Split(_Doc):
    """Weighted random arms and a ``holdout`` share (percent): people held out get nothing
    more but stay counted until the goal window closes, so Measurement can compare."""

    arms: Annotated[list[SplitArm], Field(min_length=1)]
    holdout: Annotated[float, Field(ge=0, lt=100)] = 0

    @model_validator(mode="after")
    def _names(self) -> Split:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names) or "holdout" in names:
            raise DefinitionProblem("arms", names, "distinct arm names, none called holdout")
        return self


class Send(_Doc):
    """A message on ``channel`` from a stored ``template`` (or inline ``content``),
    through the one send path (consent, caps, quiet hours all apply)."""

    channel: Annotated[str, Field(min_length=1)]
    template: JourneyName | None = None
    template_version: Annotated[int, Field(ge=1)] | None = None
    content: dict[str, Any] | None = None
    kind: Literal["marketing", "transactional"] | None = None
    # The campaign the messages are counted under (funnels, KPIs, per-campaign caps);
    # the journey's name when not given.
    campaign: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _content(self) -> Send:
        if (self.template is None) == (self.content is None):
            raise DefinitionProblem("template", self.template, "a template or content, not both")
        return self


class Update(_Doc):
    """Set traits and add or remove tags on the person (stored as an identify event)."""

    traits: dict[str, Any] = Field(default_factory=dict)
    add_tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )
    remove_tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _some(self) -> Update:
        if not (self.traits or self.add_tags or self.remove_tags):
            raise DefinitionProblem("", {}, "at least one of traits, add_tags, remove_tags")
        return self


class Webhook(_Doc):
    """A call to one of the webhook channel's configured endpoints (channels.yaml), with
    a templated JSON ``body``; retried, recorded and idempotent like every message."""

    endpoint: Annotated[str, Field(min_length=1, max_length=200)]
    body: dict[str, Any] = Field(default_factory=dict)


class Enter(_Doc):
    """Put the person into another (live) journey."""

    journey: JourneyName


class Exit(_Doc):
    reason: Annotated[str, Field(max_length=64)] = "exit_step"


class _Step(_Doc):
    next: StepName | None = None


class WaitStep(_Step):
    wait: Duration


class WaitUntilStep(_Step):
    wait_until: WaitUntil


class WaitSendTimeStep(_Step):
    wait_send_time: WaitSendTime


class WaitForStep(_Doc):
    wait_for: WaitFor
    on_event: StepName | None = None
    on_timeout: StepName | None = None


class ConditionStep(_Doc):
    condition: Condition
    then: StepName | None = None
    else_: StepName | None = Field(default=None, alias="else")


class SplitStep(_Doc):
    split: Split


class SendStep(_Step):
    send: Send


class UpdateStep(_Step):
    update: Update


class WebhookStep(_Step):
    webhook: Webhook


class EnterStep(_Step):
    enter: Enter


class ExitStep(_Doc):
    exit: Exit


STEPS: dict[str, type[_Doc]] = {
    "wait": WaitStep,
    "wait_until": WaitUntilStep,
    "wait_send_time": WaitSendTimeStep,
    "wait_for": WaitForStep,
    "condition": ConditionStep,
    "split": SplitStep,
    "send": SendStep,
    "update": UpdateStep,
    "webhook": WebhookStep,
    "enter": EnterStep,
    "exit": ExitStep,
}
KIND_OF_STEP = {model: kind for kind, model in STEPS.items()}


def _step_kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        kinds = [k for k in value if k in STEPS]
        return kinds[0] if len(kinds) == 1 else None
    return KIND_OF_STEP.get(type(value))


Step = Annotated[
    Annotated[WaitStep, Tag("wait")]
    | Annotated[WaitUntilStep, Tag("wait_until")]
    | Annotated[WaitSendTimeStep, Tag("wait_send_time")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[ConditionStep, Tag("condition")]
    | Annotated[SplitStep, Tag("split")]
    | Annotated[SendStep, Tag("send")]
    | Annotated[UpdateStep, Tag("update")]
    | Annotated[WebhookStep, Tag("webhook")]
    | Annotated[EnterStep, Tag("enter")]
    | Annotated[ExitStep, Tag("exit")],
    Discriminator(_step_kind, custom_error_type="step_kind", custom_error_message="not a step"),
]


def step_kind(step: object) -> str:
    """The kind of a parsed step (``"send"``, ``"wait_for"``...)."""
    return KIND_OF_STEP[type(step)]  # type: ignore[index]


def routes(step: object) -> dict[str, str | None]:
    """Where a step can go, by route name (``next``; ``on_event``/``on_timeout``;
    ``then``/``else``; each split arm by its name)."""
    if isinstance(step, SplitStep):
        return {arm.name: arm.next for arm in step.split.arms}
    if isinstance(step, ConditionStep):
        return {"then": step.then, "else": step.else_}
    if isinstance(step, WaitForStep):
        return {"on_event": step.on_event, "on_timeout": step.on_timeout}
    if isinstance(step, ExitStep):
        return {}
    return {"next": getattr(step, "next", None)}


# --- the journey -----------------------------------------------------------------------


class JourneyDefinition(_Doc):
    """A journey: a name (slug), its entry, re-entry rule, cap, goal and steps."""

    name: JourneyName
    description: str = ""
    entry: Entry
    reentry: Reentry = Reentry()
    limits: Limits = Limits()
    goal: Goal | None = None
    start: StepName
    steps: Annotated[dict[StepName, Step], Field(min_length=1)]

    @model_validator(mode="after")
    def _graph(self) -> JourneyDefinition:
        names = set(self.steps)
        if self.start not in names:
            raise DefinitionProblem("start", self.start, f"one of the steps ({_list(names)})")
        for name, step in self.steps.items():
            for route, target in routes(step).items():
                if target is not None and target not in names:
                    where = f"steps.{name}.{_route_path(step, route)}"
                    raise DefinitionProblem(where, target, f"one of the steps ({_list(names)})")
        keyed = self.entry.key is not None
        for name, step in self.steps.items():
            if isinstance(step, WaitForStep) and step.wait_for.same_key and not keyed:
                raise DefinitionProblem(
                    f"steps.{name}.wait_for.same_key", True, "an entry event with a key"
                )
        if self.goal is not None and self.goal.same_key and not keyed:
            raise DefinitionProblem("goal.same_key", True, "an entry event with a key")
        unreachable = sorted(names - set(self.reachable()))
        if unreachable:
            raise DefinitionProblem(
                f"steps.{unreachable[0]}", "unreachable", f"a step reached from {self.start}"
            )
        cycle = self._wait_free_cycle()
        if cycle:
            raise DefinitionProblem(
                f"steps.{cycle[0]}",
                " -> ".join(cycle),
                "a graph whose loops pass through a wait (a loop without one never stops)",
            )
        return self

    def reachable(self) -> Iterator[str]:
        """Step names reachable from ``start``, breadth first."""
        seen = {self.start}
        queue = [self.start]
        while queue:
            name = queue.pop(0)
            yield name
            for target in routes(self.steps[name]).values():
                if target is not None and target not in seen:
                    seen.add(target)
                    queue.append(target)

    def _wait_free_cycle(self) -> list[str] | None:
        """A loop of steps none of which waits, as the path around it; None when none."""
        waits = (WaitStep, WaitUntilStep, WaitSendTimeStep, WaitForStep)

        def visit(name: str, path: list[str]) -> list[str] | None:
            if name in path:
                return [*path[path.index(name) :], name]
            step = self.steps[name]
            if isinstance(step, waits):
                return None
            for target in routes(step).values():
                if target is not None:
                    found = visit(target, [*path, name])
                    if found:
                        return found
            return None

        for name in self.steps:
            found = visit(name, [])
            if found:
                return found
        return None

    def channels(self) -> set[str]:
        """Channels the journey sends on (webhook steps use the webhook channel)."""
        used = {s.send.channel for s in self.steps.values() if isinstance(s, SendStep)}
        if any(isinstance(s, WebhookStep) for s in self.steps.values()):
            used.add("webhook")
        return used

    def templates(self) -> set[str]:
        return {
            s.send.template
            for s in self.steps.values()
            if isinstance(s, SendStep) and s.send.template is not None
        }

    def segments(self) -> set[str]:
        """Segments the journey reads: entry, audience and conditions' ``segment`` nodes."""
        from omnichannel.segments.definition import SegmentCondition, walk

        used: set[str] = set()
        entry = self.entry
        if entry.segment is not None:
            used.add(entry.segment.segment)
        if entry.schedule is not None and entry.schedule.segment is not None:
            used.add(entry.schedule.segment)
        if entry.audience is not None:
            used.add(entry.audience)
        for step in self.steps.values():
            if isinstance(step, ConditionStep):
                used |= {n.segment for n in walk(step.condition) if isinstance(n, SegmentCondition)}
        return used

    def journeys(self) -> set[str]:
        """Other journeys this one enters people into."""
        return {s.enter.journey for s in self.steps.values() if isinstance(s, EnterStep)}

    def event_names(self) -> set[str]:
        """Every event name the journey listens for: entry, waits and goal."""
        names: set[str] = set()
        if self.entry.event is not None:
            names.add(self.entry.event.name)
        if self.entry.segment is not None:
            names.add("Segment Entered" if self.entry.segment.entered else "Segment Exited")
        for step in self.steps.values():
            if isinstance(step, WaitForStep):
                names.add(step.wait_for.event)
        if self.goal is not None:
            names.add(self.goal.event)
        return names

    def document(self) -> dict[str, Any]:
        """The definition as a JSON-ready mapping that parses back to the same journey."""
        return _as_text(self.model_dump(by_alias=True, exclude_defaults=True))


def _route_path(step: object, route: str) -> str:
    if isinstance(step, SplitStep):
        index = [a.name for a in step.split.arms].index(route)
        return f"split.arms[{index}].next"
    return route


def _list(names: set[str]) -> str:
    return ", ".join(sorted(names))


def parse_journey(doc: Mapping[str, Any] | str) -> JourneyDefinition:
    """A journey from a mapping, or JSON or YAML text; ValidationError names the path.

    >>> j = parse_journey("name: hi\\nentry: {event: {name: Signed Up}}\\nstart: bye\\n"
    ...                   "steps: {bye: {exit: {}}}")
    >>> j.name, step_kind(j.steps["bye"])
    ('hi', 'exit')
    """
    data = read_document(doc, "an object with name, entry, start and steps")
    try:
        return JourneyDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "step_kind":
            path = _path(first["loc"], data)
            raise ValidationError(
                path or "steps", first.get("input"), f"an object with one of: {', '.join(STEPS)}"
            ) from None
        raise _translate(exc, data) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a journey document (published as ``docs/journey.schema.json``)."""
    schema = JourneyDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://omnichannel.dev/journey.schema.json"
    return schema


if __name__ == "__main__":  # python -m omnichannel.journeys.definition > docs/journey.schema.json
    import sys

    sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
