"""Spark: one SparkSession per process, a session of its own per warehouse opened.

Starting Spark starts a JVM (seconds, even in local mode), so the process starts it once
and every warehouse opened on it gets ``newSession()``: its own current database, SQL
configuration and temporary views, sharing the one SparkContext. Closing a warehouse
therefore leaves Spark running (Ibis's ``disconnect`` would stop the SparkContext under
every other warehouse of the process); Spark stops with the process.

Spark's file tables (Parquet, the default without Delta or Iceberg) have no ``DELETE``
or temporary tables, and no multi-statement transactions: ``dialect.delete_sql``
rewrites a table without the deleted rows instead, rows from Python are staged as
temporary views, and the Ibis-only engine API (``IbisEngineAPI``) does the rest.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot.expressions as sge
from ibis.backends.pyspark import Backend as _IbisPySpark
from ibis.backends.pyspark.datatypes import PySparkSchema
from ibis.backends.sql.compilers.pyspark import PySparkCompiler

from omnichannel.warehouse.engine import IbisEngineAPI, IbisSession, Session, scratch_name
from omnichannel.warehouse.spark_catalog import with_local_metastore

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

_STARTED = threading.Lock()
# What ``ibis.pyspark`` does on first use: its options (``treat_nan_as_null``), read by
# its compiler, exist only once registered.
_IbisPySpark.register_options()


class _Compiler(PySparkCompiler):
    # A simple op would be made into a UDF call again for this class (__init_subclass__).
    SIMPLE_OPS: ClassVar[dict[type[ops.Node], str]] = {
        op: name
        for op, name in PySparkCompiler.SIMPLE_OPS.items()
        if op is not ops.UnwrapJSONString
    }

    def visit_UnwrapJSONString(self, op: ops.UnwrapJSONString, *, arg: Any) -> Any:
        # Ibis 12 unwraps with a Python UDF that parses get_json_object's answer as JSON
        # again, which fails on every string ("X" comes back as X). get_json_object's
        # answer is the string already (a JSON number or object gives its text, where
        # DuckDB and PostgreSQL give NULL: see docs/warehouse.md, engine gaps).
        return arg

    def visit_GroupConcat(
        self, op: ops.GroupConcat, *, arg: Any, sep: Any, where: Any, order_by: Any
    ) -> Any:
        # Ibis 12 refuses an ordered group_concat on Spark (the profile build's JSON
        # arrays and objects); Spark 4 has listagg ... WITHIN GROUP (ORDER BY ...).
        if not order_by:
            return super().visit_GroupConcat(op, arg=arg, sep=sep, where=where, order_by=order_by)
        if where is not None:
            arg = self.if_(where, arg, sge.Null())
        return sge.WithinGroup(
            this=self.f.listagg(arg, sep), expression=sge.Order(expressions=list(order_by))
        )


class SharedSparkBackend(_IbisPySpark):
    """Ibis's PySpark backend on a session that shares the process's SparkContext."""

    compiler = _Compiler()

    def disconnect(self) -> None:
        # The SparkContext is the process's, shared by every warehouse opened on it.
        return None

    def create_table(
        self, name: str, /, obj: Any = None, *, temp: bool | None = None, **kwargs: Any
    ) -> ir.Table:
        """Ibis's, and a temporary table too (Ibis refuses one on Spark): a temporary
        view of this session over the rows computed once (``localCheckpoint``), so a
        loop that keeps each step's result (identity's ``Scratch``) plans only one step."""
        if not temp:
            return super().create_table(name, obj, **kwargs)
        if obj is None:
            obj = pa.Table.from_batches([], ibis.schema(kwargs["schema"]).to_pyarrow())
        expr = obj if isinstance(obj, ir.Table) else ibis.memtable(obj)
        self._run_pre_execute_hooks(expr)
        frame = self._session.sql(self.compile(expr)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        return self.table(name)

    def _register_in_memory_table(self, op: ops.InMemoryTable) -> None:
        # Ibis 12 goes through pandas and fails on a decimal column holding a NULL
        # (Decimal(None)); Spark 4 takes Arrow itself, NULLs and decimals intact.
        rows = op.data.to_pyarrow(op.schema)
        frame = self._session.createDataFrame(rows, schema=PySparkSchema.from_ibis(op.schema))
        frame.createOrReplaceTempView(op.name)


def spark_session(master: str | None = None, config: dict[str, str] | None = None) -> Any:
    """The process's SparkSession, started with ``config`` if it is not running yet.

    Splink's similarity functions (``jaro_winkler``...) are Java UDFs in a jar it ships,
    which must be on Spark's classpath from the start, so it is always added."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    settings = dict(config or {})
    # Each warehouse has a session of its own, and a session caches a table's file list
    # when it first reads it: a reader's session would then not see the files the
    # loader's session appends (`omni events stats` beside `omni serve` counted 0 of 6
    # stored events). With no relation cache each query lists the table's files anew.
    settings.setdefault("spark.sql.filesourceTableRelationCacheSize", "0")
    if master is not None and master.startswith("local"):
        settings = with_local_metastore(settings)
    jars = [j for j in settings.get("spark.jars", "").split(",") if j]
    settings["spark.jars"] = ",".join([*jars, similarity_jar_location()])
    with _STARTED:
        # Spark's Python workers (Ibis's UDFs: JSON fields) need this interpreter's
        # packages (pandas, pyarrow), not the python first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("omnichannel")
        if master is not None:
            builder = builder.master(master)
        for key, value in settings.items():
            builder = builder.config(key, value)
        # Naive timestamps are UTC throughout (see docs/warehouse.md, conventions).
        session = builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
        context = session.sparkContext
        if context.getCheckpointDir() is None:
            # Splink's Spark backend checkpoints to cut long plans; beside the tables.
            where = session.conf.get("spark.sql.warehouse.dir") or "spark-warehouse"
            context.setCheckpointDir(f"{where.rstrip('/')}/_omni_checkpoints")
        return session


def spark_backend(master: str, config: dict[str, str], database: str) -> BaseBackend:
    """A warehouse's own session on the process's Spark, in ``database`` (made if missing)."""
    session = spark_session(master, config).newSession()
    con: Any = SharedSparkBackend().connect(session)
    if database != "default":
        con.raw_sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        session.catalog.setCurrentDatabase(database)
    return con


class SparkEngineAPI(IbisEngineAPI):
    """The Ibis-only engine API, with rows from Python staged as temporary views."""

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = _SparkSession(self.con)
        try:
            yield session
        finally:
            session.close()


class _SparkSession(IbisSession):
    """The Ibis session but for staging: Spark's file tables cannot be temporary, so
    rows are staged as temporary views (this session's own)."""

    def stage(self, rows: pa.Table) -> str:
        name = scratch_name()
        self.con.create_view(name, ibis.memtable(rows), overwrite=True)
        self.staged.append(name)
        return name

    def close(self) -> None:
        for name in self.staged:
            self.con.drop_view(name, force=True)
