"""Typed dependencies for route functions (``ServicesDep``, ``PlatformDep``, ``SettingsDep``).

There is deliberately no warehouse dependency: FastAPI may enter a dependency on one
pool thread and run the route on another, and a warehouse connection belongs to the
thread that uses it. Routes take ``ServicesDep`` and open ``services.warehouse()`` in
their own body, which runs on one thread from start to end.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from omnichannel.api.services import Services
from omnichannel.config import Settings
from omnichannel.platform import Platform


def services_of(request: Request) -> Services:
    """The installation's server parts, for code that has the request."""
    services: Services = request.app.state.services
    return services


# Async: they only read app state, and a plain ``def`` dependency costs every request a
# round trip through the thread pool (what a lookup beside the collector waits for).
async def get_services(request: Request) -> Services:
    return services_of(request)


async def get_platform(request: Request) -> Platform:
    return services_of(request).platform


async def get_settings_dep(request: Request) -> Settings:
    return services_of(request).settings


ServicesDep = Annotated[Services, Depends(get_services)]
PlatformDep = Annotated[Platform, Depends(get_platform)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
