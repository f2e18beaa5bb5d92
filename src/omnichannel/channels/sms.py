"""SMS through Twilio's Messages API (and any provider that speaks its shape).

Sending is ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json``, form
encoded, HTTP Basic with the account SID and auth token, with ``To``, ``From`` (or
``MessagingServiceSid``), ``Body`` and ``StatusCallback`` (where Twilio posts the
message's later states: ``POST /hooks/sms/twilio/status``, see api/routes/provider_hooks.py).

What Twilio answers, and what becomes of the message (www.twilio.com/docs/api/errors):

- 201 with the message's ``sid``: sent (the status callback says delivered later);
- 429, or error 20429 (too many requests): retried after ``Retry-After``;
- 21211 (invalid ``To``), 21614 (not a mobile number), 21612 (cannot route to it):
  rejected, the number suppressed on ``sms``;
- 21610 (the recipient replied STOP): rejected, and the number's consent on ``sms``
  becomes ``unsubscribed`` so no send path tries it again;
- 401/403 and 20003 (bad credentials): retried, not dead-lettered: every message would
  fail the same way until the settings are fixed, and the circuit breaker opens meanwhile;
- 5xx, timeouts, refused connections: retried; other 4xx: rejected with the answer.

Requests from Twilio carry ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed by the auth
token, of the full URL followed by each POST parameter's name and value sorted by name
(``signature``). The hooks refuse requests whose signature does not match.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from omnichannel.channels.adapter import (
    AdapterContext,
    ChannelSettings,
    Delivery,
    Rejected,
    RetryLater,
    SendOutcome,
    Sent,
    trim_response,
)
from omnichannel.channels.provider_consent import opt_out
from omnichannel.channels.provider_http import (
    ProviderClient,
    ProviderResponse,
    TransportError,
    client_for,
    describe,
    retry_after,
    unreachable,
)

STATUS_HOOK = "/hooks/sms/twilio/status"
INBOUND_HOOK = "/hooks/sms/twilio/inbound"
# Twilio's error codes (www.twilio.com/docs/api/errors) and what they mean for a message.
INVALID_NUMBER = frozenset({21211, 21612, 21614})
UNSUBSCRIBED_RECIPIENT = 21610
TOO_MANY_REQUESTS = 20429
BAD_CREDENTIALS = frozenset({20003, 20005})
# Later states in a status callback (MessageStatus) and the delivery log's word for them.
FINAL_STATES = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
# Delivery errors after which the number is not worth trying again: unknown or
# unreachable destination (30005), landline (30006), carrier violation (30007).
DEAD_NUMBER_ERRORS = frozenset({"30005", "30006"})
# Replies that opt a person out of or back into SMS. Twilio's own keywords, and the
# Chinese convention ("回复TD退订": reply TD to unsubscribe).
STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke", "td", "退订"}
)
START_WORDS = frozenset({"start", "yes", "unstop"})


class SmsSettings(ChannelSettings):
    """The ``sms`` section of channels.yaml."""

    base_url: str = "https://api.twilio.com"
    account_sid: str = Field(min_length=2, max_length=64)
    auth_token: SecretStr
    # The sender: a number in E.164 or an alphanumeric sender id, or a messaging service.
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # Ask Twilio to post delivered / failed to <public_base_url>/hooks/sms/twilio/status.
    status_callback: bool = True
    # Provider limit on a body (Twilio: 1,600 characters); longer ones are refused here.
    max_body_chars: int = Field(default=1600, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_sender(self) -> SmsSettings:
        if not self.from_number and not self.messaging_service_sid:
            raise ValueError(
                "a sender: from_number (E.164 or an alphanumeric sender id) "
                "or messaging_service_sid"
            )
        return self


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature`` of a request to ``url`` with form ``params``."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(auth_token: str, url: str, params: Mapping[str, str], given: str) -> bool:
    return hmac.compare_digest(signature(auth_token, url, params), given or "")


def keyword_of(text: str) -> str | None:
    """``"stop"`` or ``"start"`` when a reply is an opt-out or opt-in keyword, else None."""
    word = text.strip().strip(".!").lower()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


class SmsAdapter:
    channel: ClassVar[str] = "sms"
    address_types: ClassVar[tuple[str, ...]] = ("phone",)
    required_parts: ClassVar[tuple[str, ...]] = ("body",)
    optional_parts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: SmsSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self._client: ProviderClient | None = None
        sid = settings.account_sid
        self.url = f"{settings.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"

    async def open(self) -> None:
        self._client = client_for(
            self.settings,
            auth=(self.settings.account_sid, self.settings.auth_token.get_secret_value()),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def form(self, delivery: Delivery) -> dict[str, str]:
        """The request's form fields for one message."""
        fields = {"To": delivery.address, "Body": str(delivery.content.get("body", ""))}
        if self.settings.messaging_service_sid:
            fields["MessagingServiceSid"] = self.settings.messaging_service_sid
        else:
            fields["From"] = str(self.settings.from_number)
        if self.settings.status_callback:
            fields["StatusCallback"] = self.context.public_base_url.rstrip("/") + STATUS_HOOK
        return fields

    async def send(self, delivery: Delivery) -> SendOutcome:
        body = str(delivery.content.get("body", ""))
        if not body.strip():
            return Rejected("the message has no body (part 'body' is empty)", reason="empty")
        if len(body) > self.settings.max_body_chars:
            return Rejected(
                f"body is {len(body)} characters; the provider takes at most "
                f"{self.settings.max_body_chars} (sms.max_body_chars)",
                reason="too_long",
            )
        assert self._client is not None, "open() the adapter first"
        try:
            response = await self._client.post(self.url, data=self.form(delivery))
        except TransportError as exc:
            return unreachable(exc, "Twilio")
        return await self._outcome(response, delivery)

    async def _outcome(self, response: ProviderResponse, delivery: Delivery) -> SendOutcome:
        text = describe(response)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get("code") if isinstance(answer, dict) else None
        if response.is_success and isinstance(answer, dict) and answer.get("sid"):
            return Sent(provider_message_id=str(answer["sid"]), response=trim_response(text))
        if response.status_code == 429 or code == TOO_MANY_REQUESTS:
            return RetryLater(text, retry_after=retry_after(response))
        if code in INVALID_NUMBER:
            return Rejected(text, reason="invalid_address", suppress=True)
        if code == UNSUBSCRIBED_RECIPIENT:
            # The person texted STOP to our sender: the carrier will refuse every message,
            # so the decision is recorded where every send path checks it.
            recorded = await asyncio.to_thread(
                opt_out, self.context, "sms", "phone", delivery.address, "twilio 21610"
            )
            return Rejected(text, reason="unsubscribed", suppress=not recorded)
        if response.status_code in (401, 403) or code in BAD_CREDENTIALS:
            return RetryLater(text + " (check sms.account_sid and sms.auth_token)")
        if response.status_code >= 500:
            return RetryLater(text, retry_after=retry_after(response))
        return Rejected(text)
