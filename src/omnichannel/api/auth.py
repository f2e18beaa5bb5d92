"""Bearer tokens on the HTTP API: admin tokens, and the admins-only gate ``AdminDep``.

An active admin token (``omni init`` prints the first one, ``omni admin token`` replaces
it, ``omni serve`` makes a local one for the CLI) authenticates as the admin role; users'
API tokens and web sessions authenticate as their user's role. Which role may call which
route is ``omnichannel.access``: routers are mounted with ``guard(resource)`` or
``require(permission)`` (``access/api.py``). ``AdminDep`` is kept for routers that have no
finer gate yet: it lets only admins through (permission ``admin:all``).
"""

from __future__ import annotations

import threading
import time

from omnichannel.access.api import require
from omnichannel.opstore import OpStore
from omnichannel.opstore.admin_tokens import find_admin_token, hash_token


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

    def peek(self, token: str) -> bool:
        """True when the token was found valid within ``ttl`` seconds; never reads the store."""
        digest = hash_token(token) if token.isascii() else ""
        with self._lock:
            cached = self._cache.get(digest)
        return cached is not None and cached[0] and cached[1] > time.monotonic()

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


AdminDep = require("admin:all")
