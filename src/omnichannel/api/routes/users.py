"""Users, roles and API tokens over HTTP: what `omni users` calls beside a running server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep, PrincipalDep, forbidden, require
from omnichannel.access.principal import Principal
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api", tags=["access"])


class UserCreate(BaseModel):
    email: str
    role: str = Field(description="admin, marketer, analyst, approver, viewer or service_desk.")
    name: str = ""
    password: str | None = Field(
        default=None, description="Omit for a one-time password (in the answer, shown once)."
    )


class RoleChange(BaseModel):
    role: str


class PasswordReset(BaseModel):
    password: str | None = Field(default=None, description="Omit for a one-time password.")


class TokenCreate(BaseModel):
    name: str = Field(description="What the token is for, e.g. reports.")
    role: str | None = Field(default=None, description="Default the user's role; never wider.")
    expires_days: int | None = None


def _own_or_admin(principal: Principal, email: str) -> None:
    if principal.email != email.strip().lower() and not principal.can("users:write"):
        raise forbidden(principal, "users:write")


@router.get("/me", summary="Who this request is authenticated as")
def me(principal: PrincipalDep) -> dict[str, Any]:
    return {**principal.public(), "permissions": sorted(_permissions(principal))}


def _permissions(principal: Principal) -> set[str]:
    from omnichannel.access.permissions import ROLE_PERMISSIONS

    return set(ROLE_PERMISSIONS[principal.role])


@router.get("/roles", summary="Each role and its permissions", dependencies=[require("users:read")])
def roles(platform: PlatformDep) -> dict[str, list[str]]:
    return platform.access.roles()


@router.get("/users", summary="Every user", dependencies=[require("users:read")])
def list_users(platform: PlatformDep) -> list[dict[str, Any]]:
    return platform.users.list()


@router.post(
    "/users", status_code=201, summary="Create a user", dependencies=[require("users:write")]
)
async def create_user(body: UserCreate, platform: PlatformDep, actor: ActorDep) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: platform.users.create(
            body.email, role=body.role, name=body.name, password=body.password, actor=actor
        )
    )


@router.get("/users/{email}", summary="One user", dependencies=[require("users:read")])
def show_user(email: str, platform: PlatformDep) -> dict[str, Any]:
    return platform.users.show(email)


@router.post(
    "/users/{email}/disable", summary="Disable a user", dependencies=[require("users:write")]
)
def disable_user(email: str, platform: PlatformDep, actor: ActorDep) -> dict[str, Any]:
    return platform.users.disable(email, actor=actor)


@router.post(
    "/users/{email}/enable", summary="Enable a user", dependencies=[require("users:write")]
)
def enable_user(email: str, platform: PlatformDep, actor: ActorDep) -> dict[str, Any]:
    return platform.users.enable(email, actor=actor)


@router.post("/users/{email}/role", summary="Change a role", dependencies=[require("users:write")])
def set_role(
    email: str, body: RoleChange, platform: PlatformDep, actor: ActorDep
) -> dict[str, Any]:
    return platform.users.set_role(email, body.role, actor=actor)


@router.post(
    "/users/{email}/password",
    summary="Reset a password (one-time unless given)",
    dependencies=[require("users:write")],
)
async def reset_password(
    email: str, platform: PlatformDep, actor: ActorDep, body: PasswordReset | None = None
) -> dict[str, Any]:
    password = body.password if body is not None else None
    return await run_in_threadpool(
        lambda: platform.users.set_password(email, password=password, actor=actor)
    )


@router.get(
    "/users/{email}/tokens",
    summary="A user's API tokens (prefixes only)",
    dependencies=[require("tokens:write")],
)
def list_tokens(email: str, platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    _own_or_admin(principal, email)
    return platform.users.list_tokens(email)


@router.post(
    "/users/{email}/tokens",
    status_code=201,
    summary="Create an API token (shown once)",
    dependencies=[require("tokens:write")],
)
def create_token(
    email: str, body: TokenCreate, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    _own_or_admin(principal, email)
    return platform.users.create_token(
        email,
        name=body.name,
        role=body.role,
        expires_days=body.expires_days,
        actor=principal.actor,
    )


@router.get(
    "/tokens", summary="Every API token (prefixes only)", dependencies=[require("users:read")]
)
def all_tokens(platform: PlatformDep) -> list[dict[str, Any]]:
    return platform.users.list_tokens()


@router.post(
    "/tokens/{token_id}/revoke",
    summary="Revoke an API token",
    dependencies=[require("tokens:write")],
)
def revoke_token(token_id: int, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    owner = None if principal.can("users:write") else principal.email
    if owner is None and principal.kind not in ("admin_token", "cli") and not principal.email:
        raise HTTPException(403, {"message": "only a user or an admin revokes tokens"})
    return platform.users.revoke_token(token_id, actor=principal.actor, owner=owner)
