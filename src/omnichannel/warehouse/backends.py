"""Open an Ibis backend from a warehouse URL.

This and ``dialect.py`` are the only places that know which engine is underneath.
Optional engines are imported lazily, so a DuckDB-only install works and a missing
extra is reported with the command that installs it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import ibis
from ibis.backends import BaseBackend

from omnichannel.errors import ConfigError, WarehouseError

SUPPORTED = (
    "duckdb:///path/omni.duckdb, postgres://user:pass@host:port/db, "
    "clickhouse://user:pass@host:port/db or pyspark://local[2]"
)


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def engine_of(url: str) -> str:
    """The engine a URL names: duckdb, postgres, clickhouse or pyspark."""
    # Not urlsplit: a Spark master such as local[2] looks like a malformed IPv6 host to it.
    scheme = url.split("://", 1)[0].lower().split("+")[0] if "://" in url else ""
    aliases = {"postgresql": "postgres", "spark": "pyspark"}
    engine = aliases.get(scheme, scheme)
    if engine not in {"duckdb", "postgres", "clickhouse", "pyspark"}:
        raise ConfigError(f"warehouse_url={url!r} names engine {scheme!r}; accepted: {SUPPORTED}")
    return engine


def connect(url: str) -> BaseBackend:
    """Connect to the warehouse named by ``url``; errors name the URL and the cause."""
    engine = engine_of(url)
    try:
        return _CONNECTORS[engine](url)
    except ConfigError:
        raise
    except ImportError as exc:
        extra = "spark" if engine == "pyspark" else engine
        raise ConfigError(
            f"warehouse_url={redact(url)!r} needs the {extra} extra: "
            f"pip install 'omnichannel[{extra}]' ({exc})"
        ) from exc
    except Exception as exc:
        raise WarehouseError(f"cannot open warehouse {redact(url)}: {exc}") from exc


def redact(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    return _PASSWORD.sub(r"\1***@", url)


def _duckdb_path(url: str) -> Path | None:
    """The file a DuckDB URL names, or None for an in-memory database."""
    parts = urlsplit(url)
    location = unquote(parts.netloc + parts.path)
    if location in ("", "/", "/:memory:", ":memory:"):
        return None
    return Path(location)


def database_key(url: str) -> str | None:
    """What names one database for this process: a DuckDB file's resolved path, a
    server URL as given; None for an in-memory database (each is a database of its own)."""
    if engine_of(url) != "duckdb":
        return url
    path = _duckdb_path(url)
    return None if path is None else f"duckdb:{path.resolve()}"


def _duckdb(url: str) -> BaseBackend:
    path = _duckdb_path(url)
    if path is None:
        return ibis.duckdb.connect()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = ibis.duckdb.connect(str(path))
    # Timestamps are stored naive in UTC; make DuckDB read and print them that way too.
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def _postgres(url: str) -> BaseBackend:
    parts = urlsplit(url)
    return ibis.postgres.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        database=parts.path.lstrip("/") or "postgres",
    )


def _clickhouse(url: str) -> BaseBackend:
    parts = urlsplit(url)
    backend: Any = ibis.clickhouse  # imported lazily by Ibis; ImportError when the extra is absent
    return backend.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 8123,
        user=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=parts.path.lstrip("/") or "default",
    )


def _pyspark(url: str) -> BaseBackend:
    """A Spark warehouse: ``pyspark://MASTER[?database=NAME&spark.key=value...]``.

    The process keeps one SparkSession (its JVM costs seconds to start); each warehouse
    opened gets a session of its own on it (``newSession``: its own current database
    and temporary views), in ``database`` (default ``default``), made when missing. The
    other query keys become Spark configuration, taken when the first session starts.
    """
    from omnichannel.warehouse.engine_spark import spark_backend

    return spark_backend(*_spark_parts(url))


def _spark_parts(url: str) -> tuple[str, dict[str, str], str]:
    """A ``pyspark://`` URL's master, Spark configuration and database."""
    rest = url.split("://", 1)[1]
    master, _, query = rest.partition("?")
    config = {key: values[-1] for key, values in parse_qs(query).items()}
    database = config.pop("database", "default")
    if not _SPARK_DATABASE.fullmatch(database):
        raise ConfigError(
            f"warehouse_url={redact(url)!r} names database={database!r}; accepted: "
            "letters, digits and underscores"
        )
    return unquote(master) or "local[*]", config, database


def single_process_reason(url: str) -> str | None:
    """Why only one process at a time may open this warehouse, or None when many may.

    The embedded DuckDB file takes one writer; a local-mode Spark warehouse keeps its
    catalog in an embedded Derby metastore (``spark_catalog.with_local_metastore``), which
    takes one process too. Either way ``omni serve`` is the process that runs the jobs."""
    engine = engine_of(url)
    if engine == "duckdb":
        return "the embedded DuckDB file admits one process at a time"
    if engine == "pyspark":
        from omnichannel.warehouse.spark_catalog import uses_local_metastore

        master, config, _ = _spark_parts(url)
        if master.startswith("local") and uses_local_metastore(config):
            return (
                "a local-mode Spark warehouse keeps its catalog in an embedded Derby "
                "metastore, which admits one process at a time; name a shared metastore "
                "(spark.sql.catalogImplementation=hive with "
                "spark.hadoop.hive.metastore.uris=thrift://HOST:9083) for several"
            )
    return None


_SPARK_DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_CONNECTORS = {
    "duckdb": _duckdb,
    "postgres": _postgres,
    "clickhouse": _clickhouse,
    "pyspark": _pyspark,
}
