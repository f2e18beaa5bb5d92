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
- **repeated lockouts** of one account or address within a day double each time (15
  minutes, 30, 60... up to a day); a successful sign-in forgets them;
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
# Each lockout of a key within a day of its previous one lasts twice as long, up to a day,
# so a slow guesser waiting out each lockout gets a few dozen guesses a day, not hundreds.
STRIKE_MEMORY_SECONDS = 24 * 3600.0
MAX_LOCKOUT_SECONDS = 24 * 3600.0


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
        self.strikes: dict[str, tuple[int, float]] = {}  # lockouts so far, the last one's time

    def locked_for(self, key: str, now: float) -> float:
        until = self.locked.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self.locked[key]
            return 0.0
        return until - now

    def fail(self, key: str, now: float) -> tuple[int, float] | None:
        """Count a failure; (failures, lockout seconds) when this one starts a lockout."""
        if len(self.failures) >= MAX_KEYS:
            self._prune(now)
        times = self.failures.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            strikes, last = self.strikes.get(key, (0, now))
            strikes = 1 if now - last > STRIKE_MEMORY_SECONDS else strikes + 1
            self.strikes[key] = (strikes, now)
            seconds = min(self.lockout * 2 ** (strikes - 1), MAX_LOCKOUT_SECONDS)
            self.locked[key] = now + seconds
            count = len(times)
            del self.failures[key]
            return count, seconds
        return None

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)
        self.strikes.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self.failures.items() if not t or t[-1] <= now - self.window]:
            del self.failures[key]
        if len(self.failures) >= MAX_KEYS:  # still full of fresh keys: forget the oldest half
            for key in list(self.failures)[: MAX_KEYS // 2]:
                del self.failures[key]
        for key in [k for k, until in self.locked.items() if until <= now]:
            del self.locked[key]
        for key in [k for k, (_, at) in self.strikes.items() if at <= now - STRIKE_MEMORY_SECONDS]:
            del self.strikes[key]


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
            locked = self._accounts.fail(account, now)
            if locked is not None:
                started.append(Lockout("account", account, *locked))
            locked = self._addresses.fail(address, now)
            if locked is not None:
                started.append(Lockout("address", address, *locked))
        return started

    def succeeded(self, account: str) -> None:
        """A successful sign-in: its account's failures are forgiven."""
        with self._lock:
            self._accounts.clear(account)


class RateLimited(OmniError):
    """A client over its request rate (429 over HTTP, with ``Retry-After``)."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.what = what
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            f"{what} is over its request rate: retry after {self.retry_after} s "
            "(OMNI_COLLECTOR_RATE_PER_KEY and OMNI_COLLECTOR_BURST_PER_KEY set the limit)"
        )


class TokenBuckets:
    """A token bucket per key: ``rate`` requests a second, ``burst`` at once.

    The collector keeps one per write key, so one leaked or runaway key cannot take the
    collector from every other source. ``rate`` 0 turns the limit off.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, what: str = "this write key") -> None:
        """Spend one request of ``key``; raises ``RateLimited`` when none is left."""
        if self.rate <= 0:
            return
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise RateLimited(what, (1 - tokens) / self.rate)
            if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
                self._buckets.clear()  # made-up keys never get this far (unknown: 401)
            self._buckets[key] = (tokens - 1, now)
