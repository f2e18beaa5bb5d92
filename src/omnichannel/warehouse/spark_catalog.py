"""Where a local-mode Spark warehouse keeps its catalog (no Spark imported here).

Spark's default catalog lives in the JVM: a second process (``omni serve`` after
``omni init``, any restart) would not know the tables its files hold. So, in local mode,
the catalog goes into an embedded Derby metastore beside the tables, which admits one
process at a time, like the embedded DuckDB file. ``omni worker`` reads the same rule
without starting Spark, to refuse such a warehouse clearly.
"""

from __future__ import annotations

from pathlib import Path


def with_local_metastore(settings: dict[str, str]) -> dict[str, str]:
    """``settings`` with a Hive catalog in an embedded Derby metastore beside the tables,
    unless they name a catalog (``spark.sql.catalogImplementation``) or the tables live
    off this machine (a ``spark.sql.warehouse.dir`` URI such as ``s3a://``). The
    metastore is ``<warehouse dir>/_omni_metastore``; a cluster names its own."""
    if not uses_local_metastore(settings):
        return settings
    where = settings.get("spark.sql.warehouse.dir", "spark-warehouse")
    tables = Path(where.removeprefix("file:")).resolve()
    metastore = tables / "_omni_metastore"
    options = settings.get("spark.driver.extraJavaOptions", "")
    return {
        **settings,
        "spark.sql.warehouse.dir": str(tables),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        # Derby's own log goes beside its database, not into the working directory.
        "spark.driver.extraJavaOptions": f"{options} -Dderby.system.home={tables}".strip(),
    }


def uses_local_metastore(settings: dict[str, str]) -> bool:
    """Whether local-mode ``settings`` get the embedded Derby metastore: they name no
    catalog, and their tables are on this machine."""
    if "spark.sql.catalogImplementation" in settings:
        return False
    where = settings.get("spark.sql.warehouse.dir", "spark-warehouse")
    return "://" not in where or where.startswith("file:")
