"""Security headers on every HTTP response (docs/privacy.md, "Hardening").

- ``Content-Security-Policy``: scripts, styles, images and connections from this origin
  only, which is what the pages need (htmx, ECharts and our scripts are vendored under
  ``/static``); ECharts sets inline ``style`` attributes, hence ``'unsafe-inline'`` for
  styles, never for scripts. ``frame-ancestors 'none'`` refuses clickjacking frames.
  ``/docs`` and ``/redoc`` (FastAPI's pages) load Swagger UI from its CDN with an inline
  script, so they get a policy of their own; the survey answer page (``/s/...``) carries
  an inline script too (``web/templates/survey_answer.html``: move it to /static to drop
  its exception).
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (older browsers),
  ``Referrer-Policy: strict-origin-when-cross-origin``, ``Permissions-Policy`` (no camera,
  microphone or location), ``Cross-Origin-Opener-Policy: same-origin``.
- ``Strict-Transport-Security`` when the request came over TLS (``https``, also as told
  by a proxy through the ASGI scheme) or ``OMNI_SECURE_COOKIES`` is on.

A response that sets one of these itself keeps its own value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

PAGES_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
)
INLINE_SCRIPT_CSP = PAGES_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
# Path prefixes with a policy of their own (see the module docstring).
EXCEPTIONS: tuple[tuple[str, str], ...] = (
    ("/docs", DOCS_CSP),
    ("/redoc", DOCS_CSP),
    ("/s/", INLINE_SCRIPT_CSP),
)
HSTS = "max-age=31536000; includeSubDomains"
COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def policy_for(path: str) -> str:
    for prefix, policy in EXCEPTIONS:
        if path.startswith(prefix):
            return policy
    return PAGES_CSP


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, *, always_hsts: bool = False) -> None:
        self.app = app
        self.always_hsts = always_hsts

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [*COMMON, (b"content-security-policy", policy_for(scope.get("path", "")).encode())]
        if self.always_hsts or scope.get("scheme") == "https":
            added.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
