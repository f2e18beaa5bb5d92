"""The marketing-mix model over HTTP: fit a posted CSV or the warehouse; read the fit in use.

Thin calls into ``platform.mmm`` (``mmm/service.py``); ``omni mmm`` calls these while a
server owns the home.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.errors import ValidationError
from omnichannel.jsonable import jsonable
from omnichannel.mmm import DEFAULT_BOOTSTRAP

router = APIRouter(prefix="/api/mmm", tags=["mmm"])

MAX_BODY_BYTES = 50 * 1024 * 1024


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@router.post(
    "/fit",
    summary="Fit the marketing-mix model",
    openapi_extra={
        "requestBody": {"required": False, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def fit(
    request: Request,
    platform: PlatformDep,
    who: PrincipalDep,
    date_col: Annotated[str | None, Query(description="CSV: the date column.")] = None,
    target_col: Annotated[str | None, Query(description="CSV: the column to explain.")] = None,
    spend_cols: Annotated[
        str | None, Query(description="CSV: spend columns, comma-separated.")
    ] = None,
    control_cols: Annotated[
        str | None,
        Query(description="CSV: control columns (promotions, price...), comma-separated."),
    ] = None,
    target: Annotated[
        str, Query(description="Warehouse: orders (count per day) or revenue (sum of totals).")
    ] = "orders",
    period: Annotated[str, Query(description="day or week.")] = "day",
    method: Annotated[str, Query(description="fast (default) or bayes (PyMC-Marketing).")] = "fast",
    holdout_days: Annotated[
        int | None, Query(description="Days held out at the end to score it (default 10%).")
    ] = None,
    bootstrap: Annotated[int, Query(description="Bootstrap refits for the intervals.")] = (
        DEFAULT_BOOTSTRAP
    ),
    seed: int = 0,
    detail: Annotated[bool, Query(description="Add response curves and time series.")] = False,
) -> Any:
    """Fit a CSV body (with ``date_col``, ``target_col``, ``spend_cols``) or, with no body,
    the warehouse's ad spend and orders by day; the fit is stored as a version of ``mmm``."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ValidationError("body", f"{len(body)} bytes", f"at most {MAX_BODY_BYTES} bytes")
    data: str | None = None
    if body.strip():
        try:
            data = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("body", "not UTF-8", "a UTF-8 CSV") from None
        if "\n" not in data.strip():
            raise ValidationError("body", data[:40], "a CSV with a header and rows")
    result = await run_in_threadpool(
        lambda: platform.mmm.fit(
            data,
            date_col=date_col,
            target_col=target_col,
            spend_cols=_names(spend_cols),
            control_cols=_names(control_cols),
            target=target,
            period=period,
            method=method,
            holdout_days=holdout_days,
            bootstrap=bootstrap,
            seed=seed,
            detail=detail,
            by=acting(who, None),  # the token's user, not "api"
        )
    )
    return jsonable(result)


@router.get("/latest", summary="The marketing-mix fit in use")
async def latest(
    platform: PlatformDep,
    detail: Annotated[bool, Query(description="Response curves and time series too.")] = True,
) -> Any:
    """The fit in use (the version of ``mmm`` budget allocation plans with), or 404."""
    return jsonable(await run_in_threadpool(lambda: platform.mmm.latest_report(detail=detail)))
