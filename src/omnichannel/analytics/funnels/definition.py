"""The funnel document: ordered steps, a conversion window, an order mode, a breakdown.

A mapping, or JSON or YAML text, read like a segment document (the same property
filters, the same errors naming the path inside the document)::

    name: checkout
    steps:
      - Product Viewed                      # a plain name is an event step
      - event: Product Added
        where: [{property: price, gte: 100}]
      - order: {channel: [store, web]}      # a purchase, online or in store
    window: 7d
    order: ordered                          # ordered (default), strict or any
    since: 2026-01-01
    by: [channel]

A step is one of ``event`` (a name or a list of names; ``Page Viewed`` and
``Screen Viewed`` also match page and screen calls), ``order`` (purchases: not
cancelled, refunded, failed or voided) or ``message`` (rows of the delivery log, by
status), with ``where`` (event properties), ``channel`` and ``campaign`` filters; or
``any_of`` a list of those (an exposure is a message sent *or* an ad impression).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BeforeValidator, Field, model_validator

from omnichannel.errors import ValidationError
from omnichannel.segments.definition import (
    NAME_PATTERN,
    Channels,
    DefinitionProblem,
    PropertyTest,
    _Strict,
    _to_datetime,
    _translate,
    read_document,
)

# Breakdown dimensions read off the row that entered the funnel (docs/funnels.md).
DIMENSIONS = ("channel", "campaign", "content", "device", "store", "source", "medium")
PERSON_DIMENSIONS = ("segment",)  # segment:NAME, a person's membership now
PAGE_EVENTS = {"Page Viewed": "page", "Screen Viewed": "screen"}
MESSAGE_STATUSES = (
    "queued",
    "held",
    "dropped",
    "sent",
    "delivered",
    "failed",
    "retrying",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "read",
)
EXPOSED = ("sent", "delivered")
DURATION = "a duration: 7d, 12h, 30m, 2w or a number of days"
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
MAX_STEPS = 20


def parse_duration(value: object, field: str = "window") -> timedelta:
    """``7d``, ``12h``, ``30m``, ``2w``, ``90s`` or a number of days; > 0."""
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) * 86_400
    elif isinstance(value, str):
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([wdhms]?)\s*", value.lower())
        if found:
            seconds = float(found.group(1)) * _UNITS[found.group(2) or "d"]
    if seconds is None or not seconds > 0:
        if field == "":
            raise DefinitionProblem("", value, DURATION)
        raise ValidationError(field, value, DURATION)
    return timedelta(seconds=seconds)


def _duration(value: object) -> timedelta:
    return parse_duration(value, "")


def _names(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _flag(value: object) -> object:
    # ``order: true`` and ``order: {}`` are both any purchase.
    return {} if value is True or value is None else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Moment = Annotated[datetime, BeforeValidator(_to_datetime)]
Names = Annotated[
    list[Annotated[str, Field(min_length=1)]], BeforeValidator(_names), Field(min_length=1)
]


class OrderMatch(_Strict):
    """Purchases, optionally in these channels (``store``, ``web``...) or stores."""

    channel: Channels | None = None
    store_id: Channels | None = None


class MessageMatch(_Strict):
    """Rows of the delivery log: by ``status`` (default sent or delivered) and channel."""

    status: Channels = Field(default_factory=lambda: list(EXPOSED))
    channel: Channels | None = None

    @model_validator(mode="after")
    def _known(self) -> MessageMatch:
        for status in self.status:
            if status not in MESSAGE_STATUSES:
                raise DefinitionProblem("status", status, f"one of {', '.join(MESSAGE_STATUSES)}")
        return self


SOURCES = ("event", "order", "message")


class Match(_Strict):
    """One way to match a step: an event, a purchase or a message, and filters."""

    event: Names | None = None
    order: Annotated[OrderMatch, BeforeValidator(_flag)] | None = None
    message: Annotated[MessageMatch, BeforeValidator(_flag)] | None = None
    where: list[PropertyTest] = Field(default_factory=list)
    channel: Channels | None = None
    campaign: Channels | None = None

    @property
    def source(self) -> str:
        return next(s for s in SOURCES if getattr(self, s) is not None)

    @model_validator(mode="after")
    def _one_source(self) -> Match:
        given = [s for s in SOURCES if getattr(self, s) is not None]
        if len(given) != 1 and not getattr(self, "any_of", None):
            raise DefinitionProblem(
                given[1] if given else "",
                given or {},
                "exactly one of event, order, message (or any_of)",
            )
        if self.where and given and given[0] != "event":
            raise DefinitionProblem(
                "where", [w.property for w in self.where], "property filters on event steps"
            )
        return self


def _step(value: object) -> object:
    return {"event": value} if isinstance(value, str) else value


class FunnelStep(Match):
    """A step: one match, or ``any_of`` several; ``label`` names it in results."""

    label: str | None = None
    any_of: Annotated[list[Match], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _alternatives(self) -> FunnelStep:
        if self.any_of is not None:
            extra = [s for s in (*SOURCES, "channel", "campaign") if getattr(self, s)]
            if extra or self.where:
                key = extra[0] if extra else "where"
                raise DefinitionProblem(key, getattr(self, key), "only label beside any_of")
        return self

    @property
    def matches(self) -> list[Match]:
        return list(self.any_of) if self.any_of is not None else [self]

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        parts = []
        for m in self.matches:
            if m.event is not None:
                parts.append(" or ".join(m.event))
            elif m.order is not None:
                parts.append(
                    "order" + (f" ({', '.join(m.order.channel)})" if m.order.channel else "")
                )
            elif m.message is not None:
                parts.append("message " + "/".join(m.message.status))
        return " or ".join(parts)


def _by(value: object) -> object:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def check_dimension(value: str) -> str:
    kind, _, arg = value.partition(":")
    if kind in DIMENSIONS and not arg:
        return value
    if kind == "segment" and re.fullmatch(NAME_PATTERN, arg):
        return value
    if kind == "property" and re.fullmatch(r"[A-Za-z0-9_$@][A-Za-z0-9_$@ .-]{0,199}", arg):
        return value
    raise DefinitionProblem(
        "", value, f"one of {', '.join(DIMENSIONS)}, segment:NAME or property:NAME"
    )


Dimension = Annotated[
    str, BeforeValidator(lambda v: check_dimension(v) if isinstance(v, str) else v)
]


class FunnelDefinition(_Strict):
    """A funnel: steps, window, order mode, date range of entry, breakdown."""

    name: str = "funnel"
    steps: Annotated[
        list[Annotated[FunnelStep, BeforeValidator(_step)]],
        Field(min_length=2, max_length=MAX_STEPS),
    ]
    window: Duration = timedelta(days=7)
    order: Literal["ordered", "strict", "any"] = "ordered"
    since: Moment | None = None
    until: Moment | None = None
    by: Annotated[list[Dimension], BeforeValidator(_by)] = Field(default_factory=list)
    # person: one entry per person (the breakdown of their first entry); breakdown: one
    # per person and breakdown value (exposed to two campaigns, counted in both).
    entry: Literal["person", "breakdown"] = "person"

    @model_validator(mode="after")
    def _range(self) -> FunnelDefinition:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise DefinitionProblem(
                "until", self.until.isoformat(), f"a time after since ({self.since})"
            )
        if len(set(self.by)) != len(self.by):
            raise DefinitionProblem("by", self.by, "each dimension once")
        return self

    @property
    def window_seconds(self) -> int:
        return int(self.window.total_seconds())

    def sources(self) -> set[str]:
        return {m.source for s in self.steps for m in s.matches}


def parse_funnel(
    doc: Mapping[str, Any] | str | FunnelDefinition, **overrides: Any
) -> FunnelDefinition:
    """A definition from a mapping, or JSON or YAML text; ValidationError names the path.

    ``overrides`` (window, order, since, until, by...) replace the document's values:
    the CLI's and the API's options.

    >>> parse_funnel({"steps": ["Product Viewed", {"order": {}}], "window": "2d"}).window_seconds
    172800
    """
    if isinstance(doc, FunnelDefinition):
        data: dict[str, Any] = doc.model_dump(by_alias=True, exclude_unset=True)
    else:
        data = dict(read_document(doc, "an object with steps (a list of at least two)"))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return FunnelDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _translate(exc, data) from None


def steps_of_names(text: str) -> list[str]:
    """``"A,B,C"`` (the CLI's ``--steps``) as step names."""
    return [s.strip() for s in text.split(",") if s.strip()]
