"""Sign-in protection: failed sign-ins limited per account and per client address, and
at most a few password checks at once.

A password check is an Argon2id hash (64 MiB, about 0.1 s of a core), so each guess
costs the server more than the guesser. Three limits, all checked *before* the hash:

- **per account**: ``account_failures`` failed sign-ins of one email in ``window``
  lock that email for ``lockout`` (whoever tries, from wherever), so a password is not
  guessed by spreading the guesses over many addresses. An email no user has is counted
  the same, so the lockout tells nothing about which accounts exist;
- **per client address**: ``address_failures`` failures from one address in ``window``
  lock that address out of every account for ``lockout``, so one client cannot try a
  password on many accounts;
- **at once**: at most ``concurrent_checks`` hashes run at a time; a sign-in that waits
  more than ``wait_seconds`` for its turn is refused "busy", so a flood of sign-ins cannot
  take every core (or, at 64 MiB each, the memory).

A successful sign-in clears its account's failures. The limits live in the server's
memory (``omni serve`` is one process on the embedded default; a restart forgets them).
The start of each lockout is written to the audit log (``login.lockout``).

Example::

    limiter = LoginLimiter()
    limiter.check("li@shop.example", "203.0.113.9")      # raises LoginLocked when locked
    with limiter.turn():                                  # raises LoginBusy after wait_seconds
        ok = verify(...)
    if not ok:
        lockout = limiter.failed("li@shop.example", "203.0.113.9")   # a Lockout just begun?
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from omnichannel.errors import OmniError

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WINDOW_SECONDS = 15 * 60.0
LOCKOUT_SECONDS = 15 * 60.0
CONCURRENT_CHECKS = 2
WAIT_SECONDS = 10.0
# Keys kept at most (a flood of made-up emails must not grow memory without bound).
MAX_KEYS = 100_000


class LoginLocked(OmniError):
    """Too many failed sign-ins for an account or from an address (429 over HTTP)."""

    def __init__(self, scope: str, retry_after: float) -> None:
        self.scope = scope
        self.retry_after = max(1, int(retry_after + 0.999))
        minutes = max(1, (self.retry_after + 59) // 60)
        whom = "this account" if scope == "account" else "this address"
        super().__init__(
            f"Too many failed sign-ins for {whom}: sign-in is locked for {minutes} more "
            f"minute{'s' if minutes != 1 else ''}. Wait, or ask an administrator to reset "
            "the password (omni users password EMAIL)."
        )


class LoginBusy(OmniError):
    """Too many sign-ins being checked at once (503 over HTTP): try again in a moment."""

    def __init__(self) -> None:
        super().__init__("The server is checking too many sign-ins at once: try again shortly.")


@dataclass(frozen=True)
class Lockout:
    """A lockout that has just begun: what the audit log records."""

    scope: str  # account | address
    key: str
    failures: int
    seconds: float


class _Counter:
    """Failure times per key within a window, and the keys locked until when."""

    def __init__(self, limit: int, window: float, lockout: float) -> None:
        self.limit, self.window, self.lockout = limit, window, lockout
        self.failures: dict[str, deque[float]] = {}
        self.locked: dict[str, float] = {}

    def locked_for(self, key: str, now: float) -> float:
        until = self.locked.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self.locked[key]
            return 0.0
        return until - now

    def fail(self, key: str, now: float) -> int | None:
        """Count a failure; the failure count when this one starts a lockout."""
        if len(self.failures) >= MAX_KEYS:
            self._prune(now)
        times = self.failures.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            self.locked[key] = now + self.lockout
            count = len(times)
            del self.failures[key]
            return count
        return None

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self.failures.items() if not t or t[-1] <= now - self.window]:
            del self.failures[key]
        if len(self.failures) >= MAX_KEYS:  # still full of fresh keys: forget the oldest half
            for key in list(self.failures)[: MAX_KEYS // 2]:
                del self.failures[key]
        for key in [k for k, until in self.locked.items() if until <= now]:
            del self.locked[key]


class LoginLimiter:
    """The three limits of the module docstring, for one server process."""

    def __init__(
        self,
        *,
        account_failures: int = ACCOUNT_FAILURES,
        address_failures: int = ADDRESS_FAILURES,
        window_seconds: float = WINDOW_SECONDS,
        lockout_seconds: float = LOCKOUT_SECONDS,
        concurrent_checks: int = CONCURRENT_CHECKS,
        wait_seconds: float = WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Counter(account_failures, window_seconds, lockout_seconds)
        self._addresses = _Counter(address_failures, window_seconds, lockout_seconds)
        self._lock = threading.Lock()
        self._turns = threading.BoundedSemaphore(concurrent_checks)
        self._wait = wait_seconds
        self._clock = clock

    def check(self, account: str, address: str) -> None:
        """Raise ``LoginLocked`` when the account or the address is locked out now."""
        now = self._clock()
        with self._lock:
            left = self._accounts.locked_for(account, now)
            if left:
                raise LoginLocked("account", left)
            left = self._addresses.locked_for(address, now)
            if left:
                raise LoginLocked("address", left)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One of the few password checks allowed at once (``LoginBusy`` after waiting)."""
        if not self._turns.acquire(timeout=self._wait):
            raise LoginBusy()
        try:
            yield
        finally:
            self._turns.release()

    def failed(self, account: str, address: str) -> list[Lockout]:
        """Count a failed sign-in; the lockouts it starts (usually none)."""
        now = self._clock()
        started: list[Lockout] = []
        with self._lock:
            count = self._accounts.fail(account, now)
            if count is not None:
                started.append(Lockout("account", account, count, self._accounts.lockout))
            count = self._addresses.fail(address, now)
            if count is not None:
                started.append(Lockout("address", address, count, self._addresses.lockout))
        return started

    def succeeded(self, account: str) -> None:
        """A successful sign-in: its account's failures are forgiven."""
        with self._lock:
            self._accounts.clear(account)
