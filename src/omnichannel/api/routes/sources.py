"""Sources and their write keys over HTTP (the same operations as ``omni sources``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import ValidationError
from omnichannel.ingest.sources import (
    SourceInfo,
    add_write_key,
    create_source,
    list_sources,
    revoke,
)
from omnichannel.opstore.models import SourceKind

router = APIRouter(prefix="/v1/sources", tags=["sources"])


class SourceCreate(BaseModel):
    name: str = Field(description="Unique name, e.g. web-store; stamped on every event.")
    kind: SourceKind = SourceKind.HTTP
    description: str = ""


class KeyPublic(BaseModel):
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class SourcePublic(BaseModel):
    name: str
    kind: str
    description: str
    created_at: datetime
    keys: list[KeyPublic]


class SourceCreated(SourcePublic):
    write_key: str = Field(description="The new write key; shown only in this response.")


class Revoked(BaseModel):
    revoked: list[str] = Field(description="Prefixes of the keys revoked.")


def _public(info: SourceInfo) -> SourcePublic:
    return SourcePublic.model_validate(info.public())


@router.get("", response_model=list[SourcePublic])
def list_all(services: ServicesDep) -> list[SourcePublic]:
    """Every source with its keys (prefixes only; a key is shown once, at creation)."""
    with services.opstore().session() as session:
        return [_public(info) for info in list_sources(session)]


@router.post("", response_model=SourceCreated, status_code=201)
def create(body: SourceCreate, services: ServicesDep, actor: ActorDep) -> SourceCreated:
    """Create a source and its first write key (400 names a taken or malformed name)."""
    with services.opstore().session() as session:
        info = create_source(
            session,
            name=body.name,
            kind=body.kind.value,
            description=body.description,
            actor=actor,
        )
    return SourceCreated.model_validate(info.public())


@router.post("/{name}/keys", response_model=SourceCreated, status_code=201)
def new_key(name: str, services: ServicesDep, actor: ActorDep) -> SourceCreated:
    """Add a write key to a source (rotate: add, deploy, then revoke the old one)."""
    try:
        with services.opstore().session() as session:
            info = add_write_key(session, name=name, actor=actor)
    except ValidationError as exc:
        raise HTTPException(404, {"field": exc.field, "message": str(exc)}) from None
    return SourceCreated.model_validate(info.public())


@router.post("/{target}/revoke", response_model=Revoked)
def revoke_keys(target: str, services: ServicesDep, actor: ActorDep) -> Revoked:
    """Revoke all keys of the source named ``target``, or the one key with that prefix."""
    try:
        with services.opstore().session() as session:
            prefixes = revoke(session, target=target, actor=actor)
    except ValidationError as exc:
        raise HTTPException(404, {"field": exc.field, "message": str(exc)}) from None
    if services.ingest is not None:
        services.ingest.keys.forget()  # take effect now, not after the cache expires
    return Revoked(revoked=prefixes)
