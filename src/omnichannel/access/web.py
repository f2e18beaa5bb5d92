"""Signing in to the web pages: login and logout, session cookie, CSRF, page permissions.

For the pages' routers (``omnichannel.web``), two dependencies:

- ``current_user``: the signed-in user (a ``Principal``); a browser that is not signed
  in is sent to ``/login?next=<page>`` (htmx requests get ``HX-Redirect``), one who
  must change a one-time password to ``/account/password``.
- ``require_page(permission)``: ``current_user`` plus the role check (403 page).

Mount a pages router with ``dependencies=[require_page("profiles:read")]`` or give each
route its own; the route walk test fails for a page with neither.

CSRF: every state-changing request of a signed-in browser (POST, PUT, DELETE, PATCH)
must carry the session's token, either as the ``X-CSRF-Token`` header (put
``hx-headers='{"X-CSRF-Token": "{{ csrf_token }}"}'`` on ``<body>`` for htmx) or as a
``csrf_token`` form field; ``csrf_token(request)`` gives it to a template. Requests
without it are refused (403) before the route runs.

The cookie is HttpOnly, SameSite=Lax, and Secure behind https (``OMNI_SECURE_COOKIES``).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnichannel.access.api import (
    CSRF_FIELD,
    SESSION_COOKIE,
    OptionalPrincipalDep,
    public,
)
from omnichannel.access.permissions import PERMISSIONS
from omnichannel.access.principal import Principal
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.api.services import Services

LOGIN_CSRF_COOKIE = "omni_login_csrf"
PASSWORD_PAGE = "/account/password"

router = APIRouter(include_in_schema=False, tags=["access"])


def csrf_token(request: Request) -> str:
    """The signed-in session's CSRF token, for a template's forms and ``hx-headers``."""
    return str(getattr(request.state, "csrf_token", ""))


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _secure(request: Request) -> bool:
    services: Services = request.app.state.services
    setting = services.settings.secure_cookies
    return _is_https(request) if setting is None else bool(setting)


def _safe_next(target: str | None) -> str:
    # Only a path on this server: an open redirect would hand a phishing page our login.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _to(request: Request, location: str) -> HTTPException:
    if request.headers.get("hx-request"):
        return HTTPException(401, "sign in first", headers={"HX-Redirect": location})
    return HTTPException(303, "sign in first", headers={"Location": location})


def current_user(request: Request, principal: OptionalPrincipalDep) -> Principal:
    """The signed-in user of a page; else a redirect to the login page."""
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise _to(request, f"/login?next={quote(target, safe='')}")
    if principal.must_change_password and request.url.path != PASSWORD_PAGE:
        raise _to(request, PASSWORD_PAGE)
    return principal


current_user.authenticated = "any signed-in user"  # type: ignore[attr-defined]
UserDep = Annotated[Principal, Depends(current_user)]


def require_page(permission: str) -> Any:
    """``current_user`` whose role has ``permission``; a 403 page naming it if not."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def page_required(request: Request, user: UserDep) -> Principal:
        if not user.can(permission):
            from omnichannel.access.api import forbidden

            raise forbidden(user, permission)
        return user

    page_required.permission = permission  # type: ignore[attr-defined]
    page_required.__name__ = f"page_{permission.replace(':', '_')}"
    return Depends(page_required)


# The pages' areas: path prefix -> (reading permission, changing permission).
PAGE_AREAS: tuple[tuple[str, str, str], ...] = (
    ("/overview", "warehouse:read", "admin:all"),
    ("/customers", "profiles:read", "interactions:write"),
    ("/service-desk", "profiles:read", "interactions:write"),
    ("/segments", "segments:read", "segments:write"),
    ("/journeys", "journeys:read", "journeys:write"),
    ("/analytics", "analytics:read", "analytics:run"),
    ("/reports", "analytics:read", "reports:write"),
    ("/models", "analytics:read", "analytics:run"),  # as /api/models
    ("/surveys", "surveys:read", "surveys:write"),  # as /api/surveys
    ("/budget", "analytics:read", "analytics:run"),  # as /api/budget
    ("/commerce", "warehouse:read", "sources:write"),  # as /api/commerce
    ("/privacy", "privacy:read", "privacy:export"),  # as /api/privacy
    ("/operations", "jobs:read", "jobs:run"),  # as /api/jobs and /api/operations
    ("/messages/templates", "templates:read", "templates:write"),
    ("/messages", "messages:read", "messages:send"),
    ("/channels", "messages:read", "messages:send"),
    ("/comments", "comments:read", "comments:write"),
    ("/me", "comments:read", "comments:read"),  # one's own notifications
)
# Actions of one area that need another permission: (area, path suffix) -> permission.
AREA_ACTIONS = {
    ("/messages", "/approve"): "messages:approve",
    ("/messages", "/reject"): "messages:approve",
    ("/models", "/segment"): "segments:write",  # a cluster saved as a segment
    **{
        ("/journeys", f"/{verb}"): "journeys:operate"
        for verb in ("start", "pause", "resume", "archive")
    },
}
# Page actions that need their own permission (suffix of the path, for POSTs).
PAGE_ACTIONS = {
    "/approve": "journeys:approve",
    # The builders' live estimate and validation change nothing.
    "/segments/builder/preview": "segments:read",
    "/journeys/builder/validate": "journeys:read",
}
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def page_permission(method: str, path: str) -> str:
    """The permission a page (or a page's htmx action) needs, by its path."""
    if path == "/":
        return "warehouse:read"
    for prefix, reads, writes in PAGE_AREAS:
        if path == prefix or path.startswith(prefix + "/"):
            if method in _SAFE:
                return reads
            for (area, suffix), permission in AREA_ACTIONS.items():
                if area == prefix and path.endswith(suffix):
                    return permission
            for suffix, permission in PAGE_ACTIONS.items():
                if path.endswith(suffix):
                    return permission
            return writes
    return "admin:all"  # a page in no area: admins only, until it is given one


def require_pages() -> Any:
    """The one gate of every page router (``omnichannel.web.mount(app, dependencies=...)``):
    signed in, with the permission ``page_permission`` gives the page's path. A user
    without the overview's permission (the service desk) is sent to their own page."""

    def pages_required(request: Request, user: UserDep) -> Principal:
        permission = page_permission(request.method, request.url.path)
        if not user.can(permission):
            if request.url.path == "/" and user.can("profiles:read"):
                raise _to(request, "/service-desk")
            from omnichannel.access.api import forbidden

            raise forbidden(user, permission)
        request.state.principal = user  # pages mask contact details by user.sees_pii
        return user

    pages_required.page_permission = page_permission  # type: ignore[attr-defined]
    return Depends(pages_required)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _login_page(
    request: Request, *, error: str | None = None, next_url: str = "/", status: int = 200
) -> HTMLResponse:
    from omnichannel.web.render import render

    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"error": error, "next": next_url, "csrf_token": token, "csrf_field": CSRF_FIELD},
        status=status,
    )
    # Login CSRF, double submit: the form's token must equal this cookie's.
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse, dependencies=[public("the sign-in page")])
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", dependencies=[public("signing in")])
async def login(request: Request) -> Response:
    from omnichannel.access import sessions
    from omnichannel.access.ratelimit import LoginBusy, LoginLocked
    from omnichannel.access.users import LoginRefused

    form = await _form(request)
    next_url = _safe_next(form.get("next"))
    sent, expected = form.get(CSRF_FIELD, ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        return _login_page(
            request,
            error="The form expired; please sign in again.",
            next_url=next_url,
            status=403,
        )
    services: Services = request.app.state.services
    client = request.client.host if request.client else None
    try:
        principal = await run_in_threadpool(
            lambda: services.platform.users.authenticate(
                form.get("email", ""), form.get("password", ""), client=client
            )
        )
    except LoginRefused:
        return _login_page(request, error="Wrong email or password.", next_url=next_url, status=401)
    except LoginLocked as exc:
        message = _locked_message(request, exc)
        page = _login_page(request, error=message, next_url=next_url, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except LoginBusy as exc:
        page = _login_page(request, error=str(exc), next_url=next_url, status=503)
        page.headers["Retry-After"] = "5"
        return page
    cookie, _ = await run_in_threadpool(
        sessions.start, services.opstore(), principal, services.settings
    )
    target = PASSWORD_PAGE if principal.must_change_password else next_url
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(services.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _locked_message(request: Request, exc: Any) -> str:
    """The lockout in the visitor's language, with the minutes left."""
    from omnichannel.web import i18n

    minutes = max(1, (exc.retry_after + 59) // 60)
    with i18n.speaking(i18n.pick(request)):
        if exc.scope == "account":
            text = i18n.gettext(
                "Too many failed sign-ins for this account: sign-in is locked for "
                "%(minutes)s more minutes. Wait, or ask an administrator to reset the password."
            )
        else:
            text = i18n.gettext(
                "Too many failed sign-ins from this address: sign-in is locked for "
                "%(minutes)s more minutes."
            )
    return text % {"minutes": minutes}


@router.post("/logout")
async def logout(request: Request, user: UserDep) -> Response:
    """Ends the session (the CSRF check ran in ``current_user``: no cross-site logout)."""
    from omnichannel.access import sessions

    services: Services = request.app.state.services
    cookie = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(sessions.end, services.opstore(), cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get(PASSWORD_PAGE, response_class=HTMLResponse)
def password_page(request: Request, user: UserDep) -> HTMLResponse:
    return _password_page(request, user)


def _password_page(
    request: Request, user: Principal, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    from omnichannel.web.render import render

    return render(
        request,
        "login.html",
        {
            "change": True,
            "user": user,
            "error": error,
            "csrf_token": csrf_token(request),
            "csrf_field": CSRF_FIELD,
        },
        status=status,
    )


@router.post(PASSWORD_PAGE)
async def change_password(request: Request, user: UserDep) -> Response:
    services: Services = request.app.state.services
    form = await _form(request)
    if form.get("new_password") != form.get("confirm"):
        return _password_page(request, user, error="The two new passwords differ.", status=400)
    try:
        await run_in_threadpool(
            lambda: services.platform.users.change_password(
                user.email or "", old=form.get("password", ""), new=form.get("new_password", "")
            )
        )
    except ValidationError as exc:
        return _password_page(request, user, error=str(exc), status=400)
    return RedirectResponse("/", status_code=303)
