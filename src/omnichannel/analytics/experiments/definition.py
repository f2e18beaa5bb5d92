"""An experiment's document: variants and weights, salt, dates, primary metric, guardrails.

Example (YAML, as ``omni experiments create FILE`` reads it)::

    name: checkout-button
    variants: [{name: control, weight: 1}, {name: green, weight: 1}]
    start: 2026-12-01T00:00:00Z
    metric: {kind: conversion, event: Order Completed, within_days: 7}
    guardrails: [{kind: revenue, within_days: 7}]

The first variant is the control every other one is compared with. ``salt`` (default:
the name) keys the hash, so two experiments on the same people draw independently, and
changing the salt reshuffles everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from omnichannel.errors import ValidationError
from omnichannel.segments.definition import read_document

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
NAME_ACCEPTED = "lower-case letters, digits, '-' and '_' (at most 100), e.g. checkout-button"
KINDS = ("conversion", "revenue")
# The goal of a metric with no event: a purchase (an order, online or in store).
PURCHASE = "purchase"


def check_name(name: object, field: str = "experiment name") -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError(field, name, NAME_ACCEPTED)
    return name


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Doc):
    name: Annotated[str, Field(pattern=NAME.pattern)]
    weight: Annotated[float, Field(gt=0)] = 1.0


class Metric(_Doc):
    """Per person, from exposure to ``within_days`` after it: whether the goal happened
    (``conversion``) or the purchases' total (``revenue``). ``event`` is the goal event's
    name; none (or ``purchase``) means an order that is a purchase."""

    kind: Literal["conversion", "revenue"] = "conversion"
    event: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    within_days: Annotated[float, Field(gt=0, le=366)] = 14.0

    @property
    def goal(self) -> str:
        return self.event or PURCHASE

    @property
    def label(self) -> str:
        if self.kind == "revenue":
            return f"revenue within {self.within_days:g}d"
        return f"{self.goal} within {self.within_days:g}d"


class ExperimentDefinition(_Doc):
    name: Annotated[str, Field(pattern=NAME.pattern)]
    description: str = ""
    unit: Literal["person"] = "person"
    variants: Annotated[list[Variant], Field(min_length=2, max_length=20)]
    salt: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    start: datetime | None = None
    end: datetime | None = None
    metric: Metric = Metric()
    guardrails: Annotated[list[Metric], Field(max_length=10)] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentDefinition:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variants: distinct names expected, got {names}")
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"end: a time after start ({self.start.isoformat()}) expected")
        return self

    @property
    def key_salt(self) -> str:
        return self.salt or self.name

    @property
    def control(self) -> str:
        return self.variants[0].name

    @property
    def weights(self) -> dict[str, float]:
        return {v.name: v.weight for v in self.variants}

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def parse_experiment(doc: Mapping[str, Any] | str) -> ExperimentDefinition:
    """An experiment from a mapping, or JSON or YAML text; errors name the field."""
    data = read_document(doc, "an object with name and variants")
    try:
        return ExperimentDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "definition"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        if ": " in message and first["type"] == "value_error":
            path, message = message.split(": ", 1)
        raise ValidationError(path, first.get("input"), message) from None
