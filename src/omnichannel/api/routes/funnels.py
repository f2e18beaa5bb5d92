"""Funnels and retention over HTTP: thin calls into ``platform.funnels`` and
``platform.retention`` (``analytics/funnels/``, ``analytics/retention.py``).

The body is the funnel (or retention) document as JSON (docs/funnels.md); ``omni funnel``
and ``omni retention`` post the same document while a server owns the home.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.analytics.funnels.presets import marketing_funnel
from omnichannel.api.deps import PlatformDep
from omnichannel.errors import ValidationError
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

FunnelDocument = Annotated[
    dict[str, Any],
    Body(
        description="A funnel document (docs/funnels.md): steps, window, order, since, until, by.",
        examples=[{"steps": ["Product Viewed", "Product Added", {"order": {}}], "window": "7d"}],
    ),
]


class StepPublic(BaseModel):
    step: int = Field(description="1-based.")
    name: str
    entered: int = Field(description="Entries (people) that reached this step.")
    conversion_from_previous: float
    conversion_from_first: float
    dropped_off: int | None = Field(description="Reached this step, not the next (None: last).")
    median_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None


class StepsPublic(BaseModel):
    steps: list[StepPublic]


class BreakdownPublic(BaseModel):
    values: dict[str, str | None]
    steps: list[StepPublic]


class FunnelPublic(BaseModel):
    funnel: str
    order: str
    window_seconds: int
    since: str | None
    until: str | None
    by: list[str]
    entry: str
    step_names: list[str]
    overall: StepsPublic
    breakdown: list[BreakdownPublic] = Field(description="Most entries first.")


class DropoffPersonPublic(BaseModel):
    person: str
    reached_at: str


class DropoffPublic(BaseModel):
    funnel: str
    step: int
    step_name: str
    next_step_name: str
    people: int
    listed: list[DropoffPersonPublic]
    segment: dict[str, Any] | None


class CohortPublic(BaseModel):
    cohort: str
    people: int
    counts: list[int | None] = Field(description="Per period, 0 = the cohort; None: not yet.")
    rates: list[float | None]


class RetentionPublic(BaseModel):
    start: str
    returning: str
    period: str
    periods: int
    since: str | None
    until: str | None
    people: int
    observed_until: str | None
    cohorts: list[CohortPublic]


def _document(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValidationError("body", type(doc).__name__, "a JSON object (the document)")
    return doc


@router.post("/funnels", response_model=FunnelPublic, summary="Run a funnel")
async def run_funnel(platform: PlatformDep, doc: FunnelDocument) -> Any:
    """Per step: entered, conversion from the previous and first step, drop-off, median and
    p90 time from the previous step; overall and per breakdown value."""
    return jsonable(await run_in_threadpool(platform.funnels.run, _document(doc)))


@router.get("/funnels/marketing", response_model=FunnelPublic, summary="The marketing funnel")
async def marketing_funnel_run(
    platform: PlatformDep,
    since: Annotated[str | None, Query(description="Exposures from (UTC).")] = None,
    until: Annotated[str | None, Query(description="Exposures before (UTC).")] = None,
    window: Annotated[str | None, Query(description="7d, 12h, 30m...")] = None,
    by: Annotated[str | None, Query(description="Breakdown (default campaign,channel).")] = None,
) -> Any:
    """Exposure > click > visit > purchase (online or in store), per campaign and channel."""
    overrides = {"since": since, "until": until, "window": window, "by": by}
    return jsonable(await run_in_threadpool(platform.funnels.marketing, **overrides))


@router.post("/funnels/sql", summary="The compiled SQL of a funnel")
async def funnel_sql(platform: PlatformDep, doc: FunnelDocument) -> dict[str, str]:
    """The SQL the funnel runs on the warehouse's engine."""
    return {"sql": await run_in_threadpool(platform.funnels.sql, _document(doc))}


@router.post("/funnels/dropoff", response_model=DropoffPublic, summary="A funnel's drop-off")
async def funnel_dropoff(
    platform: PlatformDep,
    doc: FunnelDocument,
    step: Annotated[int, Query(description="Reached this step (1-based), not the next.")],
    save_segment: Annotated[
        str | None, Query(description="Save those people as this segment.")
    ] = None,
    limit: Annotated[int, Query(description="How many people to list.")] = 1000,
) -> Any:
    """The people who reached ``step`` and not the next one; optionally saved as a segment."""
    result = await run_in_threadpool(
        lambda: platform.funnels.dropoff(
            _document(doc), step=step, save_segment=save_segment, limit=limit, actor="api"
        )
    )
    return jsonable(result)


@router.get("/funnels/presets/marketing", summary="The marketing funnel's document")
async def marketing_document() -> dict[str, Any]:
    """The preset's document, to copy and adapt."""
    return marketing_funnel()


@router.post("/retention", response_model=RetentionPublic, summary="A cohort table")
async def retention(
    platform: PlatformDep,
    doc: Annotated[
        dict[str, Any],
        Body(
            description="start (a step), returning, period (day/week/month), periods, since...",
            examples=[{"start": {"order": {}}, "period": "month", "periods": 6}],
        ),
    ],
) -> Any:
    """Cohorts by the period of their first ``start``; who returned in each later period."""
    return jsonable(await run_in_threadpool(platform.retention.run, _document(doc)))
