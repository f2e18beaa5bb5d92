"""`omni worker` serves its jobs' and consumers' metrics over HTTP, scraped for real."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.run import omni, omni_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.postgres
def test_the_worker_serves_job_runs_and_consumer_lag_in_prometheus_format(
    tmp_path: Path, postgres_database: str
) -> None:
    home, port = tmp_path / "home", _free_port()
    env = {
        "OMNI_WAREHOUSE_URL": postgres_database.replace("postgresql://", "postgres://", 1),
        "OMNI_JOB_SCHEDULES": "profiles=1s",
        "OMNI_WORKER_METRICS_PORT": str(port),
    }
    omni("init", home=home, env=env)
    # One channel configured: its worker runs in this process and reports in the scrape.
    (home / "channels.yaml").write_text(
        "webhook:\n  endpoints:\n"
        "    crm: {url: 'http://127.0.0.1:9/hook', secret: s3cret-s3cret-s3cret}\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "worker"],
        env=omni_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    succeeded = ("omni_job_runs_total", (("job", "profiles"), ("status", "succeeded")))
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and samples.get(succeeded, 0) < 1:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            except httpx.TransportError:
                time.sleep(0.2)  # not listening yet
                continue
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            samples = _samples(response.text)
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert samples.get(succeeded, 0) >= 1, sorted(samples)
    # Each durable consumer's lag is read at the scrape: nothing stored, nothing behind.
    lags = {
        dict(labels)["consumer"]: v
        for (name, labels), v in samples.items()
        if name == "omni_consumer_lag_events"
    }
    assert "segments" in lags and set(lags.values()) == {0.0}
    assert samples.get(("omni_channel_worker_up", (("channel", "webhook"),))) == 1.0, err
    assert (
        samples.get(("omni_channel_queue_depth", (("channel", "webhook"), ("status", "queued"))))
        == 0.0
    )
    assert f"metrics at http://127.0.0.1:{port}/metrics" in out
