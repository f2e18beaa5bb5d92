"""The alert rule document: a list of rules, each of one kind, checked field by field.

Example (YAML)::

    rules:
      - name: email-ctr
        kind: kpi_band           # a KPI leaving its normal range
        kpi: ctr
        channel: email
        period: day
        history: 28              # periods the band is learnt from
        k: 3                     # band: median ± k · 1.4826 · MAD
      - name: pixel
        kind: tracking_silent    # a source/event with steady volume went silent
        silent_hours: 2
      - name: wasted-spend
        kind: spend_without_conversions
        days: 3
        min_spend: 100
      - name: checkout
        kind: funnel_collapse
        from_event: Checkout Started
        to_event: Order Completed
        window_hours: 24
    notify:
      webhook: [ops]             # endpoint names of channels.yaml's webhook section
      email: [ops@example.com]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnichannel.errors import ValidationError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class Notify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook: list[str] = Field(default_factory=list, description="Webhook endpoint names.")
    email: list[str] = Field(default_factory=list, description="Email addresses.")

    @field_validator("email")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                raise ValueError(f"an email address (got {address!r})")
        return value


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    enabled: bool = True
    notify: Notify | None = Field(None, description="Overrides the document's notify.")


class KpiBand(_Rule):
    """A KPI outside median ± k·MAD of its own last ``history`` periods."""

    kind: Literal["kpi_band"]
    kpi: str
    period: Literal["day", "week"] = "day"
    channel: str | None = None
    campaign: str | None = None
    history: int = Field(28, ge=3, le=366)
    min_history: int = Field(7, ge=3)
    k: float = Field(3.0, gt=0)
    # Compare a day with the same weekday only (history counts those days).
    seasonal: bool = False
    direction: Literal["both", "below", "above"] = "both"

    @field_validator("kpi")
    @classmethod
    def _kpi(cls, value: str) -> str:
        from omnichannel.analytics.kpis.catalogue import CATALOGUE

        if value not in CATALOGUE:
            raise ValueError(f"a KPI among {', '.join(CATALOGUE)}")
        return value


class TrackingSilent(_Rule):
    """A source/event that fired steadily and has been silent for ``silent_hours``."""

    kind: Literal["tracking_silent"]
    source: str | None = None
    event: str | None = None
    silent_hours: float = Field(2.0, gt=0, le=24 * 7)
    history_days: int = Field(7, ge=1, le=90)
    # Steady: at least this share of the history's hours had an event.
    steady_share: float = Field(0.9, gt=0, le=1)


class SpendWithoutConversions(_Rule):
    """A campaign that spent at least ``min_spend`` in ``days`` with no purchase or reservation."""

    kind: Literal["spend_without_conversions"]
    days: int = Field(3, ge=1, le=90)
    min_spend: float = Field(100.0, ge=0)
    campaign: str | None = None


class FunnelCollapse(_Rule):
    """The day's conversion from ``from_event`` to ``to_event`` fell below its band."""

    kind: Literal["funnel_collapse"]
    from_event: str = Field(min_length=1)
    to_event: str = Field(min_length=1)
    window_hours: float = Field(24.0, gt=0, le=24 * 30)
    history: int = Field(28, ge=3, le=366)
    min_history: int = Field(7, ge=3)
    k: float = Field(3.0, gt=0)
    # Days with fewer people at the first step are left out of the band and not judged.
    min_people: int = Field(20, ge=1)


Rule = Annotated[
    KpiBand | TrackingSilent | SpendWithoutConversions | FunnelCollapse,
    Field(discriminator="kind"),
]
KINDS = ("kpi_band", "tracking_silent", "spend_without_conversions", "funnel_collapse")


class RuleDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    notify: Notify = Field(default_factory=Notify)


_ADAPTER = pydantic.TypeAdapter(Rule)


def _where(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in KINDS:
            continue  # the discriminated union's branch, not a field of the document
        else:
            path += ("." if path else "") + str(part)
    return path or "document"


def _translate(exc: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    first = exc.errors()[0]
    where = _where(tuple(first["loc"]))
    if prefix:
        where = f"{prefix}.{where}" if where != "document" else prefix
    accepted = str(first["msg"]).removeprefix("Value error, ")
    value = first.get("input")
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        accepted = f"one of {', '.join(KINDS)}"
        where = f"{where}.kind" if not where.endswith("kind") else where
        value = value.get("kind") if isinstance(value, Mapping) else value
    return ValidationError(where, value, accepted)


def read_rules(doc: Mapping[str, Any] | str) -> RuleDocument:
    """The rule document checked: YAML or JSON text, or a mapping (``{"rules": [...]}``).

    A bad rule raises ValidationError naming its path (``rules[1].k``), the value and
    what is accepted.
    """
    from omnichannel.segments.definition import read_document

    data = read_document(doc, 'an alert document: {"rules": [...], "notify": {...}}')
    try:
        parsed = RuleDocument.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _translate(exc) from None
    names = [r.name for r in parsed.rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValidationError(f"rules[{i}].name", name, "a name no other rule has")
    return parsed


def rule_of(definition: Mapping[str, Any]) -> Rule:
    """A stored rule's definition, read back."""
    try:
        return _ADAPTER.validate_python(dict(definition))
    except pydantic.ValidationError as exc:
        raise _translate(exc, prefix=str(definition.get("name", "rule"))) from None
