"""``omni warehouse ...`` and ``omni query``: look inside the analytics store."""

from __future__ import annotations

from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    FORMAT_OPTION_HELP,
    JSON_OPTION_HELP,
    console,
    emit_json,
    emit_listing,
    output_format,
    rows_table,
)
from omnichannel.warehouse import ALL_TABLES, open_warehouse
from omnichannel.warehouse.query import run_sql

app = typer.Typer(
    help="Inspect the warehouse: canonical tables, schemas and row counts.", no_args_is_help=True
)


@app.command("tables")
def tables(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List the canonical tables with their row counts and what a row is."""
    with open_warehouse(settings_of(ctx).resolved_warehouse_url) as wh:
        counts = wh.counts()
    rows: list[dict[str, Any]] = [
        {"table": spec.name, "rows": counts[spec.name], "key": list(spec.key), "doc": spec.doc}
        for spec in ALL_TABLES
    ]
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            "Warehouse tables",
            ["table", "rows", "key", "what a row is"],
            [[r["table"], r["rows"], ", ".join(r["key"]), r["doc"]] for r in rows],
        )
    )


@app.command("schema")
def schema(
    table: str = typer.Argument(..., help="A canonical table name, e.g. events."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Show the columns and types of one canonical table."""
    from omnichannel.warehouse import Warehouse

    spec = Warehouse.spec(table)
    columns = [{"column": name, "type": str(dtype)} for name, dtype in spec.schema.items()]
    if as_json:
        emit_json(columns)
        return
    console.print(
        rows_table(
            f"{spec.name}: {spec.doc}",
            ["column", "type"],
            [[c["column"], c["type"]] for c in columns],
        )
    )


def query(
    ctx: typer.Context,
    sql: str = typer.Argument(..., help="A SELECT statement in the warehouse engine's dialect."),
    limit: int = typer.Option(
        100,
        "--limit",
        min=0,
        help="Rows to return at most (0: all of them); the total is always reported.",
    ),
    fmt: str | None = typer.Option(None, "--format", help=FORMAT_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Run a read-only SQL query on the warehouse and print the result."""
    from omnichannel.cli.remote import on_installation

    chosen = output_format(fmt, as_json)

    def local(platform: Any) -> dict[str, Any]:
        with platform.warehouse.reader() as wh:
            result = run_sql(wh, sql, limit=limit or None)
        return {"columns": result.columns, "rows": result.table.to_pylist(), "total": result.total}

    answer = on_installation(
        settings_of(ctx),
        local=local,
        remote=lambda server: server.post(
            "/v1/warehouse/query", json={"sql": sql, "limit": limit or None}
        ),
    )
    emit_listing(
        noun="row",
        columns=answer["columns"],
        rows=answer["rows"],
        total=answer["total"],
        limit=limit or None,
        fmt=chosen,
    )
