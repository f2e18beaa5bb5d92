"""Rows as the warehouse stores them: exactly a table's columns, in its types."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from omnichannel.warehouse.tables import TableSpec


def conform(spec: TableSpec, rows: pa.Table | pd.DataFrame | Mapping[str, Any]) -> pa.Table:
    """Rows as an Arrow table with exactly the spec's columns and types.

    A column the table lacks is an error (it would be silently lost otherwise); a column
    the rows lack is NULL.
    """
    # pandas is not imported for this (a second of `omni serve`'s start): rows can only
    # be a DataFrame if whoever made them imported it.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(rows, pandas.DataFrame):
        table = pa.Table.from_pandas(rows, preserve_index=False)
    elif isinstance(rows, pa.Table):
        table = rows
    else:
        table = pa.table(dict(rows))
    extra = sorted(set(table.column_names) - set(spec.schema.names))
    if extra:
        raise ValidationError(
            f"{spec.name} columns", extra, f"columns of {spec.name}: {', '.join(spec.schema.names)}"
        )
    target = spec.schema.to_pyarrow()
    columns = []
    for pa_field in target:
        if pa_field.name in table.column_names:
            column = table.column(pa_field.name)
            try:
                columns.append(column.cast(pa_field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValidationError(
                    f"{spec.name}.{pa_field.name}",
                    str(column.type),
                    f"values castable to {spec.schema[pa_field.name]} ({exc})",
                ) from exc
        else:
            columns.append(pa.nulls(table.num_rows, pa_field.type))
    return pa.Table.from_arrays(columns, schema=target)
