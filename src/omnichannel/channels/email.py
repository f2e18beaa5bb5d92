"""Email over SMTP: multipart text and HTML, RFC 8058 one-click unsubscribe, tracked links.

``EmailAdapter`` hands one rendered message to an SMTP server with ``aiosmtplib``,
keeping up to ``pool_size`` connections open and reusing each for
``messages_per_connection`` messages (a new TLS handshake and login per message would
cost more than the message). STARTTLS is used when the server offers it (or required,
or off), implicit TLS with ``use_tls`` (port 465), AUTH when a username is set.

At send time the message gets what depends on its outbox id: the unsubscribe link
(``{{ unsubscribe_url }}`` in the template, and the ``List-Unsubscribe`` header with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, so mailbox providers show their
own unsubscribe button and POST to it), links through the click redirect and the open
pixel (``channels/tracking.py``), and a ``Message-ID`` made from the outbox id and the
idempotency key, the same on every retry.

What the server answers decides the outcome:

- 250 -> ``Sent`` (the server's answer kept, the Message-ID as the provider's id);
- a permanent 5xx refusing the recipient (550 no such user, 551, 553) ->
  ``Rejected(suppress=True)``: the address is put on the suppression list;
- another permanent 5xx (the message refused at DATA: 552 too big, 554 content) ->
  ``Rejected`` without suppressing the address;
- 4xx, a refused login or sender (a problem of the channel, not of this message),
  timeouts and dropped connections -> ``RetryLater``, so the breaker opens and
  messages wait until the server or its settings are fixed.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import logging
import re
import secrets
import ssl
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any, ClassVar

import aiosmtplib
from pydantic import Field, field_validator

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
from omnichannel.channels.render import UNSUBSCRIBE_PLACEHOLDER
from omnichannel.opstore.models import MessageKind

log = logging.getLogger(__name__)

# UTF-8 bodies as quoted-printable: readable in a raw message, safe over 7-bit relays.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


_BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HIDDEN = (
    '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">'
    "{}</div>"
)


def with_preheader(page: str, preheader: str) -> str:
    """The inbox preview line: hidden text at the top of the HTML body (mail clients show
    the first text of a message beside its subject)."""
    if not preheader:
        return page
    hidden = _HIDDEN.format(html.escape(preheader))
    start = _BODY_START.search(page)
    at = start.end() if start else 0
    return page[:at] + hidden + page[at:]


def _text_part(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8)
    return part


def _attachment(item: Any) -> MIMENonMultipart:
    """An attachment part from ``{"filename", "content", "content_type"}`` (text, base64)."""
    import base64

    maintype, _, subtype = str(item.get("content_type") or "text/plain").partition("/")
    part = MIMENonMultipart(maintype, subtype or "plain", charset="utf-8")
    # encodebytes: 76-character lines (SMTP refuses lines over 998 octets, RFC 5321).
    part.set_payload(base64.encodebytes(str(item.get("content", "")).encode("utf-8")).decode())
    part["Content-Transfer-Encoding"] = "base64"
    name = str(item.get("filename") or "attachment.txt")
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def _header(value: str) -> str:
    """A header value as is when ASCII, else RFC 2047 encoded words."""
    return value if value.isascii() else Header(value, "utf-8").encode()


class _WireHeaders(Compat32):
    """compat32 that writes an ASCII header of one line as it is.

    compat32 passes every header through ``email.header.Header`` to fold it, a third of
    a message's CPU here; the values ``compose`` sets are ASCII already (``_header``
    encoded the others) and shorter than RFC 5322's 998 characters, so there is nothing
    to fold. Anything else (a line break, a long or non-ASCII value) goes the usual way.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) < 990
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WireHeaders(linesep="\r\n")


def wire_bytes(message: Message) -> bytes:
    """The message as sent over SMTP (CRLF line ends; the bodies are quoted-printable)."""
    with io.BytesIO() as out:
        BytesGenerator(out, mangle_from_=False, policy=_WIRE).flatten(message)
        return out.getvalue()


# Permanent answers that say the mailbox itself is the problem (RFC 5321 4.2.3, 3463).
RECIPIENT_CODES = frozenset({550, 551, 553})


class EmailSettings(ChannelSettings):
    """The ``email:`` section of channels.yaml."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    # STARTTLS: null = when the server offers it, true = required, false = never.
    starttls: bool | None = None
    # Implicit TLS from the first byte (usually port 465); excludes STARTTLS.
    use_tls: bool = False
    validate_certs: bool = True
    # A CA bundle to trust (a private relay's own certificate authority).
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    from_address: str = "omni@localhost"
    from_name: str = ""
    reply_to: str | None = None
    # Connections kept open to the server, and messages sent on one before reconnecting.
    pool_size: int = Field(default=4, ge=1, le=64)
    messages_per_connection: int = Field(default=100, ge=1)
    track_opens: bool = True
    track_clicks: bool = True
    # RFC 8058 headers on marketing messages (transactional ones carry none).
    list_unsubscribe: bool = True
    # Each accepted message committed before its send slot sends another: at most
    # `concurrency` messages sent again after a kill -9, for less throughput (channels.md).
    record_before_next: bool = False
    # What the provider's bounce/complaint webhook authenticates with (POST
    # /hooks/email/bounces: Bearer, basic-auth password or ?token=); usually ${ENV}.
    bounce_secret: str | None = None

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError("an email address such as news@shop.example")
        return value


class _Pool:
    """Up to ``size`` open SMTP connections, each used by one send at a time."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._idle: asyncio.Queue[tuple[aiosmtplib.SMTP, int] | None] = asyncio.Queue()
        for _ in range(settings.pool_size):
            self._idle.put_nowait(None)  # a slot with no connection yet

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = None
        if s.ca_file or not s.validate_certs:
            context = ssl.create_default_context(cafile=s.ca_file)
            if not s.validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username or None,
            password=s.password if s.username else None,
            use_tls=s.use_tls,
            start_tls=False if s.use_tls else s.starttls,
            validate_certs=s.validate_certs,
            tls_context=context,
            timeout=s.timeout.total_seconds(),
        )

    async def take(self) -> tuple[aiosmtplib.SMTP, int]:
        slot = await self._idle.get()
        if (
            slot is not None
            and slot[0].is_connected
            and slot[1] < self.settings.messages_per_connection
        ):
            return slot
        if slot is not None:
            await _quit(slot[0])
        client = self._client()
        try:
            await client.connect()
        except BaseException:
            self._idle.put_nowait(None)
            raise
        return client, 0

    def give_back(self, client: aiosmtplib.SMTP, used: int) -> None:
        self._idle.put_nowait((client, used + 1))

    async def discard(self, client: aiosmtplib.SMTP) -> None:
        self._idle.put_nowait(None)
        await _quit(client)

    async def close(self) -> None:
        while not self._idle.empty():
            slot = self._idle.get_nowait()
            if slot is not None:
                await _quit(slot[0])


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), 2)
    except Exception:
        client.close()


def _answer(code: int, message: str) -> str:
    return trim_response(f"{code} {message}".strip())


def _outcome_of(exc: Exception) -> SendOutcome:
    """The outcome an SMTP failure means (see the module docstring)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0]
        return _refused_recipient(refused.code, refused.message)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return _refused_recipient(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return RetryLater(
            f"login refused, check email.username/password: {_answer(exc.code, exc.message)}"
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return RetryLater(
            f"sender refused, check email.from_address: {_answer(exc.code, exc.message)}"
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 500 <= exc.code < 600 and not isinstance(exc, aiosmtplib.SMTPConnectResponseError):
            return Rejected(_answer(exc.code, exc.message), reason="smtp_rejected")
        return RetryLater(_answer(exc.code, exc.message))
    return RetryLater(f"{type(exc).__name__}: {exc}")


def _refused_recipient(code: int, message: str) -> SendOutcome:
    if code in RECIPIENT_CODES:
        return Rejected(_answer(code, message), reason="hard_bounce", suppress=True)
    if 500 <= code < 600:
        return Rejected(_answer(code, message), reason="smtp_rejected")
    return RetryLater(_answer(code, message))


class EmailAdapter:
    """SMTP, with pooled connections (see the module docstring)."""

    channel: ClassVar[str] = "email"
    address_types: ClassVar[tuple[str, ...]] = ("email",)
    required_parts: ClassVar[tuple[str, ...]] = ("subject", "text")
    optional_parts: ClassVar[tuple[str, ...]] = ("html", "preheader", "attachments")
    # SMTP takes no idempotency key: the worker commits each 250 at once (and, with
    # record_before_next, before the slot sends another; channels/dispatcher.py).
    settle_at_once: ClassVar[bool] = True

    def __init__(self, settings: EmailSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self._pool: _Pool | None = None
        self._sender = parseaddr(settings.from_address)[1]
        self._domain = self._sender.rpartition("@")[2] or "localhost"

    async def open(self) -> None:
        self._pool = _Pool(self.settings)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def message_id(self, delivery: Delivery) -> str:
        digest = hashlib.sha256(delivery.idempotency_key.encode("utf-8")).hexdigest()[:16]
        return f"<omni.{delivery.outbox_id}.{digest}@{self._domain}>"

    def compose(self, delivery: Delivery) -> Message:
        """The MIME message for ``delivery``, personalised with its own links.

        Built with the ``email.mime`` classes (``compat32``): ``EmailMessage`` parses every
        header through the header registry and cost several milliseconds a message, more
        than the SMTP conversation with a local relay.
        """
        s = self.settings
        content: dict[str, Any] = dict(delivery.content)
        tracking = self.context.tracking
        unsubscribe = None
        if tracking is not None:
            # The worker made the link already; a Delivery built by hand has none.
            unsubscribe = delivery.unsubscribe_url or tracking.unsubscribe_url(delivery.outbox_id)
            content = tracking.personalise(
                content,
                delivery.outbox_id,
                track_opens=s.track_opens,
                track_clicks=s.track_clicks,
                unsubscribe=unsubscribe,
            )
        else:
            content = {
                k: v.replace(UNSUBSCRIBE_PLACEHOLDER, "") if isinstance(v, str) else v
                for k, v in content.items()
            }
        text = _text_part("plain", str(content.get("text", "")))
        message: Message = text
        if content.get("html"):
            page = with_preheader(str(content["html"]), str(content.get("preheader") or ""))
            # A boundary of our own: the generator would otherwise compile a regular
            # expression per message to check its random one against the text. "=_"
            # never occurs in quoted-printable text, so this one cannot either.
            message = MIMEMultipart("alternative", boundary=f"=_omni_{secrets.token_hex(12)}")
            message.attach(text)
            message.attach(_text_part("html", page))
        if content.get("attachments"):  # a report's CSV (reports/): multipart/mixed
            mixed = MIMEMultipart("mixed", boundary=f"=_omni_{secrets.token_hex(12)}")
            mixed.attach(message)
            for item in content["attachments"]:
                mixed.attach(_attachment(item))
            message = mixed
        sender = (
            formataddr((s.from_name, s.from_address), "utf-8") if s.from_name else s.from_address
        )
        message["From"] = sender
        message["To"] = delivery.address
        message["Subject"] = _header(str(content.get("subject", "")))
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = self.message_id(delivery)
        if s.reply_to:
            message["Reply-To"] = s.reply_to
        if unsubscribe and s.list_unsubscribe and delivery.kind == MessageKind.MARKETING:
            message["List-Unsubscribe"] = f"<{unsubscribe}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # Lets a bounce or complaint name its message (DSNs and feedback reports quote it).
        message["X-Omni-Outbox-Id"] = str(delivery.outbox_id)
        if delivery.campaign:
            message["X-Omni-Campaign"] = _header(delivery.campaign)
        return message

    async def send(self, delivery: Delivery) -> SendOutcome:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        message = self.compose(delivery)
        raw = wire_bytes(message)
        try:
            client, used = await self._pool.take()
        except Exception as exc:  # cannot connect or log in: the channel's problem
            return _outcome_of(exc)
        try:
            _, reply = await client.sendmail(
                self._sender,
                [delivery.address],
                raw,
                mail_options=self._mail_options(client, delivery.address),
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused) as exc:
            # The connection is fine; only this mailbox is refused. RSET for the next one.
            await self._reset(client, used)
            return _outcome_of(exc)
        except BaseException as exc:
            await self._pool.discard(client)
            if isinstance(exc, Exception):
                return _outcome_of(exc)
            raise  # cancelled (the dispatcher's timeout): the connection is dropped above
        self._pool.give_back(client, used)
        return Sent(provider_message_id=message["Message-ID"], response=trim_response(reply))

    def _mail_options(self, client: aiosmtplib.SMTP, address: str) -> list[str]:
        """SMTPUTF8 for an address that is not ASCII (refused when the server cannot take
        one), as ``send_message`` asks; the bodies are 7-bit, so nothing else."""
        if (self._sender + address).isascii():
            return []
        if not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported(
                f"{address} is not ASCII and the SMTP server does not offer SMTPUTF8"
            )
        return ["SMTPUTF8"]

    async def _reset(self, client: aiosmtplib.SMTP, used: int) -> None:
        assert self._pool is not None
        try:
            await client.rset()
        except Exception:
            await self._pool.discard(client)
            return
        self._pool.give_back(client, used)
