"""The warehouse over HTTP: canonical tables, read-only SQL, the installation's status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from omnichannel.api.deps import ServicesDep
from omnichannel.warehouse import ALL_TABLES

router = APIRouter(prefix="/v1/warehouse", tags=["warehouse"])


class TablePublic(BaseModel):
    table: str
    rows: int
    key: list[str]
    doc: str
    columns: dict[str, str]


class QueryRequest(BaseModel):
    sql: str = Field(description="One read-only SELECT in the warehouse engine's dialect.")
    limit: int | None = Field(
        default=100, ge=1, description="Rows to return at most; null for all of them."
    )


class QueryAnswer(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    total: int = Field(description="Rows the query had in all, whatever the limit.")
    truncated: bool
    limit: int | None


@router.get("/tables", response_model=list[TablePublic])
def list_tables(services: ServicesDep) -> list[TablePublic]:
    """Every canonical table with its row count, key and column types."""
    with services.warehouse() as wh:
        counts = wh.counts()
    return [
        TablePublic(
            table=spec.name,
            rows=counts[spec.name],
            key=list(spec.key),
            doc=spec.doc,
            columns={name: str(dtype) for name, dtype in spec.schema.items()},
        )
        for spec in ALL_TABLES
    ]


@router.post(
    "/query",
    response_model=QueryAnswer,
    summary="Run one read-only SQL query",
)
def query(body: QueryRequest, services: ServicesDep) -> QueryAnswer:
    """What `omni query` runs: writes and several statements are refused (400, naming why)."""
    from omnichannel.warehouse.query import run_sql

    # Below the Profile API's priority: a scan of every event must not slow lookups.
    result = services.platform.warehouse.analytic(
        lambda wh: run_sql(wh, body.sql, limit=body.limit)
    )
    return QueryAnswer(
        columns=result.columns,
        rows=result.table.to_pylist(),
        total=result.total,
        truncated=result.truncated,
        limit=body.limit,
    )


@router.get(
    "/status",
    summary="Version, home, warehouse and operational store",
)
def status(services: ServicesDep) -> dict[str, Any]:
    """What `omni status` prints: engine, schema version, rows per table, store revision."""
    return services.platform.status()
