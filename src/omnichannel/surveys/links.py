"""Signed survey links: ``<public_base_url>/s/<token>``, one per invitation.

A token is ``<payload>.<signature>`` as the tracking links' (``channels/tracking.py``):
the payload is the invitation id as base64url JSON, the signature HMAC-SHA256 over a
survey-only prefix and the payload with the installation's tracking secret, cut to 16
bytes. So a link cannot be forged, nor turned into another person's (the invitation
names the person), nor passed off as a click or unsubscribe link (another prefix).

The answer form carries ``form_token(token)``, the same secret over another prefix: a
page on another site cannot post answers for a link it never loaded (it cannot read our
page), which is what CSRF protection means for a page without a sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from omnichannel.channels.tracking import InvalidLinkError, load_secret

if TYPE_CHECKING:
    from omnichannel.platform import Platform

PATH = "/s/"
_SIGNATURE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SurveyLinks:
    """Makes and reads one installation's survey links."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        if not secret:
            raise ValueError("the tracking secret is empty")
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    @classmethod
    def of(cls, platform: Platform) -> SurveyLinks:
        config = platform.messages.config
        return cls(
            load_secret(platform.settings.home, config.tracking_secret), config.public_base_url
        )

    def _mac(self, prefix: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{prefix}.{payload}".encode("ascii"), hashlib.sha256)
        return _b64(mac.digest()[:_SIGNATURE_BYTES])

    def token(self, invitation_id: int) -> str:
        payload = _b64(json.dumps(["survey", int(invitation_id)]).encode("ascii"))
        return f"{payload}.{self._mac('survey', payload)}"

    def url(self, invitation_id: int) -> str:
        return f"{self.base_url}{PATH}{self.token(invitation_id)}"

    def read(self, token: str) -> int:
        """The invitation id of a token; InvalidLinkError (404) when it is not ours."""
        payload, _, signature = token.partition(".")
        if not payload or not signature or not token.isascii():
            raise InvalidLinkError("this survey link is not valid (malformed token)")
        if not hmac.compare_digest(signature, self._mac("survey", payload)):
            raise InvalidLinkError("this survey link is not valid (signature does not match)")
        try:
            body = json.loads(_unb64(payload))
            if body[0] != "survey":
                raise ValueError(body[0])
            return int(body[1])
        except (ValueError, TypeError, IndexError):
            raise InvalidLinkError("this survey link is not valid (unreadable)") from None

    def form_token(self, token: str) -> str:
        """The hidden field the answer form posts back (see the module docstring)."""
        return self._mac("survey-form", token.split(".", 1)[0])

    def check_form(self, token: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.form_token(token))
