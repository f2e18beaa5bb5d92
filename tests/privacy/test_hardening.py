"""Hardening: security headers, lockouts that double, the collector's rate per source, key files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnichannel.access.ratelimit import LoginLimiter, LoginLocked, RateLimited, TokenBuckets
from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.privacy.secrets import UnsafeSecretFileError, secret_bytes
from tests.support.collector import bearer, make_admin_token, make_source


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """One app with its collector running, at a rate of 1 request a second, bursts of 2."""
    home = tmp_path_factory.mktemp("hardening") / "home"
    key = make_source(home)
    token = make_admin_token(home)
    settings = Settings(home=home, collector_rate_per_key=1.0, collector_burst_per_key=2)
    with TestClient(create_app(settings)) as client:
        yield client, key, token


def test_every_answer_carries_the_security_headers(served: tuple[TestClient, str, str]) -> None:
    client, _, _ = served
    for path in ("/healthz", "/login", "/api/privacy/requests", "/no-such-page"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in answer.headers  # plain http here
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]


def test_a_source_over_its_rate_is_answered_429_with_retry_after(
    served: tuple[TestClient, str, str],
) -> None:
    client, key, _ = served
    call = {"type": "track", "event": "Page Viewed", "userId": "u-rate", "writeKey": key}
    codes = [client.post("/v1/track", json=call).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[-1] == 429, codes
    refused = client.post("/v1/track", json=call)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "rate_limited"
    assert 'code="rate_limited"' in client.get("/metrics").text


def test_token_buckets_refill_at_their_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(2.0, 2, clock=clock)
    buckets.take("web")
    buckets.take("web")
    with pytest.raises(RateLimited) as refused:
        buckets.take("web")
    assert refused.value.retry_after == 1
    buckets.take("app")  # another source has its own bucket
    clock.now += 0.5
    buckets.take("web")


def test_each_lockout_within_a_day_lasts_twice_as_long() -> None:
    clock = Clock()
    limiter = LoginLimiter(account_failures=2, lockout_seconds=60, clock=clock)
    seconds = []
    for _ in range(3):
        limiter.failed("li@shop.example", "203.0.113.9")
        [lockout] = [x for x in limiter.failed("li@shop.example", "203.0.113.9")]
        seconds.append(lockout.seconds)
        with pytest.raises(LoginLocked):
            limiter.check("li@shop.example", "198.51.100.1")
        clock.now += lockout.seconds
    assert seconds == [60, 120, 240]
    limiter.succeeded("li@shop.example")
    limiter.failed("li@shop.example", "203.0.113.9")
    [lockout] = limiter.failed("li@shop.example", "203.0.113.9")
    assert lockout.seconds == 60  # a successful sign-in forgot the earlier ones


def test_a_key_file_others_can_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNI_TEST_KEY", raising=False)
    path = tmp_path / "privacy.key"
    made = secret_bytes("OMNI_TEST_KEY", path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert secret_bytes("OMNI_TEST_KEY", path) == made
    os.chmod(path, 0o644)
    with pytest.raises(UnsafeSecretFileError, match=r"privacy.key.*0644.*chmod 600"):
        secret_bytes("OMNI_TEST_KEY", path)
    monkeypatch.setenv("OMNI_TEST_KEY", "from-the-environment")
    assert secret_bytes("OMNI_TEST_KEY", path) == b"from-the-environment"


def test_consent_and_requests_over_http(served: tuple[TestClient, str, str]) -> None:
    client, _, token = served
    admin = bearer(token)
    decision = {"person": "profile:p-http", "purpose": "profiling", "status": "denied"}
    assert client.post("/api/consent", json=decision).status_code == 401
    made = client.post("/api/consent", json=decision | {"source": "call"}, headers=admin)
    assert made.status_code == 201 and made.json()["status"] == "denied"
    [entry] = client.get("/api/consent/profile:p-http/history", headers=admin).json()
    assert (entry["purpose"], entry["source"]) == ("profiling", "call")
    refused = client.post("/api/privacy/erase", json={"person": "profile:p-http"}, headers=admin)
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "confirm"
    logged = client.post(
        "/api/privacy/requests",
        json={"kind": "erasure", "person": "profile:p-http", "regulation": "pipl"},
        headers=admin,
    )
    assert logged.status_code == 201 and logged.json()["status"] == "open"
