"""Measurement over HTTP: attribution on the warehouse's paths or on posted path counts.

Thin calls into ``platform.attribution`` (``analytics/attribution/service.py``);
``omni attribution`` calls the first while a server owns the home.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.analytics.attribution import MODELS
from omnichannel.api.deps import PlatformDep
from omnichannel.errors import ValidationError
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

MODEL_DESCRIPTION = "One of: " + ", ".join(MODELS) + " (docs/attribution.md)."
MAX_BODY_BYTES = 50 * 1024 * 1024


class ChannelCreditPublic(BaseModel):
    channel: str
    conversions: float = Field(description="Conversions the model credits the channel with.")
    value: float = Field(description="Conversion value credited.")
    share: float = Field(description="Share of all credited conversions.")
    spend: float | None = Field(description="Ad spend of the channel in the period, if known.")
    roas: float | None = Field(description="value / spend.")
    cpa: float | None = Field(description="spend / conversions.")


class RejectedRowPublic(BaseModel):
    line: int
    field: str
    value: str
    reason: str


class AttributionPublic(BaseModel):
    model: str
    parameters: dict[str, Any]
    paths: int = Field(description="Paths attributed (person paths, or rows of the file).")
    converting_paths: int
    conversions: float
    value: float
    nulls: float = Field(description="Paths (or path counts) that did not convert.")
    conversions_without_touch: int = Field(
        description="Conversions with no touch in the lookback window (credited to no channel)."
    )
    channels: list[ChannelCreditPublic] = Field(description="Most credited first.")
    details: dict[str, Any] = Field(
        description="Model specifics: Markov removal effects and states, Shapley values..."
    )
    rejected: list[RejectedRowPublic] = Field(
        description="Rows of a path file left out, with the reason; the rest is attributed."
    )


class PathCount(BaseModel):
    path: str | list[str] = Field(description='"a > b > c", or the list of channels.')
    conversions: float = 0
    value: float = 0
    nulls: float = 0


class PathCounts(BaseModel):
    paths: list[PathCount]


Model = Annotated[str, Query(description=MODEL_DESCRIPTION)]
Order = Annotated[int, Query(description="Markov chain order, 1 to 3.")]
HalfLife = Annotated[
    float, Query(description="time_decay: days (touches, for path counts) to halve a weight.")
]


@router.get("/attribution", response_model=AttributionPublic, summary="Attribute conversions")
async def attribution(
    platform: PlatformDep,
    model: Model = "markov",
    lookback_days: Annotated[
        float, Query(description="Touches count up to this many days before a conversion.")
    ] = 30.0,
    since: Annotated[datetime | None, Query(description="Conversions from (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Conversions before (UTC).")] = None,
    order: Order = 1,
    half_life: HalfLife = 7.0,
) -> Any:
    """Credit the warehouse's conversions to channels from each person's touches before them."""
    result = await run_in_threadpool(
        platform.attribution.run,
        model,
        lookback_days=lookback_days,
        since=since,
        until=until,
        order=order,
        half_life=half_life,
    )
    return jsonable(result)


@router.post(
    "/attribution/paths",
    response_model=AttributionPublic,
    summary="Attribute path counts",
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": PathCounts.model_json_schema()},
            }
        }
    },
)
async def attribution_of_paths(
    request: Request,
    platform: PlatformDep,
    model: Model = "markov",
    sep: Annotated[
        str | None, Query(description="Separator between channels (default: detected).")
    ] = None,
    order: Order = 1,
    half_life: HalfLife = 7.0,
) -> Any:
    """Credit posted path counts: a CSV body (path, conversions, value, nulls) or JSON."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ValidationError("body", f"{len(body)} bytes", f"at most {MAX_BODY_BYTES} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    source: Any
    if kind == "application/json":
        source = _counts(body)
    else:
        try:
            source = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("body", "not UTF-8", "a UTF-8 CSV") from None
    result = await run_in_threadpool(
        platform.attribution.from_paths, source, model, sep=sep, order=order, half_life=half_life
    )
    return jsonable(result)


def _counts(body: bytes) -> list[dict[str, Any]]:
    import json

    try:
        loaded = json.loads(body)
    except ValueError as exc:
        raise ValidationError("body", str(exc), 'JSON: {"paths": [{"path": ..., ...}]}') from None
    items = loaded.get("paths") if isinstance(loaded, dict) else loaded
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationError(
            "paths", type(items).__name__, 'a list of {"path", "conversions", "value", "nulls"}'
        )
    return items
