"""Data-subject requests over HTTP: `omni privacy` beside a running server (docs/privacy.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/privacy", tags=["privacy"])

# The permission of each endpoint (api/app.py mounts the router with guard("privacy")).
ACTIONS = {
    "export_person": "privacy:export",
    "open_request": "privacy:export",
    "erase_person": "privacy:erase",
    "rotate_keys": "admin:all",
}


class SubjectRequest(BaseModel):
    """A data-subject request about one person."""

    person: str = Field(description="TYPE:VALUE or profile:ID", examples=["email:ann@x.com"])
    regulation: Literal["gdpr", "pipl"] | None = Field(
        None, description="The law it is answered under (default: OMNI_PRIVACY_REGULATION)"
    )
    request_id: int | None = Field(None, description="A request logged earlier (POST .../requests)")


class NewRequest(BaseModel):
    kind: Literal["export", "erasure"]
    person: str = Field(description="TYPE:VALUE or profile:ID")
    regulation: Literal["gdpr", "pipl"] | None = None
    note: str = Field("", max_length=2000)


class EraseRequest(SubjectRequest):
    confirm: bool = Field(False, description="Must be true: erasure cannot be undone")


@router.get("/requests", summary="Data-subject requests with their deadline and status")
async def list_requests(
    platform: PlatformDep,
    status: Annotated[str | None, Query(description="open, overdue, done or failed")] = None,
) -> Any:
    return jsonable(await run_in_threadpool(platform.privacy.requests, status=status))


@router.post("/requests", status_code=201, summary="Log a request as received (its deadline set)")
async def open_request(platform: PlatformDep, actor: ActorDep, body: NewRequest) -> Any:
    def work() -> dict[str, Any]:
        return platform.privacy.open_request(
            body.kind,
            body.person,
            requested_by=actor,
            regulation=body.regulation,
            note=body.note,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/export", summary="Write everything held about one person to a zip archive")
async def export_person(platform: PlatformDep, actor: ActorDep, body: SubjectRequest) -> Any:
    def work() -> dict[str, Any]:
        return platform.privacy.export(
            body.person,
            requested_by=actor,
            request_id=body.request_id,
            regulation=body.regulation,
        )

    return jsonable(await run_in_threadpool(work))


@router.post("/erase", summary="Erase one person from every store and file; returns the receipt")
async def erase_person(platform: PlatformDep, actor: ActorDep, body: EraseRequest) -> Any:
    if not body.confirm:
        from omnichannel.errors import ValidationError

        raise ValidationError("confirm", body.confirm, "true: erasure cannot be undone")

    def work() -> dict[str, Any]:
        return platform.privacy.erase(
            body.person,
            requested_by=actor,
            request_id=body.request_id,
            regulation=body.regulation,
        )

    return jsonable(await run_in_threadpool(work))


class RotateKeys(BaseModel):
    master: bool = Field(
        False, description="Replace the master key (the key file) instead of adding a data key"
    )


@router.get("/keys", summary="The keyring personal data is sealed with (no key material)")
async def keys_status(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.privacy.keys_status))


@router.post("/keys/rotate", summary="A new active data key, or a new master key")
async def rotate_keys(platform: PlatformDep, actor: ActorDep, body: RotateKeys) -> Any:
    def work() -> dict[str, Any]:
        return platform.privacy.rotate_keys(actor=actor, master=body.master)

    return jsonable(await run_in_threadpool(work))
