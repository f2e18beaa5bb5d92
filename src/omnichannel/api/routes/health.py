"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from omnichannel import __version__
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import OmniError

router = APIRouter(tags=["health"])


class WarehouseHealth(BaseModel):
    ok: bool
    engine: str | None = None
    schema_version: int | None = None
    error: str | None = None


class Health(BaseModel):
    status: str
    version: str
    warehouse: WarehouseHealth


@router.get("/healthz", response_model=Health)
def healthz(services: ServicesDep) -> Health:
    """Liveness plus whether the warehouse opens; status is "degraded" when it does not."""
    try:
        with services.warehouse() as wh:
            warehouse = WarehouseHealth(
                ok=True, engine=wh.engine, schema_version=wh.schema_report.version
            )
    except OmniError as exc:
        warehouse = WarehouseHealth(ok=False, error=str(exc))
    return Health(
        status="ok" if warehouse.ok else "degraded", version=__version__, warehouse=warehouse
    )
