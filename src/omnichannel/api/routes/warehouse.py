"""The warehouse's canonical tables, over HTTP."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from omnichannel.api.deps import WarehouseDep
from omnichannel.warehouse import ALL_TABLES

router = APIRouter(prefix="/v1/warehouse", tags=["warehouse"])


class TablePublic(BaseModel):
    table: str
    rows: int
    key: list[str]
    doc: str
    columns: dict[str, str]


@router.get("/tables", response_model=list[TablePublic])
def list_tables(wh: WarehouseDep) -> list[TablePublic]:
    """Every canonical table with its row count, key and column types."""
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
