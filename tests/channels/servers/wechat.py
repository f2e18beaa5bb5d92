"""A stand-in for the WeChat official-account API: cgi-bin/token and message/template/send.

Answers as WeChat does: HTTP 200 with ``{"errcode", "errmsg"}`` for every error, 40013
for a wrong app id, 40125 for a wrong secret, 40001 for a token it did not issue (or
revoked), 43004 for an openid in ``not_following``, 40003 for an openid it does not
know of the account (``invalid``), 40037 for an unknown template, 45009 while ``quota``
is spent; a repeated ``client_msg_id`` is not delivered twice.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.channels.servers.http_standin import Answer, Request, StandIn

APP_ID = "wx0123456789abcdef"
APP_SECRET = "wechat-test-secret"
TEMPLATE = "TPL-order-shipped"


def _code(code: int, message: str, **extra: Any) -> Answer:
    return Answer.of_json(200, {"errcode": code, "errmsg": message, **extra})


class WechatStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.issued: set[str] = set()
        self.templates = {TEMPLATE}
        self.not_following: set[str] = set()
        self.invalid: set[str] = set()
        self.quota_spent = False
        self.busy = 0
        self.messages: list[dict[str, Any]] = []
        self._seen_client_ids: set[str] = set()
        self._ids = itertools.count(200228332)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.issued.clear()

    def handle(self, request: Request) -> Answer:
        if request.path == "/cgi-bin/token" and request.method == "GET":
            return self._token(request.query)
        if request.path == "/cgi-bin/message/template/send" and request.method == "POST":
            return self._send(request)
        return Answer(404, b"<html>404 Not Found</html>")

    def _token(self, query: dict[str, str]) -> Answer:
        if query.get("grant_type") != "client_credential":
            return _code(40002, "invalid grant_type")
        if query.get("appid") != APP_ID:
            return _code(40013, "invalid appid")
        if query.get("secret") != APP_SECRET:
            return _code(40125, "invalid appsecret")
        token = f"ACCESS_TOKEN_{next(self._ids)}"
        with self._lock:
            self.issued.add(token)
        return Answer.of_json(200, {"access_token": token, "expires_in": 7200})

    def _send(self, request: Request) -> Answer:
        with self._lock:
            known = request.query.get("access_token") in self.issued
        if not known:
            return _code(40001, "invalid credential, access_token is invalid or not latest")
        if self.busy > 0:
            self.busy -= 1
            return _code(-1, "system error")
        if self.quota_spent:
            return _code(45009, "reach max api daily quota limit")
        body = json.loads(request.body)
        openid = body.get("touser", "")
        if openid in self.invalid:
            return _code(40003, "invalid openid")
        if openid in self.not_following:
            return _code(43004, "require subscribe")
        if body.get("template_id") not in self.templates:
            return _code(40037, "invalid template_id")
        client_id = body.get("client_msg_id")
        with self._lock:
            if client_id and client_id in self._seen_client_ids:
                return _code(0, "ok", msgid=0)  # a repeat: not delivered again
            if client_id:
                self._seen_client_ids.add(client_id)
            self.messages.append(body)
        return _code(0, "ok", msgid=next(self._ids))


def encrypt_message(
    encoding_aes_key: str, app_id: str, xml: str, random16: bytes = b"r" * 16
) -> str:
    """What WeChat puts in ``<Encrypt>`` in safe mode (the inverse of the adapter's reading)."""
    import base64

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(encoding_aes_key + "=")
    message = xml.encode()
    plain = random16 + len(message).to_bytes(4, "big") + message + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
