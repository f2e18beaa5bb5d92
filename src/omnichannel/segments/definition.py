"""The segment document: pydantic models of the condition language, parsed and checked.

A condition is an object with exactly one key naming its kind, which reads the same in
JSON and YAML and needs no ``type`` field::

    name: ios-buyers
    condition:
      all:
        - trait: {field: rfm_segment, in: [champions, loyal customers]}
        - event:
            name: Order Completed
            count: {at_least: 3}
            within: {last_days: 30}
        - device: {os_name: {equals: iOS}}

Kinds: ``all`` / ``any`` (lists), ``not``, ``trait``, ``tag``, ``consent``, ``affinity``,
``event``, ``sequence``, ``order``, ``message``, ``device``, ``segment``. Every object
refuses keys it does not know, and every problem is raised as one
``omnichannel.errors.ValidationError`` naming the path inside the document
(``condition.all[1].event.count.at_least``), the value and what is accepted. The
published JSON Schema (``docs/segment.schema.json``) is generated from these models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import ibis
import ibis.expr.datatypes as dt
import pydantic
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from omnichannel.errors import ValidationError
from omnichannel.warehouse.tables import PROFILES

if TYPE_CHECKING:
    import ibis.expr.types as ir

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
# Inbound messages (what a person sent us: a WeChat keyword, an SMS reply) are track
# events of this name with properties ``channel`` and ``text``.
MESSAGE_EVENT = "Message Received"
# Membership changes of a referenced segment arrive as these events (stored by the updater).
MEMBERSHIP_EVENTS = frozenset({"Segment Entered", "Segment Exited"})
# Profile columns holding JSON arrays of strings: ``contains`` tests an element.
LIST_TRAITS = ("tags", "channels", "source_systems")
# Profile columns holding JSON objects: read through their own condition kinds.
OBJECT_TRAITS = {
    "consent": "the consent condition",
    "category_affinity": "the affinity condition",
    "content_type_affinity": "the affinity condition",
    "identifier_counts": "profile_identifiers (not a segment condition)",
    "active_hours": "the trait peak_hour or peak_hour_of_week",
    "propensity_reasons": "omni propensity explain (the scores and deciles are traits)",
}
TRAIT_FIELDS: dict[str, dt.DataType] = {
    name: dtype for name, dtype in PROFILES.schema.items() if name not in OBJECT_TRAITS
}
CONSENT_STATUSES = ("granted", "denied", "unsubscribed", "unknown")


class DefinitionProblem(ValueError):
    """Raised inside a validator: the sub-path below the model, the value, what is accepted."""

    def __init__(self, path: str, value: object, accepted: str) -> None:
        super().__init__(f"{path}={value!r}: expected {accepted}")
        self.path = path
        self.value = value
        self.accepted = accepted


def _to_datetime(value: object) -> object:
    """YAML reads ``2026-01-31`` as a date; zoned times become naive UTC like the warehouse."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise DefinitionProblem("", value, MOMENT) from None
        return _to_datetime(parsed)
    if isinstance(value, Mapping) and set(value) == {"days_ago"}:
        return value
    raise DefinitionProblem("", value, MOMENT)


MOMENT = "a date or time (2026-01-31, 2026-01-31T08:00:00Z) or {days_ago: N}"


class _Strict(BaseModel):
    """Refuses unknown keys, naming them and the keys the object accepts."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = [f.alias or name for name, f in cls.model_fields.items()]
            for key in data:
                if key not in known:
                    raise DefinitionProblem(str(key), data[key], f"one of {', '.join(known)}")
        return data


class DaysAgo(_Strict):
    """A moment relative to the evaluation's clock: ``{days_ago: 30}``."""

    days_ago: Annotated[float, Field(ge=0)]


Moment = Annotated[datetime | DaysAgo, BeforeValidator(_to_datetime)]


# The evaluation's clock: a Python datetime, or an Ibis timestamp (a literal, or the
# parameter of SQL compiled once and run at many clocks, see ``segments/prepared.py``).
Clock = TypeVar("Clock", datetime, "ir.TimestampValue")


def shifted(at: Clock, delta: timedelta) -> Clock:
    """``at + delta``; on an Ibis timestamp the engine computes it, so the SQL keeps the
    clock as one value (a whole number of days reads ``INTERVAL '30' DAY``)."""
    if isinstance(at, datetime):
        return at + delta
    size = abs(delta)
    if size == timedelta(days=size.days):
        interval = ibis.interval(days=size.days)
    else:
        interval = ibis.interval(microseconds=size // timedelta(microseconds=1))
    return at - interval if delta < timedelta(0) else at + interval


def resolve_moment(moment: datetime | DaysAgo, now: Clock) -> Clock | datetime:
    if isinstance(moment, DaysAgo):
        return shifted(now, -timedelta(days=moment.days_ago))
    return moment


class Window(_Strict):
    """When: ``{last_days: 30}``, ``{since: 2026-01-01}`` or ``{between: [from, to]}``."""

    last_days: Annotated[float, Field(gt=0)] | None = None
    since: Moment | None = None
    between: tuple[Moment, Moment] | None = None

    @model_validator(mode="after")
    def _one(self) -> Window:
        given = [k for k in ("last_days", "since", "between") if getattr(self, k) is not None]
        if len(given) != 1:
            raise DefinitionProblem(
                "", self.model_dump(exclude_none=True), "exactly one of last_days, since, between"
            )
        return self

    def bounds(self, now: Clock) -> tuple[Clock | datetime, Clock | datetime | None]:
        """[start, end) in warehouse time; end None = open."""
        if self.last_days is not None:
            return shifted(now, -timedelta(days=self.last_days)), None
        if self.since is not None:
            return resolve_moment(self.since, now), None
        assert self.between is not None
        return resolve_moment(self.between[0], now), resolve_moment(self.between[1], now)

    def relative(self) -> bool:
        moments = [self.since] if self.since is not None else list(self.between or ())
        return self.last_days is not None or any(isinstance(m, DaysAgo) for m in moments)


Scalar = bool | int | float | str
Number = float


class ValueTest(_Strict):
    """Operators on one value; several combine with AND (``{gte: 10, lt: 20}``)."""

    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: Annotated[list[Scalar], Field(min_length=1)] | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    between: tuple[Number, Number] | None = None
    contains: str | None = None
    starts_with: str | None = None
    after: Moment | None = None
    before: Moment | None = None
    exists: bool | None = None

    def operators(self) -> dict[str, Any]:
        """The operators given, by their document name."""
        return {
            (f.alias or name): getattr(self, name)
            for name, f in type(self).model_fields.items()
            if name in TEST_OPERATORS and getattr(self, name) is not None
        }

    @model_validator(mode="after")
    def _some(self) -> ValueTest:
        if not self.operators():
            raise DefinitionProblem("", {}, f"at least one of {', '.join(TEST_NAMES)}")
        return self

    def relative(self) -> bool:
        return any(isinstance(m, DaysAgo) for m in (self.after, self.before))


TEST_OPERATORS = tuple(ValueTest.model_fields)
TEST_NAMES = tuple(f.alias or n for n, f in ValueTest.model_fields.items())
NUMERIC_OPS = ("gt", "gte", "lt", "lte", "between")
TEXT_OPS = ("contains", "starts_with")
TIME_OPS = ("after", "before")


def _check_kind(test: ValueTest | dict[str, Any], kind: str, what: str) -> None:
    """Refuse operators that do not fit a value of ``kind`` (number, text, time, list)."""
    ops = test if isinstance(test, dict) else test.operators()
    allowed = {
        "number": ("equals", "not_equals", "in", "not_in", *NUMERIC_OPS, "exists"),
        "text": ("equals", "not_equals", "in", "not_in", *TEXT_OPS, "exists"),
        "time": (*TIME_OPS, "exists"),
        "list": ("contains", "exists"),
        "bool": ("equals", "not_equals", "exists"),
    }[kind]
    for op, value in ops.items():
        if op not in allowed:
            raise DefinitionProblem(op, value, f"one of {', '.join(allowed)} for {what}")
        items = value if op in ("in", "not_in") else [value]
        if op in ("equals", "not_equals", "in", "not_in"):
            for item in items:
                ok = (
                    isinstance(item, bool)
                    if kind == "bool"
                    else isinstance(item, int | float) and not isinstance(item, bool)
                    if kind == "number"
                    else isinstance(item, str)
                )
                if not ok:
                    raise DefinitionProblem(op, value, f"{_a(kind)} value for {what}")


def _a(kind: str) -> str:
    return {"number": "a number", "text": "a text", "bool": "a true/false"}.get(kind, kind)


def trait_kind(dtype: dt.DataType) -> str:
    if dtype.is_numeric():
        return "number"
    if dtype.is_timestamp() or dtype.is_date():
        return "time"
    if dtype.is_boolean():
        return "bool"
    return "text"


class TraitTest(ValueTest):
    """A profile column: ``{field: predicted_clv, gte: 100}``, ``{field: p_alive, decile: [1]}``."""

    field: str
    top_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    decile: Annotated[list[Annotated[int, Field(ge=1, le=10)]], Field(min_length=1)] | None = None

    def operators(self) -> dict[str, Any]:
        ops = super().operators()
        for name in ("top_percent", "decile"):
            if getattr(self, name) is not None:
                ops[name] = getattr(self, name)
        return ops

    @model_validator(mode="after")
    def _fits_field(self) -> TraitTest:
        if self.field in OBJECT_TRAITS:
            raise DefinitionProblem("field", self.field, f"{OBJECT_TRAITS[self.field]} instead")
        if self.field not in TRAIT_FIELDS:
            raise DefinitionProblem(
                "field", self.field, f"a profile trait: {', '.join(TRAIT_FIELDS)}"
            )
        kind = "list" if self.field in LIST_TRAITS else trait_kind(TRAIT_FIELDS[self.field])
        ranked = {k: v for k, v in self.operators().items() if k in ("top_percent", "decile")}
        if ranked and kind != "number":
            op, value = next(iter(ranked.items()))
            raise DefinitionProblem(op, value, f"a numeric trait ({self.field} is {kind})")
        plain = {k: v for k, v in self.operators().items() if k not in ranked}
        _check_kind(plain, kind, f"{self.field} ({TRAIT_FIELDS[self.field]})")
        return self


class PropertyTest(ValueTest):
    """An event property (dotted path into ``properties``): ``{property: total, gte: 50}``."""

    property: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$@][A-Za-z0-9_$@ .-]{0,199}$")]


class AggregateTest(PropertyTest):
    """The sum or average of a numeric property over the matching events."""

    @model_validator(mode="after")
    def _numeric(self) -> AggregateTest:
        _check_kind(self, "number", f"the aggregate of {self.property}")
        return self


class Count(_Strict):
    """How many times: ``{at_least: 3}``, ``{at_most: 0}``, ``{exactly: 2}`` (or a range)."""

    at_least: Annotated[int, Field(ge=0)] | None = None
    at_most: Annotated[int, Field(ge=0)] | None = None
    exactly: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Count:
        given = self.model_dump(exclude_none=True)
        if not given or (self.exactly is not None and len(given) > 1):
            raise DefinitionProblem(
                "", given, "exactly, or at_least and/or at_most (whole numbers >= 0)"
            )
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise DefinitionProblem(
                "at_most", self.at_most, f"a number >= at_least ({self.at_least})"
            )
        return self

    def range(self) -> tuple[int, int | None]:
        """[low, high] inclusive; high None = unbounded."""
        if self.exactly is not None:
            return self.exactly, self.exactly
        return self.at_least or 0, self.at_most

    def describe(self) -> str:
        low, high = self.range()
        if low == high:
            return f"exactly {low}"
        if high is None:
            return f"at least {low}"
        return f"at most {high}" if low == 0 else f"between {low} and {high}"


def _channels(value: object) -> object:
    return [value] if isinstance(value, str) else value


Channels = Annotated[list[str], BeforeValidator(_channels), Field(min_length=1)]


class TimeRange(_Strict):
    """When the first or last matching event happened: ``{after: {days_ago: 7}}``."""

    after: Moment | None = None
    before: Moment | None = None

    @model_validator(mode="after")
    def _some(self) -> TimeRange:
        if self.after is None and self.before is None:
            raise DefinitionProblem("", {}, "after and/or before")
        return self


class EventTest(_Strict):
    """Performed ``name`` (with property filters, in a window) a number of times, or a sum,
    an average, the first or the last time."""

    name: Annotated[str, Field(min_length=1)]
    where: list[PropertyTest] = []
    channel: Channels | None = None
    within: Window | None = None
    count: Count | None = None
    sum: AggregateTest | None = None
    average: AggregateTest | None = None
    first_time: TimeRange | None = None
    last_time: TimeRange | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> EventTest:
        given = [m for m in MEASURES if getattr(self, m) is not None]
        if len(given) > 1:
            raise DefinitionProblem(
                given[1],
                getattr(self, given[1]).model_dump(by_alias=True, exclude_none=True),
                f"only one of {', '.join(MEASURES)}",
            )
        if self.within is not None and given and given[0] in ("first_time", "last_time"):
            raise DefinitionProblem(
                "within",
                self.within.model_dump(exclude_none=True),
                f"no window with {given[0]} (it looks at every event; use after/before)",
            )
        return self

    def measure(self) -> str:
        return next((m for m in MEASURES if getattr(self, m) is not None), "count")

    def counted(self) -> Count:
        return self.count or Count(at_least=1)

    def relative(self) -> bool:
        ranges = [r for r in (self.first_time, self.last_time) if r is not None]
        return (
            (self.within is not None and self.within.relative())
            or any(isinstance(m, DaysAgo) for r in ranges for m in (r.after, r.before))
            or any(w.relative() for w in self.where)
        )


MEASURES = ("count", "sum", "average", "first_time", "last_time")


class Step(_Strict):
    """One step of a sequence: an event name and its property filters."""

    name: Annotated[str, Field(min_length=1)]
    where: list[PropertyTest] = []


class Gap(_Strict):
    """The longest time from the first step to the next: ``{hours: 24}``."""

    minutes: Annotated[float, Field(ge=0)] = 0
    hours: Annotated[float, Field(ge=0)] = 0
    days: Annotated[float, Field(ge=0)] = 0

    def delta(self) -> timedelta:
        return timedelta(minutes=self.minutes, hours=self.hours, days=self.days)

    @model_validator(mode="after")
    def _positive(self) -> Gap:
        if self.delta() <= timedelta(0):
            raise DefinitionProblem("", self.model_dump(), "a positive minutes, hours or days")
        return self


class SequenceTest(_Strict):
    """Performed ``first`` then ``then`` within ``max_gap`` (the first step in ``within``)."""

    first: Step
    then: Step
    max_gap: Gap
    within: Window | None = None


class OrderTest(_Strict):
    """Orders (any source, cancelled and refunded ones excluded) in some channels."""

    channel: Channels | None = None
    store_id: Channels | None = None
    within: Window | None = None
    count: Count | None = None
    total: ValueTest | None = None

    @model_validator(mode="after")
    def _one(self) -> OrderTest:
        if self.count is not None and self.total is not None:
            raise DefinitionProblem("total", self.total.operators(), "count or total, not both")
        if self.total is not None:
            _check_kind(self.total, "number", "the sum of order totals")
        return self

    def counted(self) -> Count:
        return self.count or Count(at_least=1)


class MessageTest(_Strict):
    """Messages the person sent us (``Message Received`` events): a keyword, a reply."""

    channel: Channels | None = None
    keyword: Annotated[str, Field(min_length=1)] | None = None
    contains: Annotated[str, Field(min_length=1)] | None = None
    within: Window | None = None
    count: Count | None = None

    def counted(self) -> Count:
        return self.count or Count(at_least=1)


class DeviceTest(_Strict):
    """A device the person's events came from: OS, device type, app, push token."""

    os_name: ValueTest | None = None
    device_type: ValueTest | None = None
    app_name: ValueTest | None = None
    app_version: ValueTest | None = None
    push_token: Literal[True] | None = None
    within: Window | None = None

    @model_validator(mode="after")
    def _some(self) -> DeviceTest:
        tests = {k: getattr(self, k) for k in DEVICE_FIELDS if getattr(self, k) is not None}
        if not tests and self.push_token is None:
            raise DefinitionProblem(
                "", {}, f"at least one of {', '.join(DEVICE_FIELDS)}, push_token"
            )
        for name, test in tests.items():
            try:
                _check_kind(test, "text", f"device {name}")
            except DefinitionProblem as exc:
                raise DefinitionProblem(f"{name}.{exc.path}", exc.value, exc.accepted) from None
        return self


DEVICE_FIELDS = ("os_name", "device_type", "app_name", "app_version")


class ConsentTest(_Strict):
    """The profile's consent on one channel (``unknown``: no decision recorded)."""

    channel: Annotated[str, Field(min_length=1)]
    status: Literal["granted", "denied", "unsubscribed", "unknown"] = "granted"


class AffinityTest(_Strict):
    """Interest in a product category or content type (a share of the profile's total)."""

    category: str | None = None
    content_type: str | None = None
    at_least: Annotated[float, Field(gt=0, le=1)] = 0.000001

    @model_validator(mode="after")
    def _one(self) -> AffinityTest:
        if (self.category is None) == (self.content_type is None):
            raise DefinitionProblem(
                "", self.model_dump(exclude_none=True), "category or content_type"
            )
        return self


# --- nodes: each an object with one key ---


class AllOf(_Strict):
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(_Strict):
    any: Annotated[list[Condition], Field(min_length=1)]


class NotOf(_Strict):
    not_: Condition = Field(alias="not")


class TraitCondition(_Strict):
    trait: TraitTest


class TagCondition(_Strict):
    tag: Annotated[str, Field(min_length=1)]


class ConsentCondition(_Strict):
    consent: ConsentTest


class AffinityCondition(_Strict):
    affinity: AffinityTest


class EventCondition(_Strict):
    event: EventTest


class SequenceCondition(_Strict):
    sequence: SequenceTest


class OrderCondition(_Strict):
    order: OrderTest


class MessageCondition(_Strict):
    message: MessageTest


class DeviceCondition(_Strict):
    device: DeviceTest


class SegmentCondition(_Strict):
    segment: Annotated[str, Field(pattern=NAME_PATTERN)]


NODES: dict[str, type[_Strict]] = {
    "all": AllOf,
    "any": AnyOf,
    "not": NotOf,
    "trait": TraitCondition,
    "tag": TagCondition,
    "consent": ConsentCondition,
    "affinity": AffinityCondition,
    "event": EventCondition,
    "sequence": SequenceCondition,
    "order": OrderCondition,
    "message": MessageCondition,
    "device": DeviceCondition,
    "segment": SegmentCondition,
}
KIND_OF = {model: kind for kind, model in NODES.items()}


def _kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        keys = list(value)
        return keys[0] if len(keys) == 1 and keys[0] in NODES else None
    return KIND_OF.get(type(value))


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[TraitCondition, Tag("trait")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[ConsentCondition, Tag("consent")]
    | Annotated[AffinityCondition, Tag("affinity")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[SequenceCondition, Tag("sequence")]
    | Annotated[OrderCondition, Tag("order")]
    | Annotated[MessageCondition, Tag("message")]
    | Annotated[DeviceCondition, Tag("device")]
    | Annotated[SegmentCondition, Tag("segment")],
    Discriminator(
        _kind, custom_error_type="condition_kind", custom_error_message="not a condition"
    ),
]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()


def kind_of(node: object) -> str:
    return KIND_OF[type(node)]  # type: ignore[index]


def children(node: object) -> list[Any]:
    if isinstance(node, AllOf):
        return list(node.all)
    if isinstance(node, AnyOf):
        return list(node.any)
    if isinstance(node, NotOf):
        return [node.not_]
    return []


def walk(node: object) -> Iterator[Any]:
    yield node
    for child in children(node):
        yield from walk(child)


class SegmentDefinition(_Strict):
    """A segment: a name (slug), a description and one condition."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = ""
    condition: Condition

    def referenced_segments(self) -> set[str]:
        """Names of the segments this one is defined by (``segment: NAME``)."""
        return {n.segment for n in walk(self.condition) if isinstance(n, SegmentCondition)}

    def event_names(self) -> set[str] | None:
        """Event names whose arrival can change membership; None = any event may."""
        names: set[str] = set()
        for node in walk(self.condition):
            if isinstance(node, EventCondition):
                names.add(node.event.name)
            elif isinstance(node, SequenceCondition):
                names |= {node.sequence.first.name, node.sequence.then.name}
            elif isinstance(node, MessageCondition):
                names.add(MESSAGE_EVENT)
            elif isinstance(node, SegmentCondition):
                names |= MEMBERSHIP_EVENTS
            elif isinstance(node, DeviceCondition):
                return None
        return names

    def clock_sensitive(self) -> bool:
        """Membership can change by the clock alone (relative windows, ``days_ago``)."""
        for node in walk(self.condition):
            if isinstance(node, EventCondition) and node.event.relative():
                return True
            if isinstance(node, TraitCondition) and node.trait.relative():
                return True
            windows = [
                getattr(getattr(node, k, None), "within", None)
                for k in ("sequence", "order", "message", "device")
            ]
            if any(w is not None and w.relative() for w in windows):
                return True
        return False


def parse_definition(doc: Mapping[str, Any] | str) -> SegmentDefinition:
    """A definition from a mapping, or JSON or YAML text; ValidationError names the path.

    >>> parse_definition("name: buyers\\ncondition: {order: {count: {at_least: 1}}}").name
    'buyers'
    """
    data = read_document(doc, "an object with name and condition")
    try:
        return SegmentDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _translate(exc, data) from None


def read_document(doc: Mapping[str, Any] | str, accepted: str) -> Mapping[str, Any]:
    """A document's mapping: given, or parsed from JSON or YAML text (segments, journeys).

    Unparseable text and anything but an object raise ValidationError on ``definition``,
    naming the line and column, or ``accepted``."""
    data: Any = doc
    if isinstance(doc, str):
        try:
            data = json.loads(doc) if doc.lstrip().startswith("{") else yaml.safe_load(doc)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else getattr(exc, "lineno", "?")
            column = mark.column + 1 if mark is not None else getattr(exc, "colno", "?")
            reason = getattr(exc, "problem", None) or getattr(exc, "msg", str(exc))
            raise ValidationError(
                "definition", doc[:80], f"JSON or YAML text ({reason}, line {line} column {column})"
            ) from None
    if not isinstance(data, Mapping):
        raise ValidationError("definition", data, accepted)
    return data


def _translate(exc: pydantic.ValidationError, doc: Any) -> ValidationError:
    errors = exc.errors()
    first = errors[0]
    loc = _path(first["loc"], doc, missing=first["type"] == "missing")
    value: object = first.get("input")
    problem = (first.get("ctx") or {}).get("error")
    if isinstance(problem, DefinitionProblem):
        path = ".".join(p for p in (loc, problem.path) if p)
        value, accepted = problem.value, problem.accepted
    elif first["type"] == "condition_kind":
        path = loc
        accepted = f"an object with one key: {', '.join(NODES)}"
    elif first["type"] == "missing":
        path = loc
        value = None
        accepted = "a value (this field is required)"
    elif first["type"] == "string_pattern_mismatch" and NAME_PATTERN in str(first.get("ctx")):
        path = loc
        accepted = "a slug: a lowercase letter or digit, then up to 99 of a-z, 0-9, - and _"
    elif first["type"] == "too_short":
        path = loc
        accepted = f"at least {(first.get('ctx') or {}).get('min_length', 1)} item(s)"
    else:
        path = loc
        accepted = str(first["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")
    error = ValidationError(path or "definition", value, accepted)
    error.problems = [_path(e["loc"], doc) for e in errors]  # type: ignore[attr-defined]
    return error


def _path(loc: tuple[Any, ...], doc: Any, *, missing: bool = False) -> str:
    """``(condition, all, all, 1, event, event, count)`` -> ``condition.all[1].event.count``.

    Pydantic's location also names union members (a node's kind a second time, ``int``,
    ``DaysAgo``...); only the steps that exist in the document are kept, plus a missing
    last one.
    """
    parts: list[str] = []
    here: Any = doc
    for i, item in enumerate(loc):
        if isinstance(here, Mapping) and item in here:
            parts.append(str(item))
            here = here[item]
        elif isinstance(here, list | tuple) and isinstance(item, int) and item < len(here):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
            here = here[item]
        elif missing and i == len(loc) - 1 and isinstance(here, Mapping):
            parts.append(item)
    return ".".join(parts)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a segment document (published as ``docs/segment.schema.json``)."""
    schema = SegmentDefinition.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://omnichannel.dev/segment.schema.json"
    return schema


if __name__ == "__main__":  # python -m omnichannel.segments.definition > docs/segment.schema.json
    import sys

    sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
