"""Sign-in attempts are limited per account and per client address, before any hash."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from omnichannel.access import passwords
from omnichannel.access.ratelimit import LoginBusy, LoginLimiter, LoginLocked
from omnichannel.access.users import LoginRefused
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD, login


class CountingHasher(PasswordHasher):
    """argon2's own hasher, counting the checks it is asked for."""

    checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.checks += 1
        return super().verify(hash, password)


def test_five_wrong_passwords_lock_the_account_with_a_clear_message_and_an_audit_entry(
    client: TestClient, users: dict[str, str], platform: Platform
) -> None:
    for _ in range(5):
        assert login(client, users["marketer"], "not the password at all").status_code == 401
    locked = login(client, users["marketer"], PASSWORD)  # even the right password now
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account" in locked.text
    assert "15 more minutes" in locked.text
    assert 800 < int(locked.headers["retry-after"]) <= 900
    client.cookies.set("omni_lang", "zh")
    chinese = login(client, users["marketer"], PASSWORD)
    assert chinese.status_code == 429 and "登录失败次数过多" in chinese.text
    client.cookies.delete("omni_lang")
    [entry] = platform.access.audit(action="login.lockout")
    assert entry["target"] == f"user:{users['marketer']}"
    assert entry["actor"] == "client:testclient"
    assert entry["details"]["failures"] == 5 and entry["details"]["scope"] == "account"
    # Another account from the same client still signs in: the address is not locked yet.
    assert login(client, users["analyst"], PASSWORD).status_code == 303


def test_a_locked_account_costs_no_hash_and_unknown_emails_lock_alike(platform: Platform) -> None:
    counting = CountingHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    previous = passwords.use_hasher(counting)
    try:
        platform.users.create("ana@shop.example", role="viewer", password=PASSWORD, actor="t")
        for email in ("ana@shop.example", "nobody@shop.example"):
            for _ in range(5):
                with pytest.raises(LoginRefused):
                    platform.users.authenticate(email, "wrong password!", client="198.51.100.7")
            before = CountingHasher.checks
            for _ in range(50):  # a fast guesser now costs the server no Argon2 at all
                with pytest.raises(LoginLocked) as locked:
                    platform.users.authenticate(email, PASSWORD, client="198.51.100.7")
                assert locked.value.scope == "account"
            assert CountingHasher.checks == before
    finally:
        passwords.use_hasher(previous)


def test_one_address_trying_many_accounts_is_locked_out_and_the_lock_ends() -> None:
    now = [1000.0]
    limiter = LoginLimiter(address_failures=20, lockout_seconds=900, clock=lambda: now[0])
    for i in range(20):
        limiter.check(f"user{i}@shop.example", "203.0.113.9")
        started = limiter.failed(f"user{i}@shop.example", "203.0.113.9")
    assert [(s.scope, s.key, s.failures) for s in started] == [("address", "203.0.113.9", 20)]
    with pytest.raises(LoginLocked, match="this address") as locked:
        limiter.check("someone-else@shop.example", "203.0.113.9")
    assert locked.value.scope == "address"
    limiter.check("someone-else@shop.example", "192.0.2.1")  # other clients are not
    now[0] += 901
    limiter.check("someone-else@shop.example", "203.0.113.9")  # the lockout ended


def test_too_many_checks_at_once_are_refused_busy() -> None:
    limiter = LoginLimiter(concurrent_checks=1, wait_seconds=0.01)
    with (
        limiter.turn(),
        pytest.raises(LoginBusy, match="too many sign-ins at once"),
        limiter.turn(),
    ):
        raise AssertionError("a second check should not run beside the first")
    with limiter.turn():  # the turn was given back
        pass
