"""When a message that failed for a transient reason is tried again.

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
Jitter"): the n-th retry waits a random time in [0, min(max, base * 2**(n-1))], so the
messages queued behind a provider that just recovered do not all come back at once. A
``Retry-After`` from the provider is a floor: we never come back sooner than asked.
"""

from __future__ import annotations

import random
from datetime import timedelta

from omnichannel.channels.adapter import RetryPolicy

RETRY_AFTER_LIMIT = timedelta(days=1)


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 = the first try)."""
    ceiling = min(
        policy.max.total_seconds(), policy.base.total_seconds() * 2 ** max(0, attempt - 1)
    )
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        # The provider's word beats our own ceiling (bounded: a typo of a year is a day).
        delay = max(delay, min(retry_after, RETRY_AFTER_LIMIT.total_seconds()))
    return timedelta(seconds=delay)


def exhausted(policy: RetryPolicy, attempt: int) -> bool:
    """True when ``attempt`` was the last one the policy allows."""
    return attempt >= policy.max_attempts
