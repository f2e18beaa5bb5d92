"""Admin tokens on the HTTP API: management and profile routes need ``Authorization: Bearer``.

Until users and roles arrive, an active admin token (``omni init`` prints the first one,
``omni admin token`` replaces it) is what separates an operator from anyone who can reach
the port: write keys are public by design (they ship inside web pages and apps), and
the Profile API returns personal data.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from omnichannel.opstore import OpStore
from omnichannel.opstore.admin_tokens import find_admin_token, hash_token

_bearer = HTTPBearer(
    auto_error=False,
    description="An admin token: printed once by `omni init`, replaced by `omni admin token`.",
)


class AdminTokens:
    """Token -> valid, cached for ``ttl`` seconds (by digest) so requests skip the database.

    A token replaced by ``omni admin token`` in another process stops working within
    ``ttl`` seconds (``OMNI_WRITE_KEY_CACHE_SECONDS``, the same trust window as write keys).
    """

    def __init__(self, store: OpStore, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def valid(self, token: str) -> bool:
        digest = hash_token(token) if token.isascii() else ""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.store.session() as session:
            ok = find_admin_token(session, token) is not None
        with self._lock:
            if len(self._cache) > 10_000:  # wrong guesses must not grow memory without bound
                self._cache.clear()
            self._cache[digest] = (ok, now + self.ttl)
        return ok


def _refuse(value: str, message: str) -> HTTPException:
    return HTTPException(
        401,
        {"field": "Authorization", "value": value, "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with an active admin token."""
    if credentials is None:
        header = request.headers.get("authorization")
        shown = "(missing)" if header is None else f"{header.partition(' ')[0]} ..."
        raise _refuse(
            shown,
            f"Authorization={shown} is not accepted: expected `Bearer <admin token>` (the "
            "token `omni init` printed; `omni admin token` makes a new one)",
        )
    tokens: AdminTokens = request.app.state.services.admin_tokens()
    if not tokens.valid(credentials.credentials):
        shown = f"Bearer {credentials.credentials[:15]}..."
        raise _refuse(
            shown,
            f"Authorization={shown} is not accepted: expected an active admin token "
            "(it may have been replaced by `omni admin token`)",
        )


AdminDep = Depends(require_admin)
