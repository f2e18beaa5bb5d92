"""A stand-in for FCM HTTP v1 and Google's OAuth2 token endpoint, with FCM's error bodies.

``POST /token`` verifies the service account's JWT (RS256 against the account's public
key, the firebase.messaging scope, this endpoint as audience) and hands out an access
token; ``POST /v1/projects/{project}/messages:send`` accepts a message only with a token
it handed out and not revoked, and answers as FCM does: ``{"name": ...}``, or
``{"error": {"code", "message", "status", "details": [{"errorCode": ...}]}}``.
"""

from __future__ import annotations

import itertools
import json
import re
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.channels.servers.http_standin import Answer, Request, StandIn

PROJECT = "omni-test"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@lru_cache(maxsize=1)
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(token_uri: str) -> dict[str, str]:
    """A service account key as Google's console downloads it, pointing at ``token_uri``."""
    pem = _key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "key-1",
        "private_key": pem.decode(),
        "client_email": f"omni@{PROJECT}.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


def _error(status: int, word: str, message: str, code: str | None = None, **headers: str) -> Answer:
    details: list[dict[str, Any]] = []
    if code:
        details.append({"@type": FCM_ERROR, "errorCode": code})
    if word == "INVALID_ARGUMENT" and "token" in message:
        details.append(
            {
                "@type": BAD_REQUEST,
                "fieldViolations": [{"field": "message.token", "description": message}],
            }
        )
    body = {"error": {"code": status, "message": message, "status": word, "details": details}}
    return Answer.of_json(status, body, **headers)


class FcmStandIn(StandIn):
    def __init__(self, project: str = PROJECT) -> None:
        super().__init__()
        self.project = project
        self.issued: set[str] = set()
        self.expires_in = 3599
        # Service accounts allowed to get tokens (None: any correctly signed one).
        self.known_accounts: set[str] | None = None
        self.unregistered: set[str] = set()
        self.other_project: set[str] = set()
        self.unavailable = 0  # answer this many sends with 503 first
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def revoke_tokens(self) -> None:
        """Every access token handed out stops working (as when one expires early)."""
        with self._lock:
            self.issued.clear()

    def handle(self, request: Request) -> Answer:
        if request.path == "/token":
            return self._token(request)
        if request.path == f"/v1/projects/{self.project}/messages:send":
            return self._send(request)
        return _error(404, "NOT_FOUND", f"{request.path} not found")

    def _token(self, request: Request) -> Answer:
        form = request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Answer.of_json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                _key().public_key(),
                algorithms=["RS256"],
                audience=self.base_url + "/token",
            )
        except jwt.PyJWTError as exc:
            return Answer.of_json(400, {"error": "invalid_grant", "error_description": str(exc)})
        if self.known_accounts is not None and claims.get("iss") not in self.known_accounts:
            return Answer.of_json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        if claims.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
            return Answer.of_json(400, {"error": "invalid_scope"})
        token = f"ya29.test-{next(self._ids)}"
        with self._lock:
            self.issued.add(token)
        return Answer.of_json(
            200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    def _send(self, request: Request) -> Answer:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            known = bearer in self.issued
        if not known:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(
                503,
                "UNAVAILABLE",
                "The service is unavailable.",
                "UNAVAILABLE",
                **{"Retry-After": "3"},
            )
        if len(request.body) > 4096 + 200:
            return _error(400, "INVALID_ARGUMENT", "Message is too big", "INVALID_ARGUMENT")
        message = json.loads(request.body).get("message", {})
        token = message.get("token", "")
        if not token or " " in token:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        android = message.get("android") or {}
        if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH") or not re.fullmatch(
            r"\d+(\.\d+)?s", android.get("ttl", "0s")
        ):
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid value at 'message.android': {android}",
                "INVALID_ARGUMENT",
            )
        for key, value in (message.get("data") or {}).items():
            if not isinstance(value, str):
                return _error(
                    400,
                    "INVALID_ARGUMENT",
                    f"Invalid value at 'message.data[0].value' ({key}): not a string",
                    "INVALID_ARGUMENT",
                )
        if token in self.unregistered:
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if token in self.other_project:
            return _error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        name = f"projects/{self.project}/messages/0:{next(self._ids)}"
        with self._lock:
            self.messages.append(message)
        return Answer.of_json(200, {"name": name})
