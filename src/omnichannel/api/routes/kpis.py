"""KPIs over HTTP: thin calls into ``platform.kpis`` (``analytics/kpis/service.py``);
``omni kpis`` calls these while a server owns the home."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

Kpis = Annotated[
    str | None, Query(description="Comma-separated KPI names (default all; docs/kpis.md).")
]
Since = Annotated[datetime | None, Query(description="From (UTC).")]
Until = Annotated[datetime | None, Query(description="Before (UTC).")]
By = Annotated[
    str | None, Query(description="Group by channel, campaign and/or content (comma-separated).")
]
Channel = Annotated[str | None, Query(description="Only this channel.")]
Campaign = Annotated[str | None, Query(description="Only this campaign id.")]


@router.get("/kpis/catalogue", summary="The KPI catalogue")
async def kpi_catalogue(platform: PlatformDep) -> Any:
    """Every KPI: name, kind, formula and the measures (events, tables) it reads."""
    return platform.kpis.catalogue()


@router.get("/kpis", summary="KPIs per group and period")
async def kpis(
    platform: PlatformDep,
    kpis: Kpis = None,
    since: Since = None,
    until: Until = None,
    by: By = None,
    period: Annotated[str | None, Query(description="day, week or month.")] = None,
    channel: Channel = None,
    campaign: Campaign = None,
    segment: Annotated[
        str | None, Query(description="Target audience for audience_coverage.")
    ] = None,
) -> Any:
    """Each KPI per group of ``by`` and ``period``; ``no_data`` names KPIs without inputs."""
    result = await run_in_threadpool(
        platform.kpis.run,
        kpis,
        since=since,
        until=until,
        by=by,
        period=period,
        channel=channel,
        campaign=campaign,
        segment=segment,
    )
    return jsonable(result)


@router.get("/kpis/compare", summary="Compare KPIs across periods, channels or campaigns")
async def compare(
    platform: PlatformDep,
    kpis: Kpis = None,
    since: Since = None,
    until: Until = None,
    against_since: Annotated[
        datetime | None, Query(description="The other period from (default: the one before).")
    ] = None,
    against_until: Annotated[
        datetime | None, Query(description="The other period before (default: since).")
    ] = None,
    across: Annotated[
        str | None, Query(description="channel or campaign: each against baseline.")
    ] = None,
    baseline: Annotated[str | None, Query(description="The group compared against.")] = None,
    by: By = None,
    channel: Channel = None,
    campaign: Campaign = None,
    alpha: Annotated[float, Query(description="Significance level of the flag.")] = 0.05,
) -> Any:
    """Values, change, relative change, the noise test's p-value and the flag."""
    result = await run_in_threadpool(
        platform.kpis.compare,
        kpis,
        since=since,
        until=until,
        against_since=against_since,
        against_until=against_until,
        across=across,
        baseline=baseline,
        by=by,
        channel=channel,
        campaign=campaign,
        alpha=alpha,
    )
    return jsonable(result)


@router.get("/kpis/coverage", summary="Channel coverage")
async def coverage(platform: PlatformDep) -> Any:
    """Per channel, the profiles it can reach (an address and consent) and their share."""
    return jsonable(await run_in_threadpool(platform.kpis.channel_coverage))
