"""A report's definition: metric x dimensions x filters -> table or chart.

A document (a mapping, or JSON or YAML text)::

    title: Revenue per channel, weekly
    metric: {kind: kpi, kpis: [revenue, ctr]}        # or funnel, retention, attribution
    dimensions: [channel, period]
    filters: {since: 2026-06-01, until: 2026-07-01, channel: email}
    period: week
    presentation: bar                                 # table, bar or line

Which dimensions each metric can be cut by is the metric's own (``DIMENSIONS``); a
dimension or filter it cannot take is an error naming it and what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnichannel.analytics.attribution import MODELS
from omnichannel.errors import ValidationError

KINDS = ("kpi", "funnel", "retention", "attribution")
PRESENTATIONS = ("table", "bar", "line")
PERIODS = ("day", "week", "month")
# What each metric can be cut by ("segment:NAME": member of the segment NAME or not).
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "kpi": ("channel", "campaign", "content", "period"),
    "funnel": ("channel", "campaign", "content", "device", "store", "segment"),
    "retention": ("period",),
    "attribution": ("channel",),
}
ALL_DIMENSIONS = ("channel", "campaign", "content", "device", "store", "segment", "period")
# Filters each metric takes.
FILTERS: dict[str, tuple[str, ...]] = {
    "kpi": ("since", "until", "channel", "campaign", "segment"),
    "funnel": ("since", "until"),
    "retention": ("since", "until"),
    "attribution": ("since", "until"),
}
# The attribution package's own list: a model it gains is offered here too.
ATTRIBUTION_MODELS = MODELS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(_Strict):
    since: date | None = None
    until: date | None = None
    channel: str | None = None
    campaign: str | None = None
    segment: str | None = None


class Metric(_Strict):
    kind: Literal["kpi", "funnel", "retention", "attribution"]
    # kpi: names from the KPI catalogue (docs/kpis.md).
    kpis: list[str] | None = None
    # funnel: a funnel document (docs/funnels.md) or the marketing preset.
    funnel: dict[str, Any] | None = None
    preset: Literal["marketing"] | None = None
    # retention: a retention document (start, returning, periods).
    retention: dict[str, Any] | None = None
    # attribution: the models side by side, and the lookback window.
    models: list[str] | None = None
    lookback_days: float | None = Field(None, gt=0, le=365)  # default 30


class ReportDefinition(_Strict):
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    metric: Metric
    dimensions: list[str] = Field(default_factory=list)
    filters: Filters = Field(default_factory=Filters)
    period: Literal["day", "week", "month"] = "week"
    presentation: Literal["table", "bar", "line"] = "table"

    @field_validator("dimensions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for i, dim in enumerate(value):
            base, _, name = dim.partition(":")
            if base not in ALL_DIMENSIONS or (base == "segment") != bool(name):
                raise ValueError(
                    f"dimensions.{i}: {dim!r} is not accepted: expected one of "
                    + ", ".join(ALL_DIMENSIONS)
                    + " (a segment as segment:NAME)"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"dimensions: {value!r} repeats a dimension")
        return value

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _check_fits(d: ReportDefinition) -> None:
    kind = d.metric.kind
    for i, dim in enumerate(d.dimensions):
        if dim.partition(":")[0] not in DIMENSIONS[kind]:
            raise ValidationError(
                f"dimensions.{i}",
                dim,
                f"a dimension a {kind} metric is cut by: " + ", ".join(DIMENSIONS[kind]),
            )
    for name, value in d.filters.model_dump(exclude_none=True).items():
        if name not in FILTERS[kind]:
            raise ValidationError(
                f"filters.{name}",
                value,
                f"a filter of a {kind} metric: " + ", ".join(FILTERS[kind]),
            )
    m = d.metric
    if kind == "kpi" and not m.kpis:
        raise ValidationError("metric.kpis", m.kpis, "one or more KPI names (omni kpis list)")
    if kind == "kpi":
        from omnichannel.analytics.kpis.service import kpi_names

        try:
            kpi_names(m.kpis)
        except ValidationError as exc:
            raise ValidationError("metric.kpis", m.kpis, exc.accepted) from None
    if kind == "funnel" and (m.funnel is None) == (m.preset is None):
        raise ValidationError(
            "metric.funnel", m.funnel, "a funnel document or preset: marketing (not both)"
        )
    if kind == "attribution":
        models = m.models or ["last_touch"]
        for i, model in enumerate(models):
            if model not in ATTRIBUTION_MODELS:
                raise ValidationError(
                    f"metric.models.{i}", model, "one of " + ", ".join(ATTRIBUTION_MODELS)
                )


def parse_report(doc: Mapping[str, Any] | str) -> ReportDefinition:
    """A report definition from a mapping, or JSON or YAML text; errors name the field."""
    from omnichannel.segments.definition import read_document

    data = read_document(doc, "an object with title and metric")
    try:
        definition = ReportDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "definition"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        value = first.get("input")
        if ": " in message and first["type"] == "value_error":
            path, message = message.split(": ", 1)
            message = message.split(" is not accepted: expected ", 1)[-1]
        raise ValidationError(path, value, message) from None
    _check_fits(definition)
    return definition
