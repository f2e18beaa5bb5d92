"""The one protocol every channel adapter speaks, and the settings every channel shares.

An adapter knows one provider's wire protocol and nothing else: it is handed one
``Delivery`` (an outbox message already checked by the send path and rendered) and says
what the provider answered, as one of three outcomes. Queues, retries with backoff,
rate limits, circuit breakers, timeouts and the delivery log belong to the dispatcher
(``channels.dispatcher``), so every channel gets them the same way and an adapter stays
a page of provider code.

Adapters are asynchronous: each channel runs on its own event loop in its own thread,
with ``ChannelSettings.concurrency`` sends in flight, so a provider that hangs holds up
its own channel and nothing else, and HTTP providers reach thousands of requests a
second without a thread per request.

Example (a minimal adapter)::

    class WebhookAdapter:
        channel = "webhook"
        address_types = ("webhook_endpoint",)

        def __init__(self, settings: WebhookSettings, context: AdapterContext) -> None: ...
        async def open(self) -> None: self._client = httpx.AsyncClient()
        async def send(self, delivery: Delivery) -> SendOutcome:
            response = await self._client.post(...)
            if response.status_code == 429:
                return RetryLater(describe(response), retry_after=retry_after(response))
            ...
        async def close(self) -> None: await self._client.aclose()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from omnichannel.opstore.models import MessageKind

if TYPE_CHECKING:
    from omnichannel.channels.tracking import Tracking

# How much of a provider's answer is kept with a message (a dead letter shows it).
RESPONSE_KEEP_CHARS = 2000
# The outbox content key of a message to several of a person's devices (push): their
# addresses, newest first. The worker sends each its own copy (``address`` is the first)
# and settles them one by one; an adapter never sees the key.
DEVICES = "devices"


@dataclass(frozen=True)
class Delivery:
    """One attempt to hand one outbox message to its provider."""

    outbox_id: int
    idempotency_key: str
    channel: str
    kind: MessageKind
    profile_id: str | None
    address: str
    # The rendered parts of the message, by channel: {"subject", "text", "html"} for
    # email, {"body"} for SMS, {"title", "body", "data"} for push, ...
    content: Mapping[str, Any]
    attempt: int  # 1 on the first try
    template: str | None = None
    template_version: int | None = None
    campaign: str | None = None
    # This message's signed unsubscribe link (already in ``content`` wherever the template
    # said ``{{ unsubscribe_url }}``), for adapters that also put it elsewhere (a header).
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Sent:
    """The provider accepted the message."""

    provider_message_id: str | None = None
    response: str = ""


@dataclass(frozen=True)
class RetryLater:
    """A transient failure (timeout, connection refused, 5xx, 429): try again later,
    not before ``retry_after`` seconds when the provider said so (Retry-After)."""

    response: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Rejected:
    """A permanent failure: retrying cannot help (invalid address, bad credentials for
    this message, a 4xx other than 429). ``suppress`` adds the address to the channel's
    suppression list (an unknown mailbox, an unregistered device token)."""

    response: str
    reason: str = "rejected"
    suppress: bool = False


SendOutcome = Sent | RetryLater | Rejected


def trim_response(text: str) -> str:
    """A provider's answer, cut to what is kept with the message."""
    return text if len(text) <= RESPONSE_KEEP_CHARS else text[:RESPONSE_KEEP_CHARS] + "…"


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter: the n-th retry waits a random time in
    [0, min(max, base * 2**(n-1))], so a recovering provider is not hit by every queued
    message at the same instant."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=100)
    base: timedelta = Field(default=timedelta(seconds=2))
    max: timedelta = Field(default=timedelta(hours=1))


class BreakerPolicy(BaseModel):
    """After ``failures`` consecutive transient failures the channel stops calling its
    provider for ``open_for``, then lets one message through to test it (half open)."""

    model_config = ConfigDict(extra="forbid")

    failures: int = Field(default=5, ge=1)
    open_for: timedelta = Field(default=timedelta(seconds=30))


class ChannelSettings(BaseModel):
    """What every channel's section of ``channels.yaml`` may say; each adapter's settings
    model subclasses this with its provider's fields."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Sends per second to the provider (its published limit, or what the account allows).
    rate_per_second: float = Field(default=50.0, gt=0)
    # Sends in flight at once on this channel.
    concurrency: int = Field(default=8, ge=1, le=512)
    # A provider call taking longer than this counts as a transient failure.
    timeout: timedelta = Field(default=timedelta(seconds=15))
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter may need from its installation besides its own settings."""

    # Links in messages (open pixel, click redirects, unsubscribe) point here.
    public_base_url: str
    # Signs and reads tracking and unsubscribe links; None where a channel has no links.
    tracking: Tracking | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class ChannelAdapter(Protocol):
    """One provider's wire protocol. See the module docstring."""

    channel: ClassVar[str]
    # Identifier types (identity graph) a profile's address on this channel is read
    # from, best first: ("email",), ("phone",), ("push_token",), ("wechat_openid",).
    address_types: ClassVar[tuple[str, ...]]
    # Content parts a template of this channel must have, and may have.
    required_parts: ClassVar[tuple[str, ...]]
    optional_parts: ClassVar[tuple[str, ...]]

    async def open(self) -> None:
        """Connect (pools, tokens): called once on the channel's event loop."""

    async def send(self, delivery: Delivery) -> SendOutcome:
        """Hand one message to the provider; an exception counts as ``RetryLater``."""
        ...

    async def close(self) -> None:
        """Release connections: called once when the channel stops."""
