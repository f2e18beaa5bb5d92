"""The consent ledger over HTTP: `omni consent` beside a running server (privacy/ledger.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep, MaskingRoute
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/consent", tags=["privacy"], route_class=MaskingRoute)

PersonPath = Annotated[
    str, Path(description="TYPE:VALUE (email:ann@x.com, user_id:u1) or profile:ID")
]


class ConsentDecision(BaseModel):
    """One decision to add to the ledger."""

    person: str = Field(description="TYPE:VALUE or profile:ID", examples=["email:ann@x.com"])
    purpose: str = Field(description="marketing, analytics, personalisation, profiling, ...")
    status: str = Field(description="granted, denied, withdrawn or unsubscribed")
    channel: str = Field("*", description="email, sms, push, wechat, web, ... or * (every)")
    lawful_basis: str = Field("consent", description="consent, contract, legal_obligation, ...")
    source: str = Field("api", max_length=128, description="form, import, service_desk, ...")
    text_version: str = Field("", max_length=64, description="the consent text's version")
    evidence: dict[str, Any] = Field(default_factory=dict, description="what proves it")


@router.get("/{person}", summary="The consent in force per purpose and channel")
async def show_consent(platform: PlatformDep, person: PersonPath) -> Any:
    return jsonable(await run_in_threadpool(platform.consent.show, person))


@router.get("/{person}/history", summary="Every consent decision that counts for one person")
async def consent_history(platform: PlatformDep, person: PersonPath) -> Any:
    return jsonable(await run_in_threadpool(platform.consent.history, person))


@router.post("", status_code=201, summary="Record one consent decision (audited)")
async def record_consent(platform: PlatformDep, actor: ActorDep, body: ConsentDecision) -> Any:
    def work() -> dict[str, Any]:
        return platform.consent.record(
            body.person,
            purpose=body.purpose,
            status=body.status,
            channel=body.channel,
            lawful_basis=body.lawful_basis,
            source=body.source,
            actor=actor,
            evidence=body.evidence,
            text_version=body.text_version,
        )

    return jsonable(await run_in_threadpool(work))
