"""A circuit breaker per channel: stop calling a provider that keeps failing, then probe it.

Closed: calls go through; ``failures`` consecutive transient failures (timeouts, 5xx,
connection errors) open it. Open: no call is made for ``open_for`` (messages stay queued,
their attempts not spent). Half open: one call goes through as a probe; success closes
the breaker, failure opens it again for another ``open_for``.

Hand-written rather than taken from a library: the breaker lives on one channel's event
loop (no locks needed), must let the dispatcher ask *when* it will let a probe through
(to sleep until then instead of polling), and must report its state to ``/metrics``.
pybreaker is synchronous and thread-locked, aiobreaker is unmaintained, and purgatory
keeps state per decorated function; each would take more code to adapt than these lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from omnichannel.channels.adapter import BreakerPolicy


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """See the module docstring. Not thread-safe: one channel's event loop owns it."""

    def __init__(
        self, policy: BreakerPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._policy.open_for.total_seconds():
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def wait_seconds(self) -> float:
        """Seconds until a call may go through (0: now)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return 0.0
        if state is BreakerState.HALF_OPEN:
            return 0.0 if not self._probing else self._policy.open_for.total_seconds() / 10
        assert self._opened_at is not None
        return self._opened_at + self._policy.open_for.total_seconds() - self._clock()

    def allow(self) -> bool:
        """May a call be made now? In half open, only the one probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        """A transient failure (permanent rejections say nothing of the provider's health)."""
        self._failures += 1
        if self._probing or (self._opened_at is None and self._failures >= self._policy.failures):
            self._opened_at = self._clock()
            self.opened_count += 1
        self._probing = False
