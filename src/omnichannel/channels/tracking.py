"""Signed links in messages: the open pixel, click redirects and the unsubscribe link.

Every channel's messages carry their unsubscribe link (``{{ unsubscribe_url }}``, filled
in by the channel worker with ``fill_unsubscribe`` right before the adapter is called);
email adds the open pixel, the click redirects and ``List-Unsubscribe`` (``personalise``).

Each link carries a token ``<payload>.<signature>``: the payload is the link's kind, the
outbox id of the message and, for a click, the target URL, as base64url JSON; the
signature is HMAC-SHA256 over the kind and the payload with the installation's secret,
cut to 16 bytes. So a link cannot be forged or turned into another kind, and the click
redirect goes only where the message itself linked (no open redirect: the target is
inside the signed token, not a query parameter anyone can change).

Why no library: ``itsdangerous`` would do the same in the same few lines but is not a
dependency here, and these tokens need nothing it adds (no expiry: an unsubscribe link
must keep working for years, RFC 8058 and the mailbox providers ask it).

The secret comes from ``channels.yaml`` (``tracking_secret``) or is generated once into
``<home>/tracking.key`` (mode 0600), so links keep working across restarts.

Example::

    tracking = Tracking(secret, "https://shop.example")
    tracking.click_url(42, "https://shop.example/sale")   # https://shop.example/t/c/eyJ...
    tracking.read(token, "click")                          # Link(kind="click", outbox_id=42, ...)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from omnichannel.channels.render import UNSUBSCRIBE_PLACEHOLDER
from omnichannel.errors import OmniError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

LinkKind = Literal["open", "click", "unsubscribe"]
KEY_FILE = "tracking.key"
_CODES: dict[str, str] = {"open": "o", "click": "c", "unsubscribe": "u"}
_PATHS: dict[str, str] = {"open": "/t/o/", "click": "/t/c/", "unsubscribe": "/unsubscribe/"}
_SIGNATURE_BYTES = 16
# href="..." or href='...' of an <a> tag; the URL is HTML-escaped inside the attribute.
_ANCHOR_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class InvalidLinkError(OmniError):
    """A tracking or unsubscribe token that is not ours, altered, or of another kind (404)."""


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    outbox_id: int
    url: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(home: Path, configured: str | None = None) -> bytes:
    """``configured`` (channels.yaml), else ``<home>/tracking.key``, made on first use."""
    if configured:
        return configured.encode("utf-8")
    path = home / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode("ascii")
    try:
        # O_EXCL: two processes starting at once agree on the first key written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def tracking_for(platform: Platform) -> Tracking:
    """The installation's links: ``public_base_url`` and the secret of channels.yaml (or the
    key file)."""
    config = platform.messages.config
    secret = load_secret(platform.settings.home, config.tracking_secret)
    return Tracking(secret, config.public_base_url)


class Tracking:
    """Makes and reads the signed links of one installation."""

    def __init__(self, secret: bytes | str, base_url: str) -> None:
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not self._secret:
            raise ValueError("the tracking secret is empty")
        self.base_url = base_url.rstrip("/")

    # --- tokens --------------------------------------------------------------------

    def _sign(self, code: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{code}.{payload}".encode("ascii"), hashlib.sha256)
        return _b64(mac.digest()[:_SIGNATURE_BYTES])

    def token(self, kind: LinkKind, outbox_id: int, url: str | None = None) -> str:
        code = _CODES[kind]
        body: list[Any] = [code, int(outbox_id)] + ([url] if url is not None else [])
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(code, payload)}"

    def read(self, token: str, kind: LinkKind) -> Link:
        """The link a token stands for; InvalidLinkError if it is not a valid ``kind`` token."""
        payload, _, signature = token.partition(".")
        code = _CODES[kind]
        if not payload or not signature or not token.isascii():
            raise InvalidLinkError(f"this {kind} link is not valid (malformed token)")
        if not hmac.compare_digest(signature, self._sign(code, payload)):
            raise InvalidLinkError(f"this {kind} link is not valid (signature does not match)")
        try:
            body = json.loads(_unb64(payload))
            outbox_id = int(body[1])
            url = str(body[2]) if len(body) > 2 else None
        except (ValueError, TypeError, IndexError):
            raise InvalidLinkError(f"this {kind} link is not valid (unreadable)") from None
        if body[0] != code:
            raise InvalidLinkError(f"this {kind} link is not valid (a link of another kind)")
        return Link(kind, outbox_id, url)

    # --- URLs ----------------------------------------------------------------------

    def url(self, kind: LinkKind, outbox_id: int, target: str | None = None) -> str:
        return f"{self.base_url}{_PATHS[kind]}{self.token(kind, outbox_id, target)}"

    def open_url(self, outbox_id: int) -> str:
        return self.url("open", outbox_id)

    def click_url(self, outbox_id: int, target: str) -> str:
        return self.url("click", outbox_id, target)

    def unsubscribe_url(self, outbox_id: int) -> str:
        return self.url("unsubscribe", outbox_id)

    # --- rewriting a message at send time ------------------------------------------

    def personalise(
        self,
        content: Mapping[str, Any],
        outbox_id: int,
        *,
        track_opens: bool = False,
        track_clicks: bool = False,
        unsubscribe: str | None = None,
    ) -> dict[str, Any]:
        """``content`` with its unsubscribe placeholder replaced by this message's link
        (``unsubscribe``, when made already), and (asked for) its HTML links through the
        click redirect and an open pixel."""
        unsubscribe = unsubscribe or self.unsubscribe_url(outbox_id)
        out = fill_unsubscribe(content, unsubscribe)
        page = out.get("html")
        if isinstance(page, str):
            if track_clicks:
                page = self.rewrite_links(page, outbox_id, keep=(unsubscribe,))
            if track_opens:
                page = self.add_pixel(page, outbox_id)
            out["html"] = page
        return out

    def rewrite_links(self, page: str, outbox_id: int, *, keep: tuple[str, ...] = ()) -> str:
        """Every http(s) ``<a href>`` through the click redirect, except the ``keep`` URLs."""

        def rewrite(match: re.Match[str]) -> str:
            target = html.unescape(match.group(3)).strip()
            if not re.match(r"https?://", target, re.IGNORECASE) or target in keep:
                return match.group(0)
            tracked = html.escape(self.click_url(outbox_id, target), quote=True)
            return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

        return _ANCHOR_HREF.sub(rewrite, page)

    def add_pixel(self, page: str, outbox_id: int) -> str:
        """A 1x1 image at the end of the body; fetching it is the open."""
        pixel = (
            f'<img src="{html.escape(self.open_url(outbox_id))}" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
        ends = list(_BODY_END.finditer(page))
        if ends:
            at = ends[-1].start()
            return page[:at] + pixel + page[at:]
        return page + pixel


def fill_unsubscribe(content: Mapping[str, Any], url: str | None) -> dict[str, Any]:
    """``content`` with every ``{{ unsubscribe_url }}`` (the render placeholder, in any part,
    nested data included) replaced by ``url``, or removed when there is none."""
    return dict(_replace_all(dict(content), UNSUBSCRIBE_PLACEHOLDER, url or ""))


def _replace_all(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_all(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_all(v, old, new) for v in value]
    return value
