"""Every route of the app has a gate: a permission, or ``public`` saying why.

A router mounted without one (or a new route on an open router) fails here, so no
management route can be left open by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from omnichannel.access.api import permission_of_route
from omnichannel.access.permissions import PERMISSIONS
from omnichannel.api import create_app
from omnichannel.config import Settings

# FastAPI's own: the contract and its viewers; the pages' CSS and JS (no data).
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}
# Open on purpose, each for its reason (docs/access.md).
PUBLIC_PREFIXES = ("/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group")
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/alias",
    "/v1/batch",
    "/v1/import",
    "/v1/inbox",
    "/t/o/{token}",
    "/t/c/{token}",
    "/unsubscribe/{token}",
    "/s/{token}",
    "/hooks/email/bounces",
    "/hooks/sms/twilio/status",
    "/hooks/sms/twilio/inbound",
    "/hooks/wechat",
    "/login",
}


def routes(app: Any) -> Iterator[Any]:
    def walk(items: list[Any]) -> Iterator[Any]:
        for route in items:
            if hasattr(route, "effective_candidates"):  # FastAPI's included routers
                yield from walk(route.effective_candidates())
            else:
                yield route

    yield from walk(list(app.routes))


def test_every_route_has_a_permission_or_says_why_it_is_public(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    seen = 0
    ungated, unknown, opened = [], [], []
    for route in routes(app):
        if route.path in FRAMEWORK:
            continue
        seen += 1
        gate = permission_of_route(route)
        where = f"{sorted(route.methods or [])} {route.path}"
        if gate is None:
            ungated.append(where)
        elif gate.startswith("public:"):
            if route.path not in PUBLIC and not route.path.startswith(PUBLIC_PREFIXES):
                opened.append(where)
        elif gate != "signed-in" and gate not in PERMISSIONS:
            unknown.append(f"{where}: {gate}")
    assert seen > 100
    assert not ungated, f"routes without a gate (guard, require or public): {ungated}"
    assert not unknown, f"routes needing a permission nobody defined: {unknown}"
    assert not opened, f"routes made public that docs/access.md does not list: {opened}"


def test_the_management_routes_that_were_open_are_gated(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    gates = {
        (sorted(r.methods or [])[0], r.path): permission_of_route(r)
        for r in routes(app)
        if isinstance(r, APIRoute) or hasattr(r, "endpoint")
    }
    assert gates[("GET", "/v1/sources")] == "sources:read"
    assert gates[("POST", "/v1/sources")] == "sources:write"
    assert gates[("GET", "/v1/events/stats")] == "events:read"
    assert gates[("GET", "/v1/warehouse/tables")] == "warehouse:read"
    assert gates[("POST", "/v1/warehouse/query")] == "warehouse:query"
    assert gates[("POST", "/api/journeys/{name}/approve")] == "journeys:approve"
    assert gates[("GET", "/v1/profiles/{identifier:path}/card")] == "profiles:read"
    assert gates[("GET", "/")] == "warehouse:read"  # the pages too
