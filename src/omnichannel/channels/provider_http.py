"""What the HTTP provider adapters (webhooks, SMS, push, WeChat) share.

One ``aiohttp.ClientSession`` per adapter, opened on the channel's event loop, whose
``TCPConnector`` keeps at most the channel's ``concurrency`` connections alive and
reuses them; the channel's ``timeout`` bounds each request. aiohttp parses HTTP in C,
which is what lets one channel worker send a thousand webhooks a second on a core where
httpx (pure Python, about 3 ms of CPU a request here) stopped at about 300
(``benchmarks/webhook_send.py``).

Adapters get a ``ProviderResponse`` (the status, headers and whole body, read before
the connection goes back to the pool: providers answer in a few hundred bytes), the
provider's answer as the one line a dead letter shows (``describe``), and
``Retry-After`` read in both of its forms (seconds, or an HTTP date).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from omnichannel.channels.adapter import ChannelSettings, RetryLater, trim_response

# What a request that never got an answer raises: a refused, reset or dropped
# connection, a TLS failure (all ``aiohttp.ClientError``), or the channel's timeout.
TransportError = (aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class ProviderResponse:
    """A provider's whole answer to one request."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (multidict)
    body: bytes
    method: str
    url: URL

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.body)


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _ssl_context() -> ssl.SSLContext:
    # certifi's bundle where it is installed (it comes with httpx, which the CLI uses), as
    # httpx did: a machine without system CA certificates still verifies providers.
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class ProviderClient:
    """A pooled HTTP client sized to one channel (see the module docstring).

    Create it inside the channel's event loop (``adapter.open``); ``close`` it there.
    """

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        fixed = dict(headers or {})
        if auth is not None:
            fixed["Authorization"] = aiohttp.encode_basic_auth(*auth)
        connector = aiohttp.TCPConnector(
            limit=settings.concurrency,
            limit_per_host=settings.concurrency,
            ssl=_ssl_context(),
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=settings.timeout.total_seconds()),
            headers=fixed,
            # Compact UTF-8 JSON (a Chinese template message is a third of the bytes).
            json_serialize=_compact_json,
        )
        # aiohttp's trust_env looks proxies and ~/.netrc up again on a thread for every
        # request (a third of a core at 1,000 webhooks a second): looked up once per origin.
        self._proxies: dict[tuple[str, str | None, int | None], URL | None] = {}

    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        """Send one request and read its whole answer; raises one of ``TransportError``."""
        target = url if isinstance(url, URL) else URL(url)
        origin = (target.scheme, target.host, target.port)
        if origin not in self._proxies:
            self._proxies[origin] = _proxy_for(target)
        async with self.session.request(
            method,
            target,
            params=params,
            data=data,
            json=json,
            headers=headers,
            proxy=self._proxies[origin],
        ) as response:
            body = await response.read()
            return ProviderResponse(response.status, response.headers, body, method, response.url)

    async def post(self, url: str | URL, **options: Any) -> ProviderResponse:
        return await self.request("POST", url, **options)

    async def get(self, url: str | URL, **options: Any) -> ProviderResponse:
        return await self.request("GET", url, **options)

    async def close(self) -> None:
        await self.session.close()


def _proxy_for(url: URL) -> URL | None:
    """The proxy ``HTTPS_PROXY`` / ``HTTP_PROXY`` name for ``url`` unless ``NO_PROXY``
    exempts its host (what httpx read from the environment, and curl does). Credentials
    in the proxy's URL are sent as ``Proxy-Authorization`` (aiohttp reads them there)."""
    found = urllib.request.getproxies_environment().get(url.scheme)
    if not found or (url.host and urllib.request.proxy_bypass(url.host)):
        return None
    return URL(found)


def client_for(
    settings: ChannelSettings,
    *,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> ProviderClient:
    """A pooled client sized to the channel's concurrency, with its timeout."""
    return ProviderClient(settings, headers=headers, auth=auth)


class CachedToken:
    """An access token a provider issues for a while (FCM's OAuth token, WeChat's
    access_token), fetched once and reused until ``margin`` seconds before it expires.

    ``fetch()`` returns (token, seconds it lives) or raises the provider's refusal. One
    fetch at a time: sends waiting for a token share the one being fetched.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], margin: float) -> None:
        self._fetch = fetch
        self._margin = margin
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def get(self, *, stale: str | None = None) -> str:
        """A valid token; ``stale`` is one the provider refused (fetched again unless
        another send replaced it meanwhile)."""
        async with self._lock:
            now = time.time()
            if self._token and self._token != stale and now < self._expires - self._margin:
                return self._token
            token, lifetime = await self._fetch()
            self._token, self._expires = token, now + lifetime
            self.fetched += 1
            return token


async def with_token(
    tokens: CachedToken,
    call: Callable[[str], Awaitable[ProviderResponse]],
    refused: Callable[[ProviderResponse], bool],
) -> ProviderResponse:
    """``call(token)``, and once more with a new token when the provider ``refused`` it
    (another process fetched a newer one, or it lapsed early)."""
    token = await tokens.get()
    response = await call(token)
    if refused(response):
        response = await call(await tokens.get(stale=token))
    return response


def describe(response: ProviderResponse) -> str:
    """``HTTP 400 POST https://...: {"code": 21211, ...}``, trimmed; the query is left out
    (WeChat carries its token there)."""
    return trim_response(
        f"HTTP {response.status_code} {response.method} {response.url.with_query(None)}: "
        f"{response.text}"
    )


def retry_after(response: ProviderResponse) -> float | None:
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


def unreachable(exc: BaseException, what: str) -> RetryLater:
    """A connection refused, reset or timed out: transient, whatever the provider."""
    detail = str(exc) or "no answer within the channel's timeout"
    return RetryLater(trim_response(f"{what} unreachable: {type(exc).__name__}: {detail}"))
