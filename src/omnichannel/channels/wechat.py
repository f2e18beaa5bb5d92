"""WeChat official-account template messages (模板消息), and the account's event callbacks.

An access token comes from ``GET {base_url}/cgi-bin/token?grant_type=client_credential
&appid=&secret=`` and is reused until ``expires_in`` (7,200 s) minus a margin; a
message is ``POST /cgi-bin/message/template/send?access_token=`` with ``{"touser":
<openid>, "template_id", "url", "miniprogram", "data": {"keyword1": {"value": ...}},
"client_msg_id"}``; ``client_msg_id`` (from the outbox's idempotency key) lets WeChat
drop a repeat of the same message. Every answer carries ``errcode`` (0: sent, with
``msgid``):

- 40001, 40014, 42001 (the token is invalid or expired: another process fetched a new
  one, or it lapsed): a new token is fetched once and the message sent again;
- 43004 (the person does not follow the account): rejected; the address is kept, as
  they may follow again;
- 40003 (not an openid of this account): rejected and suppressed;
- 45009 (the account's daily quota is used up): retried after midnight, Beijing time,
  when the quota resets; -1 (system busy) and HTTP errors: retried;
- 40037 (no such template), 47003 (data does not fit the template): rejected, the
  message is wrong;
- 40013, 40125, 40164 on the token (wrong app id or secret, a server IP not on the
  account's allow-list): retried, with the setting to fix named; the breaker opens.

The account's server pushes events to ``/hooks/wechat`` as XML, signed by
``signature = sha1(sorted(token, timestamp, nonce))`` (``callback_signature``):
``TEMPLATESENDJOBFINISH`` (``success`` becomes ``delivered``; ``failed:user block`` the
person blocked the account's messages, recorded as unsubscribed), ``unsubscribe`` (the
person unfollowed: unsubscribed), and text messages (``Message Received`` events).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr

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
from omnichannel.channels.provider_http import (
    CachedToken,
    ProviderClient,
    ProviderResponse,
    TransportError,
    client_for,
    unreachable,
    with_token,
)
from omnichannel.errors import ValidationError

STALE_TOKEN = frozenset({40001, 40014, 42001})
NOT_FOLLOWING = 43004
INVALID_OPENID = 40003
DAILY_QUOTA = 45009
SYSTEM_BUSY = -1
BAD_MESSAGE = frozenset({40037, 47003, 47001})
BAD_ACCOUNT = {
    40013: "wechat.app_id",
    40125: "wechat.app_secret",
    40164: "the account's IP allow-list (this server's address)",
}
QUOTA_RESETS_IN = ZoneInfo("Asia/Shanghai")
# A token is fetched again this long before WeChat says it expires.
REFRESH_MARGIN = 300.0
CLIENT_MSG_ID_MAX = 64
MAX_CALLBACK_BYTES = 64 * 1024


class WechatSettings(ChannelSettings):
    """The ``wechat`` section of channels.yaml."""

    base_url: str = "https://api.weixin.qq.com"
    app_id: str = Field(min_length=1, max_length=64)
    app_secret: SecretStr
    # The token set on the account's "server configuration" page, which signs callbacks.
    callback_token: SecretStr | None = None
    # The EncodingAESKey of that page (43 characters), for the safe and compatible modes,
    # in which WeChat encrypts each pushed message.
    encoding_aes_key: SecretStr | None = Field(default=None, min_length=43, max_length=43)
    # WeChat's limit: 2,000 template messages a second per account is far above most.
    rate_per_second: float = Field(default=100.0, gt=0)


class WechatError(Exception):
    """WeChat answered an errcode other than 0 (``code``), or no JSON at all."""

    def __init__(self, code: int | None, text: str) -> None:
        self.code = code
        super().__init__(text)


def seconds_to_quota_reset(now: datetime | None = None) -> float:
    """Seconds until the next midnight in Beijing, when WeChat's daily quotas reset."""
    local = (now or datetime.now(QUOTA_RESETS_IN)).astimezone(QUOTA_RESETS_IN)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
    return (midnight - local).total_seconds()


def client_msg_id(idempotency_key: str) -> str:
    """The key itself when it fits WeChat's 64 characters, else its SHA-1."""
    if len(idempotency_key) <= CLIENT_MSG_ID_MAX and idempotency_key.isascii():
        return idempotency_key
    return hashlib.sha1(idempotency_key.encode()).hexdigest()


def template_body(delivery: Delivery) -> dict[str, Any]:
    """The template/send body: data values as ``{"value": ...}`` (a colour may be given)."""
    content = delivery.content
    data: dict[str, Any] = {}
    for key, value in dict(content.get("data") or {}).items():
        data[str(key)] = (
            {
                "value": str(value.get("value", "")),
                **({"color": value["color"]} if value.get("color") else {}),
            }
            if isinstance(value, dict)
            else {"value": str(value)}
        )
    body: dict[str, Any] = {
        "touser": delivery.address,
        "template_id": str(content.get("template_id", "")),
        "data": data,
        "client_msg_id": client_msg_id(delivery.idempotency_key),
    }
    if content.get("url"):
        body["url"] = str(content["url"])
    if content.get("miniprogram"):
        body["miniprogram"] = dict(content["miniprogram"])
    return body


class WechatAdapter:
    channel: ClassVar[str] = "wechat"
    address_types: ClassVar[tuple[str, ...]] = ("wechat_openid",)
    required_parts: ClassVar[tuple[str, ...]] = ("template_id", "data")
    optional_parts: ClassVar[tuple[str, ...]] = ("url", "miniprogram")

    def __init__(self, settings: WechatSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self.base = settings.base_url.rstrip("/")
        self._client: ProviderClient | None = None
        # WeChat issues one current token per account: reused until five minutes before
        # it expires, and fetched again once when WeChat says it is stale.
        self.tokens = CachedToken(self._fetch_token, REFRESH_MARGIN)

    async def open(self) -> None:
        self._client = client_for(self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    @property
    def tokens_fetched(self) -> int:
        return self.tokens.fetched

    async def _fetch_token(self) -> tuple[str, float]:
        """A new access token and how long it lives; WechatError naming the setting to fix."""
        response = await self._client_or_fail().get(
            f"{self.base}/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.settings.app_id,
                "secret": self.settings.app_secret.get_secret_value(),
            },
        )
        answer = _json(response)
        if not answer.get("access_token"):
            code = answer.get("errcode")
            hint = BAD_ACCOUNT.get(code) if isinstance(code, int) else None
            raise WechatError(code, _shown(response) + (f" (check {hint})" if hint else ""))
        return str(answer["access_token"]), float(answer.get("expires_in", 7200))

    async def send(self, delivery: Delivery) -> SendOutcome:
        if not delivery.content.get("template_id"):
            return Rejected("the message has no template_id", reason="invalid_message")
        body = template_body(delivery)
        try:
            response = await with_token(
                self.tokens,
                lambda token: self._client_or_fail().post(
                    f"{self.base}/cgi-bin/message/template/send",
                    params={"access_token": token},
                    json=body,
                ),
                refused=lambda answer: _json(answer).get("errcode") in STALE_TOKEN,
            )
        except WechatError as exc:
            return RetryLater(f"WeChat refused the access token request: {exc}")
        except TransportError as exc:
            return unreachable(exc, "WeChat")
        return self._outcome(response)

    def _client_or_fail(self) -> ProviderClient:
        assert self._client is not None, "open() the adapter first"
        return self._client

    def _outcome(self, response: ProviderResponse) -> SendOutcome:
        text = _shown(response)
        answer = _json(response)
        code = answer.get("errcode")
        if response.is_success and code == 0:
            return Sent(provider_message_id=str(answer.get("msgid", "")) or None, response=text)
        if not response.is_success or code in (SYSTEM_BUSY, *STALE_TOKEN) or code is None:
            return RetryLater(text)
        if code == DAILY_QUOTA:
            return RetryLater(text, retry_after=seconds_to_quota_reset())
        if code == INVALID_OPENID:
            return Rejected(text, reason="invalid_address", suppress=True)
        if code == NOT_FOLLOWING:
            return Rejected(text, reason="not_following")
        if code in BAD_MESSAGE:
            return Rejected(text, reason="invalid_message")
        return Rejected(text)


def _json(response: ProviderResponse) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _shown(response: ProviderResponse) -> str:
    # The URL carries the secret or the token in its query: never keep it.
    return trim_response(f"HTTP {response.status_code} {response.url.path}: {response.text}")


# --- callbacks from the account's server -------------------------------------------------


def callback_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's ``signature`` of a callback: SHA-1 of the three values sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def callback_valid(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(callback_signature(token, timestamp, nonce), signature or "")


def parse_callback(body: bytes) -> dict[str, str]:
    """A callback's XML as ``{element: text}``; refuses DTDs and entities (untrusted input)."""
    if len(body) > MAX_CALLBACK_BYTES:
        raise ValidationError("(body)", f"{len(body)} bytes", f"at most {MAX_CALLBACK_BYTES}")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValidationError("(body)", "a DOCTYPE or ENTITY", "WeChat's plain <xml> message")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValidationError("(body)", str(exc), "WeChat's <xml> callback message") from None
    return {child.tag: (child.text or "").strip() for child in root}


def message_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """``msg_signature`` of an encrypted callback: SHA-1 of the four values sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode()).hexdigest()


def decrypt_message(encoding_aes_key: str, app_id: str, encrypted: str) -> bytes:
    """The XML inside an encrypted callback (safe mode).

    WeChat's scheme: the AES-256 key is the base64 of ``EncodingAESKey + "="``; CBC with the
    key's first 16 bytes as IV; PKCS#7 padding to 32 bytes; the plaintext is 16 random
    bytes, the message length (4 bytes, big-endian), the message, and the app id, which
    must be ours (a message for another account is refused).
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        key = base64.b64decode(encoding_aes_key + "=")
        data = base64.b64decode(encrypted, validate=True)
    except (ValueError, binascii.Error):
        raise ValidationError(
            "Encrypt", encrypted[:20] + "...", "base64 of WeChat's AES message"
        ) from None
    if len(key) != 32 or not data or len(data) % 16:
        raise ValidationError(
            "Encrypt", f"{len(data)} bytes", "a whole number of AES blocks under a 43-character key"
        )
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 32 or len(plain) < 20 + pad:
        raise ValidationError(
            "Encrypt", "(decrypted)", "a message encrypted with wechat.encoding_aes_key"
        )
    plain = plain[:-pad]
    length = int.from_bytes(plain[16:20], "big")
    message, sender = plain[20 : 20 + length], plain[20 + length :]
    if sender.decode("utf-8", "replace") != app_id:
        raise ValidationError(
            "Encrypt", "(decrypted)", f"a message for app id {app_id} (wechat.app_id)"
        )
    return message
