"""The collector in a process of its own (OMNI_COLLECTOR_PORT) under real `omni serve`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.collector import (
    bearer,
    free_port,
    make_source,
    server_token,
    start_server,
    wait_until_loaded,
)


def _calls(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {"type": "track", "event": "Viewed", "userId": f"u{i}", "messageId": f"{prefix}{i}"}
        for i in range(n)
    ]


def _until(check: object, what: str, timeout: float = 60) -> None:
    """Wait for what must happen (a generous deadline for a loaded machine, no speed claim)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _ended(pid: int) -> bool:
    """Gone, or a zombie waiting for its new parent to reap it (it has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow(seconds=60)
def test_collector_process_acknowledges_forwards_revocations_and_loses_nothing_at_sigkill(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    web_key = make_source(home, "web")
    app_key = make_source(home, "app")
    port = free_port()
    collector = f"http://127.0.0.1:{port}"
    # A key cache of an hour: only the main process telling the collector's makes a
    # revocation take effect there within the test.
    env = {"OMNI_COLLECTOR_PORT": str(port), "OMNI_WRITE_KEY_CACHE_SECONDS": "3600"}
    server = start_server(home, env=env)
    try:
        _until(lambda: _answers(collector), "the collector process never answered")
        # The same checks as the main port: a refused call is a dead letter, the rest kept.
        bad = {"type": "track", "userId": "u-bad", "messageId": "bad-1"}  # no event name
        answer = httpx.post(
            f"{collector}/v1/batch", json={"batch": [*_calls("w", 20), bad]}, auth=(web_key, "")
        )
        assert answer.status_code == 400 and answer.json()["accepted"] == 20
        unknown = httpx.post(
            f"{collector}/v1/batch", json={"batch": _calls("x", 1)}, auth=("no", "")
        )
        assert unknown.status_code == 401
        # The main port still collects, into its own log; the loader stores both.
        main = httpx.post(f"{server.url}/v1/track", json=_calls("m", 1)[0], auth=(app_key, ""))
        assert main.status_code == 200
        stats = wait_until_loaded(server.url, 21)
        # Dead letters: the refused call, and the sample of the request without a valid key.
        assert stats["events"]["total"] == 21 and stats["dead_letters"]["total"] == 2
        process = stats["log"]["collector_process"]
        assert process["running"]
        # /readyz reports the process, and the loader stored its log from the batches it
        # prepared (records_decoded would count what the loader had to decode itself).
        check = httpx.get(f"{server.url}/readyz").json()["checks"]["collector_process"]
        assert check["ok"] and check["detail"]["answering"], check
        detail = check["detail"]
        assert detail["durable_end"] == detail["prepared_end"] == detail["stored_end"] > 0
        assert detail["records_prepared"] >= 1 and detail["pending_bytes"] == 0
        # Its counters reach the main /metrics, labelled as the collector process's.
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "omni_collector_process_up 1.0" in metrics
        assert (
            'omni_collector_calls_total{outcome="accepted",process="collector",'
            'route="/v1/batch"} 20.0'
        ) in metrics
        assert (
            'omni_collector_calls_total{outcome="refused",process="collector",'
            'route="/v1/batch"} 1.0'
        ) in metrics
        assert 'omni_http_request_seconds_count{method="POST",process="collector"' in metrics

        revoked = httpx.post(
            f"{server.url}/v1/sources/web/revoke", headers=bearer(server_token(server.url))
        )
        assert revoked.status_code == 200
        _until(
            lambda: (
                httpx.post(
                    f"{collector}/v1/batch", json={"batch": _calls("r", 1)}, auth=(web_key, "")
                ).status_code
                == 401
            ),
            "a key revoked through the main process was still accepted by the collector's",
        )

        # Acknowledged by the collector process, then the main process is killed: the
        # collector process ends with it, and the next server stores every acknowledged
        # event once (its log outlives both processes).
        acknowledged = httpx.post(
            f"{collector}/v1/batch", json={"batch": _calls("k", 30)}, auth=(app_key, "")
        )
        assert acknowledged.status_code == 200
        server.kill()
        _until(lambda: _ended(process["pid"]), "the collector process outlived omni serve")
        server = start_server(home)  # no collector process this time: its log is drained
        stats = wait_until_loaded(server.url, 51)
        assert stats["events"]["total"] == 51
        assert "collector_process" not in stats["log"]
    finally:
        server.stop()
