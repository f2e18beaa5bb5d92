"""A real SMTP server (aiosmtpd) on a free local port, for the email channel's tests.

It speaks SMTP as a relay would: optional STARTTLS with a self-signed certificate made
here with ``cryptography`` (the client trusts it as its CA), optional AUTH (PLAIN/LOGIN
with one username and password), and per-recipient answers (``answers``: address ->
"550 5.1.1 no such user", "451 4.3.0 try later"...). Every accepted message is parsed
and kept in ``messages``, with the envelope, so a test reads what a mailbox would get.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text of the ``text/<subtype>`` part."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None and found.get_content_subtype() == subtype, subtype
        return str(found.get_content()).replace("\r\n", "\n")


@dataclass
class Handler:
    answers: dict[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1 if not getattr(session, "counted", False) else 0
        session.counted = True
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answer = self.answers.get(address.lower())
        if answer is not None and not answer.startswith("2"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
            n = len(self.messages)
        return f"250 2.0.0 queued as m{n}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for localhost / 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Handler
    cert: Path | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


@contextmanager
def smtp_server(
    *,
    tls_dir: Path | None = None,
    login: tuple[str, str] | None = None,
    answers: dict[str, str] | None = None,
    implicit_tls: bool = False,
    smtputf8: bool = True,
) -> Iterator[SmtpServer]:
    """A running server; ``tls_dir`` turns on (and requires) STARTTLS, or TLS from the
    first byte with ``implicit_tls`` (SMTPS, port 465 style); ``login`` AUTH;
    ``smtputf8=False`` does not offer SMTPUTF8 (addresses that are not ASCII, RFC 6531),
    which aiosmtpd offers by default."""
    handler = Handler(answers={k.lower(): v for k, v in (answers or {}).items()})
    kwargs: dict[str, Any] = {} if smtputf8 else {"enable_SMTPUTF8": False}
    cert = None
    if tls_dir is not None:
        cert, key = self_signed(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if implicit_tls:
            kwargs.update(ssl_context=context)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if login is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(
            authenticator=authenticate, auth_required=True, auth_require_tls=tls_dir is not None
        )
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, cert)
    finally:
        controller.stop()
