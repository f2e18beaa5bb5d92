"""The API's one gate: ``require(permission)`` on every router, ``public`` on the few open ones.

A request is authenticated by, in order: ``Authorization: Bearer`` with an admin token
(``omni init``, ``omni admin token``, the local one ``omni serve`` hands the CLI: the
admin role) or a user's API token (``omni users token create``: its role); else the web
session cookie, whose state-changing requests must carry the session's CSRF token
(``X-CSRF-Token`` header, or a ``csrf_token`` form field). Then the route's permission is
checked against the role (``access/permissions.py``): 401 without credentials, 403
naming the permission and the roles that have it.

Routers get the gate in ``api/app.py`` (``guard("segments", ...)``: reads need
``segments:read``, other methods ``segments:write``, named endpoints their own action);
``tests/access/test_every_route.py`` walks ``app.routes`` and fails for a route that has
neither a permission nor ``public``.

Example::

    app.include_router(segments.router, dependencies=[guard("segments", preview="segments:read")])

    @router.get("/audit", dependencies=[require("audit:read")])
    def audit(who: PrincipalDep) -> list[dict]: ...
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from omnichannel.access.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from omnichannel.access.principal import Principal
from omnichannel.opstore.admin_tokens import TOKEN_PREFIX as ADMIN_PREFIX
from omnichannel.opstore.admin_tokens import hash_token

if TYPE_CHECKING:
    from omnichannel.api.services import Services

SESSION_COOKIE = "omni_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# The CLI names who runs it (``cli:<login>``) beside the server's local admin token.
ACTOR_HEADER = "X-Omni-Actor"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="An admin token (`omni init`, `omni admin token`) or a user's API token "
    "(`omni users token create`).",
)


class TokenCache:
    """API token -> principal, trusted for ``ttl`` seconds (as admin tokens and write keys)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def peek(self, token: str) -> tuple[bool, Principal | None]:
        """(True, principal or None) when the cache still holds an answer; no I/O."""
        digest = hash_token(token) if token.isascii() else ""
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return True, cached[0]
        return False, None

    def get(self, services: Services, token: str) -> Principal | None:
        hit, cached = self.peek(token)
        if hit:
            return cached
        digest = hash_token(token) if token.isascii() else ""
        now = time.monotonic()
        found = services.platform.users.principal_for_token(token)
        with self._lock:
            if len(self._cache) > 10_000:  # wrong guesses must not grow memory without bound
                self._cache.clear()
            self._cache[digest] = (found, now + self.ttl)
        return found


def _tokens(services: Services) -> TokenCache:
    cache = services.__dict__.get("_api_tokens")
    if cache is None:
        cache = services.__dict__.setdefault(
            "_api_tokens", TokenCache(services.settings.write_key_cache_seconds)
        )
    return cache


def unauthorized(shown: str, message: str) -> HTTPException:
    return HTTPException(
        401,
        {"field": "Authorization", "value": shown, "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(principal: Principal, permission: str) -> HTTPException:
    holders = [r for r in ROLES if permission in ROLE_PERMISSIONS[r]]
    message = (
        f"{principal.actor} (role {principal.role}) may not "
        f"{PERMISSIONS.get(permission, permission)}: {permission} needs one of the roles "
        f"{', '.join(holders)}"
    )
    return HTTPException(
        403,
        {"field": "role", "value": principal.role, "permission": permission, "message": message},
    )


def _admin(request: Request, token: str) -> Principal:
    named = request.headers.get(ACTOR_HEADER, "").strip()[:200]
    return Principal(actor=named or f"admin-token:{token[:15]}", role="admin", kind="admin_token")


def _bearer_cached(services: Services, request: Request, token: str) -> Principal | None:
    """The caller by a token checked within the trust window, without any I/O; None when
    the token must be looked up (or is refused: ``_bearer_principal`` says so by name)."""
    if token.startswith(ADMIN_PREFIX):
        if services.admin_token_known(token):
            return _admin(request, token)
    elif token.startswith("omni_tok_"):
        return _tokens(services).peek(token)[1]
    return None


def _bearer_principal(services: Services, request: Request, token: str) -> Principal:
    if token.startswith(ADMIN_PREFIX):
        if services.admin_tokens().valid(token):
            return _admin(request, token)
    elif token.startswith("omni_tok_"):
        found = _tokens(services).get(services, token)
        if found is not None:
            return found
    shown = f"Bearer {token[:15]}..."
    raise unauthorized(
        shown,
        f"Authorization={shown} is not accepted: expected an active admin token (it may have "
        "been replaced by `omni admin token`) or an active API token (`omni users token list`)",
    )


async def _form_csrf(request: Request) -> str | None:
    kind = request.headers.get("content-type", "")
    if not kind.startswith("application/x-www-form-urlencoded"):
        return None
    body = await request.body()  # cached: the route reads it again
    values = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD)
    return values[0] if values else None


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Who calls (None: nobody signed in). Cached per request by FastAPI.

    On the event loop while the token's answer is cached (a dict read): a thread hand-off
    per request is what a lookup beside the collector waits for; the database is read on
    a worker thread, at most once per token per trust window.
    """
    services: Services = request.app.state.services
    if credentials is not None:
        token = credentials.credentials
        known = _bearer_cached(services, request, token)
        if known is not None:
            return known
        return await run_in_threadpool(_bearer_principal, services, request, token)
    if request.headers.get("authorization") is not None:
        return None  # Basic, or a scheme we do not take: refused as missing, by name
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    from omnichannel.access import sessions

    found = await run_in_threadpool(sessions.find, services.opstore(), cookie, services.settings)
    if found is None:
        return None
    principal, csrf = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or await _form_csrf(request)
        if not sent or not secrets.compare_digest(sent, csrf):
            raise HTTPException(
                403,
                {
                    "field": CSRF_HEADER,
                    "value": "(missing)" if not sent else "(wrong)",
                    "message": f"a signed-in browser's {request.method} needs the session's "
                    f"CSRF token ({CSRF_HEADER} header or {CSRF_FIELD} form field); reload "
                    "the page to get it",
                },
            )
    request.state.csrf_token = csrf
    return principal


OptionalPrincipalDep = Annotated[Principal | None, Depends(current_principal)]


async def signed_in(request: Request, principal: OptionalPrincipalDep) -> Principal:
    """The caller, or 401 naming what credentials would be accepted."""
    if principal is None:
        header = request.headers.get("authorization")
        shown = "(missing)" if header is None else f"{header.partition(' ')[0]} ..."
        raise unauthorized(
            shown,
            f"Authorization={shown} is not accepted: expected `Bearer <token>`: the admin token "
            "`omni init` printed (`omni admin token` makes a new one) or an API token "
            "(`omni users token create`); or sign in at /login",
        )
    if principal.must_change_password:
        raise HTTPException(
            403,
            {
                "field": "password",
                "value": "(one-time)",
                "message": f"{principal.actor} signed in with a one-time password: change it "
                "first at /account/password",
            },
        )
    return principal


signed_in.authenticated = "any signed-in user"  # type: ignore[attr-defined]
PrincipalDep = Annotated[Principal, Depends(signed_in)]


def _checked(request: Request, principal: Principal, permission: str) -> Principal:
    if not principal.can(permission):
        raise forbidden(principal, permission)
    request.state.principal = principal  # what MaskingRoute reads
    return principal


def require(permission: str) -> Any:
    """A dependency letting through only principals whose role has ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    async def required(request: Request, principal: PrincipalDep) -> Principal:
        return _checked(request, principal, permission)

    required.permission = permission  # type: ignore[attr-defined]
    required.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(required)


def guard(
    resource: str, *, read: str | None = None, write: str | None = None, **actions: str
) -> Any:
    """``require`` for a whole router: GET/HEAD need ``resource:read`` (or ``read``), other
    methods ``resource:write`` (or ``write``), an endpoint named in ``actions`` its own."""
    reads = read or f"{resource}:read"
    writes = write or f"{resource}:write"
    if write is None and writes not in PERMISSIONS:
        writes = "admin:all"  # a router with nothing to change: a new POST is admins' only
    for permission in (reads, writes, *actions.values()):
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r} for the {resource} router")

    def permission_of(method: str, endpoint_name: str) -> str:
        if endpoint_name in actions:
            return actions[endpoint_name]
        return reads if method in SAFE_METHODS else writes

    async def guarded(request: Request, principal: PrincipalDep) -> Principal:
        endpoint = request.scope.get("endpoint")
        name = getattr(endpoint, "__name__", "")
        return _checked(request, principal, permission_of(request.method, name))

    guarded.permission_of = permission_of  # type: ignore[attr-defined]
    guarded.__name__ = f"guard_{resource}"
    return Depends(guarded)


def public(reason: str) -> Any:
    """Marks a router or route open to anyone, and says why (the route walk reads it)."""

    async def open_to_all() -> None:
        return None

    open_to_all.public = reason  # type: ignore[attr-defined]
    open_to_all.__name__ = "public"
    return Depends(open_to_all)


async def actor_of(principal: PrincipalDep) -> str:
    """The audit log's name for the caller: the user's email, or what the CLI named."""
    return principal.actor


ActorDep = Annotated[str, Depends(actor_of)]


def permission_of_route(route: Any) -> str | None:
    """The permission a route needs, or ``public:<reason>``; None when it has no gate."""
    method = sorted(route.methods or ["GET"])[0]
    name = getattr(route.endpoint, "__name__", "")
    for dependency in _dependencies(route):
        call = dependency.dependency
        if hasattr(call, "public"):
            return f"public:{call.public}"
        if hasattr(call, "permission"):
            return str(call.permission)
        if hasattr(call, "permission_of"):
            return str(call.permission_of(method, name))
        if hasattr(call, "page_permission"):
            return str(call.page_permission(method, route.path))
    for dependency in _dependencies(route):
        if hasattr(dependency.dependency, "authenticated"):
            return "signed-in"
    return None


def _dependencies(route: Any) -> list[Any]:
    found = list(getattr(route, "dependencies", []) or [])
    dependant = getattr(route, "dependant", None)
    stack = list(getattr(dependant, "dependencies", []) or [])
    while stack:  # a route's own parameters may carry the gate (PrincipalDep-based pages)
        sub = stack.pop()
        call = getattr(sub, "call", None)
        gates = ("public", "permission", "permission_of", "page_permission", "authenticated")
        if call is not None and any(hasattr(call, a) for a in gates):
            found.append(Depends(call))
        stack.extend(getattr(sub, "dependencies", []) or [])
    return found


class MaskingRoute(APIRoute):
    """A route whose JSON answers have emails and phones masked for callers without
    ``profiles:read_pii`` (the service desk, viewers): ``APIRouter(route_class=MaskingRoute)``.

    The router's gate puts the principal on ``request.state``; masking applies to the
    finished body, so no field of a new answer can be forgotten.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def masked(request: Request) -> Response:
            response = await handler(request)
            principal = getattr(request.state, "principal", None)
            if principal is None or principal.sees_pii:
                return response
            if not response.headers.get("content-type", "").startswith("application/json"):
                return response
            from omnichannel.privacy.masking import mask_data

            body = json.loads(bytes(response.body))
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            return JSONResponse(mask_data(body), status_code=response.status_code, headers=headers)

        return masked


def acting(principal: Principal, claimed: str | None) -> str:
    """Who the audit log and approvals name: a user acts as themselves, whatever a body's
    ``actor`` claims; an admin token (the CLI, an operator's script) may name someone
    (``--actor``), else is named by ``X-Omni-Actor`` or its prefix."""
    if principal.kind in ("admin_token", "cli") and claimed and claimed != "api":
        return claimed
    return principal.actor
