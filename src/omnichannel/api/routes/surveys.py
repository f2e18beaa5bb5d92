"""Surveys over HTTP: thin calls into ``platform.surveys`` (surveys/).

``omni surveys ...`` calls these while a server owns the home. The answer page itself
(``/s/<token>``, public, signed links) is ``web/survey_answer.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/surveys", tags=["surveys"])


class SurveyCreate(BaseModel):
    document: dict[str, Any] | str = Field(description="The survey (object, YAML or JSON).")
    actor: str = Field("api", description="Who saves it (audited; a user is always themselves).")


class SurveySend(BaseModel):
    channel: str = Field(description="email, sms, wechat, push, inbox... (a configured channel).")
    identifier: str | None = Field(None, description="The person, TYPE:VALUE.")
    profile_id: str | None = None
    template: str | None = Field(None, description="A stored template with {{ survey_link }}.")
    content: dict[str, Any] | None = Field(None, description="Or inline content.")
    campaign: str | None = Field(None, description="Default survey:NAME.")
    idempotency_key: str | None = None


class SurveySegmentSend(BaseModel):
    segment: str
    channel: str
    template: str | None = None
    content: dict[str, Any] | None = None
    campaign: str | None = None
    limit: int | None = Field(None, ge=1)


class SurveyPrompt(BaseModel):
    identifier: str | None = Field(None, description="The app's user, TYPE:VALUE.")
    profile_id: str | None = None
    lang: str = Field("en", description="en or zh: the questions' language.")


Since = Annotated[datetime | None, Query(description="From (UTC).")]
Until = Annotated[datetime | None, Query(description="Before (UTC).")]


@router.get("", summary="List surveys")
async def list_surveys(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.surveys.list))


@router.post("", summary="Create a survey", status_code=201)
async def create_survey(body: SurveyCreate, platform: PlatformDep, who: PrincipalDep) -> Any:
    actor = acting(who, body.actor)
    return jsonable(await run_in_threadpool(platform.surveys.create, body.document, actor=actor))


@router.post("/{name}/versions", summary="Save a new version of a survey", status_code=201)
async def save_survey_version(
    name: str, body: SurveyCreate, platform: PlatformDep, who: PrincipalDep
) -> Any:
    actor = acting(who, body.actor)
    result = await run_in_threadpool(platform.surveys.save_version, body.document, actor=actor)
    return jsonable(result)


@router.get("/{name}", summary="One survey, its document and versions")
async def show_survey(
    name: str, platform: PlatformDep, version: Annotated[int | None, Query(ge=1)] = None
) -> Any:
    return jsonable(await run_in_threadpool(platform.surveys.show, name, version=version))


@router.post("/{name}/send", summary="Ask one person by a message with the survey's link")
async def send_survey(name: str, body: SurveySend, platform: PlatformDep) -> Any:
    values = body.model_dump()
    return jsonable(await run_in_threadpool(lambda: platform.surveys.send(name, **values)))


@router.post("/{name}/send-segment", summary="Ask a segment's members (a campaign)")
async def send_survey_segment(name: str, body: SurveySegmentSend, platform: PlatformDep) -> Any:
    values = body.model_dump()
    segment = values.pop("segment")
    result = await run_in_threadpool(lambda: platform.surveys.send_segment(name, segment, **values))
    return jsonable(result)


@router.post("/{name}/prompt", summary="In-app: the survey to show this person now, or why not")
async def prompt_survey(name: str, body: SurveyPrompt, platform: PlatformDep) -> Any:
    values = body.model_dump()
    return jsonable(await run_in_threadpool(lambda: platform.surveys.prompt(name, **values)))


@router.get("/{name}/receipt-qr", summary="A store receipt's QR code (SVG or PNG) of its link")
async def receipt_qr(
    name: str,
    platform: PlatformDep,
    store: Annotated[str, Query(min_length=1, max_length=100)],
    receipt: Annotated[str, Query(min_length=1, max_length=100)],
    format: Annotated[str, Query(description="svg or png")] = "svg",
    scale: Annotated[int, Query(ge=1, le=20)] = 4,
) -> Response:
    made = await run_in_threadpool(
        lambda: platform.surveys.receipt_qr(
            name, store=store, receipt=receipt, format=format, scale=scale
        )
    )
    return Response(
        made["image"], media_type=made["media_type"], headers={"X-Survey-Link": made["url"]}
    )


@router.get("/{name}/results", summary="NPS/CSAT/CES with intervals, by group and period")
async def survey_results(
    name: str,
    platform: PlatformDep,
    by: Annotated[str | None, Query(description="channel, store, campaign or segment")] = None,
    period: Annotated[str, Query(description="day, week or month")] = "week",
    segment: Annotated[list[str] | None, Query(description="Segments, with by=segment.")] = None,
    since: Since = None,
    until: Until = None,
    change: Annotated[str | None, Query(description="Compare before and after this date.")] = None,
) -> Any:
    result = await run_in_threadpool(
        lambda: platform.surveys.results(
            name,
            by=by,
            period=period,
            segments=segment or [],
            since=since,
            until=until,
            change=change,
        )
    )
    return jsonable(result)


@router.get("/{name}/responses", summary="Each response (partial ones too), newest first")
async def survey_responses(
    name: str, platform: PlatformDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000
) -> Any:
    return jsonable(await run_in_threadpool(lambda: platform.surveys.responses(name, limit=limit)))


@router.get("/{name}/text", summary="Free-text answers: keywords and sentiment per group")
async def survey_text(
    name: str,
    platform: PlatformDep,
    by: Annotated[str, Query(description="store, channel, campaign or period")] = "store",
    period: Annotated[str, Query(description="day, week or month")] = "month",
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    since: Since = None,
    until: Until = None,
) -> Any:
    result = await run_in_threadpool(
        lambda: platform.surveys.text(name, by=by, period=period, top=top, since=since, until=until)
    )
    return jsonable(result)
