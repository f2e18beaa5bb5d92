"""Best send times over HTTP: one person's, each channel's peaks, and a new fit.

Thin calls into ``platform.send_times`` (``sendtime/service.py``); ``omni send-times``
calls these when a server owns the home.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable
from omnichannel.sendtime.evidence import CHANNELS

router = APIRouter(prefix="/api/send-times", tags=["send-times"])


class PeakHourPublic(BaseModel):
    hour_of_week: int = Field(description="Local hour of the week, Monday 00:00 = 0.")
    label: str = Field(description='The same as people read it, e.g. "Tue 19:00".')
    share: float = Field(description="The audience's share of responses in this hour.")


class ChannelPeaksPublic(BaseModel):
    channel: str
    hours: list[PeakHourPublic] = Field(description="Highest share first.")


class ChannelSendTimePublic(BaseModel):
    hour_of_week: int = Field(description="Best local hour of the week, Monday 00:00 = 0.")
    label: str = Field(description='e.g. "Tue 19:00", in the person\'s time zone.')
    evidence: int = Field(
        description="Active hours observed (responses on the channel among them)."
    )
    engagements: int = Field(
        description="Hours with a response (open, click, read) on the channel."
    )
    weight_own: float = Field(description="Share of the estimate that is the person's own data.")
    source: str = Field(description="own (weight_own >= 0.5) or population.")
    profile: list[float] = Field(description="168 shares, the estimate for each hour of week.")


class SendTimesPublic(BaseModel):
    profile_id: str
    timezone: str
    timezone_known: bool = Field(description="False: the installation's zone stands in.")
    channels: dict[str, ChannelSendTimePublic]


class BuildPublic(BaseModel):
    status: str
    profiles: int
    rows: int
    until: datetime | None
    timezone: str
    channels: dict[str, dict[str, Any]] = Field(
        description="Per channel: prior_strength, engagements, peak, own and population counts."
    )
    seconds: float


@router.post("/build", response_model=BuildPublic, summary="Fit the send-time model")
async def build(
    platform: PlatformDep,
    until: Annotated[
        datetime | None, Query(description="Learn only from events before this time (UTC).")
    ] = None,
) -> Any:
    """Fit every profile's best send hour per channel and swap the tables in."""
    report = await run_in_threadpool(platform.send_times.build, until=until)
    return jsonable(report.as_dict())


@router.get("/peaks", response_model=list[ChannelPeaksPublic], summary="Channel peak hours")
async def peaks(
    platform: PlatformDep,
    channel: Annotated[str | None, Query(description="One channel (default: all).")] = None,
    top: Annotated[int | None, Query(ge=1, le=168, description="Hours per channel.")] = None,
) -> Any:
    """The audience's busiest local hours of the week on each channel."""
    names = [channel] if channel else list(CHANNELS)

    def read() -> list[dict[str, Any]]:
        return [{"channel": n, "hours": platform.send_times.peaks(n, top=top)} for n in names]

    return await run_in_threadpool(read)


@router.get("/{identifier}", response_model=SendTimesPublic, summary="One person's send times")
async def of(
    platform: PlatformDep,
    identifier: Annotated[
        str, Path(description="A profile id, or TYPE:VALUE such as email:ann@example.com.")
    ],
) -> Any:
    """Best send hour per channel, its evidence and the 168-hour estimate."""
    return await run_in_threadpool(platform.send_times.of, identifier)
