"""Partner audiences over HTTP: `omni partners` beside a running server (docs/privacy.md).

Paths (files, the salt file) are the server's: it runs on the installation's machine.
The salt is never sent in a request body, so it stays out of request logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable
from omnichannel.privacy.partner_files import salt_from
from omnichannel.privacy.partners import DEFAULT_EXPIRY_DAYS

router = APIRouter(prefix="/api/partners", tags=["partners"])

SALT_HELP = "A file holding the salt agreed with the partner (mode 0600), or $OMNI_PARTNER_SALT"


class Salted(BaseModel):
    salt_file: str | None = Field(None, description=SALT_HELP)

    def salt(self) -> bytes:
        return salt_from(Path(self.salt_file) if self.salt_file else None)


class ShareBody(Salted):
    audience: str = Field(description="A segment's name, or all", examples=["vip"])
    partner: str = Field(examples=["acme"])
    out: str = Field(description="The file to write (the server's path)")
    expires_days: int = Field(DEFAULT_EXPIRY_DAYS, ge=1, le=365)


class ReceiveBody(Salted):
    file: str = Field(description="The partner's file (the server's path)")
    partner: str = Field(examples=["acme"])
    expires_days: int = Field(DEFAULT_EXPIRY_DAYS, ge=1, le=365)


class OverlapBody(Salted):
    audience: str = Field(description="A segment's name, or all")
    min_group: int | None = Field(None, ge=1, description="Default: OMNI_PARTNER_MIN_GROUP")


class AttributeBody(Salted):
    campaign: str = Field(description="orders.campaign_id of the joint campaign")
    exchanges: list[int] = Field(min_length=1, description="Received partner files' ids")
    min_group: int | None = Field(None, ge=1)


@router.get("", summary="Partner files sent and received, newest first, with their expiry")
async def list_exchanges(
    platform: PlatformDep,
    partner: Annotated[str | None, Query(description="Only this partner's")] = None,
) -> Any:
    return jsonable(await run_in_threadpool(platform.partners.exchanges, partner=partner))


@router.post("/share", status_code=201, summary="Write the audience's consenting people, hashed")
async def share(platform: PlatformDep, actor: ActorDep, body: ShareBody) -> Any:
    def work() -> dict[str, Any]:
        return platform.partners.share(
            body.audience,
            partner=body.partner,
            salt=body.salt(),
            out=Path(body.out),
            actor=actor,
            expires_days=body.expires_days,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/receive", status_code=201, summary="Check a partner's file and keep it to expiry")
async def receive(platform: PlatformDep, actor: ActorDep, body: ReceiveBody) -> Any:
    def work() -> dict[str, Any]:
        return platform.partners.receive(
            Path(body.file),
            partner=body.partner,
            salt=body.salt(),
            actor=actor,
            expires_days=body.expires_days,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/{exchange_id}/overlap", summary="Overlap with a partner's file, as counts")
async def overlap(
    platform: PlatformDep, actor: ActorDep, exchange_id: int, body: OverlapBody
) -> Any:
    def work() -> dict[str, Any]:
        return platform.partners.overlap(
            exchange_id,
            audience=body.audience,
            salt=body.salt,  # read once the exchange is found
            min_group=body.min_group,
            actor=actor,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/attribute", summary="A joint campaign's orders per partner, as counts")
async def attribute(platform: PlatformDep, actor: ActorDep, body: AttributeBody) -> Any:
    def work() -> dict[str, Any]:
        return platform.partners.attribute(
            body.campaign,
            body.exchanges,
            salt=body.salt,  # read once the exchanges are found
            min_group=body.min_group,
            actor=actor,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/purge", summary="Remove the kept files of exchanges past their expiry")
async def purge(platform: PlatformDep, actor: ActorDep) -> Any:
    return {"purged": await run_in_threadpool(platform.partners.purge_expired, actor=actor)}
