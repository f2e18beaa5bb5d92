"""`omni worker`: the jobs in a process of their own, where the warehouse allows it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnichannel.jobs import JobHistory
from omnichannel.opstore import open_opstore
from tests.cli.run import omni_env, omni_in_process


def test_on_the_duckdb_file_the_worker_refuses_and_says_serve_runs_the_jobs(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    omni_in_process("init", home=home)
    refused = omni_in_process("worker", home=home, check=False)
    assert refused.returncode == 1
    assert "omni serve` runs the jobs itself" in refused.stderr


def test_on_a_local_spark_warehouse_with_its_embedded_metastore_the_worker_refuses(
    tmp_path: Path,
) -> None:
    # Refused before any Spark starts: a second process on the embedded Derby metastore
    # would fail with Derby's own error deep inside the first job.
    tables = tmp_path / "spark-warehouse"
    url = f"pyspark://local[1]?spark.sql.warehouse.dir={tables}"
    refused = omni_in_process(
        "worker", home=tmp_path / "home", env={"OMNI_WAREHOUSE_URL": url}, check=False
    )
    assert refused.returncode == 1
    assert "embedded Derby metastore" in refused.stderr
    assert "spark.hadoop.hive.metastore.uris" in refused.stderr
    assert "omni serve` runs the jobs itself" in refused.stderr
    assert not tables.exists()


@pytest.mark.postgres
def test_on_postgresql_the_worker_runs_scheduled_jobs_until_stopped(
    tmp_path: Path, postgres_database: str
) -> None:
    home = tmp_path / "home"
    env = {
        "OMNI_WAREHOUSE_URL": postgres_database.replace("postgresql://", "postgres://", 1),
        # A cheap job, so two scheduled runs come quickly (the profiles job's run in a
        # worker on PostgreSQL is test_worker_metrics.py's).
        "OMNI_JOB_SCHEDULES": "inbox=1s",
        # No metrics server (test_worker_metrics.py scrapes one on a free port): the
        # default port 9464 would collide with another worker of a parallel run.
        "OMNI_WORKER_METRICS_PORT": "0",
    }
    omni_in_process("init", home=home, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "worker"],
        env=omni_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = open_opstore(f"sqlite:///{(home / 'opstore.sqlite').resolve()}")
    try:
        deadline = time.monotonic() + 120
        runs = []
        while time.monotonic() < deadline and len(runs) < 2:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            runs = [r for r in JobHistory(store).recent("inbox") if r.status == "succeeded"]
            time.sleep(0.2)
        assert len(runs) >= 2 and {r.trigger for r in runs} == {"schedule"}
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
        store.close()
    assert worker.returncode == 0, err
    assert "omni worker" in out and "inbox (scheduled)" in out
