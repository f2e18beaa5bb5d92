"""What the HTTP provider adapters (SMS, push, WeChat, ad audiences) share.

One ``httpx.AsyncClient`` per adapter (connection reuse on the channel's event loop),
the provider's answer as the one line a dead letter shows, and ``Retry-After`` read in
both of its forms (seconds, or an HTTP date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from omnichannel.channels.adapter import ChannelSettings, RetryLater, trim_response


def client_for(settings: ChannelSettings, **options: object) -> httpx.AsyncClient:
    """A pooled client sized to the channel's concurrency, with its timeout."""
    seconds = settings.timeout.total_seconds()
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    return httpx.AsyncClient(timeout=httpx.Timeout(seconds), limits=limits, **options)  # type: ignore[arg-type]


def describe(response: httpx.Response) -> str:
    """``HTTP 400 POST https://...: {"code": 21211, ...}``, trimmed."""
    request = response.request
    return trim_response(
        f"HTTP {response.status_code} {request.method} {request.url.copy_with(query=None)}: "
        f"{response.text}"
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the provider asked us to wait (``Retry-After``), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - datetime.now(UTC)).total_seconds())


def unreachable(exc: httpx.HTTPError, what: str) -> RetryLater:
    """A connection refused, reset or timed out: transient, whatever the provider."""
    return RetryLater(trim_response(f"{what} unreachable: {type(exc).__name__}: {exc}"))
