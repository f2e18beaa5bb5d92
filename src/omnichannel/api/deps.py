"""Typed dependencies for route functions (``SettingsDep``, ``WarehouseDep``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from omnichannel.api.services import Services
from omnichannel.config import Settings
from omnichannel.warehouse import Warehouse


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings_dep(request: Request) -> Settings:
    return get_services(request).settings


def get_warehouse(request: Request) -> Iterator[Warehouse]:
    with get_services(request).warehouse() as wh:
        yield wh


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]
