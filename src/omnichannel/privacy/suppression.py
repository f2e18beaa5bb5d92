"""The suppression list of erased people: keyed hashes of their identifiers.

An erased person must not come back because their phone's app sends one more event. On
erasure every identifier they held (email, phone, user id, anonymous ids...) is hashed
with the installation's privacy key (HMAC-SHA256 of ``type:value``) into
``erased_identifiers``; the collector **drops** every call whose ``userId``,
``anonymousId``, ``previousId`` or traits' email or phone hashes to one of them, before
it is logged, so nothing of theirs is written anywhere. The hashes cannot be reversed
without the key (``<home>/privacy.key`` or ``OMNI_PRIVACY_KEY``), and the list never
holds an identifier in clear.

Example::

    erased = ErasedIdentifiers(store, key)
    erased.add([("email", "ann@x.com")], request_id=3)
    erased.drop_erased([{"user_id": "u1", "anonymous_id": "a1", "traits": "{}"}])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import ErasedIdentifier, utcnow
from omnichannel.privacy.secrets import secret_bytes

KEY_FILE = "privacy.key"
KEY_VARIABLE = "OMNI_PRIVACY_KEY"
# How long another process's erasure may take to reach this collector.
REFRESH_SECONDS = 10.0
_CALL_IDS = ("user_id", "anonymous_id", "previous_id")
_TRAIT_IDS = ("email", "phone")


def privacy_key(home: Path) -> bytes:
    return secret_bytes(KEY_VARIABLE, home / KEY_FILE)


def identifier_hash(key: bytes, id_type: str, id_value: str) -> str:
    message = f"{id_type.strip().lower()}:{id_value.strip()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class ErasedIdentifiers:
    """The list, cached in memory and re-read every ``REFRESH_SECONDS``."""

    def __init__(self, store: OpStore, key: bytes) -> None:
        self.store = store
        self.key = key
        self._hashes: frozenset[str] = frozenset()
        self._loaded = 0.0
        self._lock = threading.Lock()
        self.dropped = 0

    def hashes(self) -> frozenset[str]:
        if time.monotonic() - self._loaded > REFRESH_SECONDS:
            with self._lock, self.store.session() as session:
                self._hashes = frozenset(session.scalars(select(ErasedIdentifier.identifier_hash)))
                self._loaded = time.monotonic()
        return self._hashes

    def add(self, identifiers: Iterable[tuple[str, str]], *, request_id: int | None) -> int:
        """Put the hashes of ``identifiers`` on the list; returns how many were new."""
        rows = [
            {"identifier_hash": h, "request_id": request_id, "erased_at": utcnow()}
            for h in sorted({identifier_hash(self.key, t, v) for t, v in identifiers if v})
        ]
        if not rows:
            return 0
        with self.store.session() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            before = len(self.hashes_now(session))
            session.execute(insert(ErasedIdentifier).values(rows).on_conflict_do_nothing())
            after = len(self.hashes_now(session))
        self._loaded = 0.0  # this process sees its own erasure at once
        return after - before

    @staticmethod
    def hashes_now(session: Any) -> list[str]:
        return list(session.scalars(select(ErasedIdentifier.identifier_hash)))

    def is_erased(self, id_type: str, id_value: str) -> bool:
        hashes = self.hashes()
        return bool(hashes) and identifier_hash(self.key, id_type, id_value) in hashes

    def drop_erased(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` (parsed calls) without those naming an erased person."""
        hashes = self.hashes()
        if not hashes:
            return rows
        kept = [row for row in rows if not self._names_erased(row, hashes)]
        self.dropped += len(rows) - len(kept)
        return kept

    def _names_erased(self, row: dict[str, Any], hashes: frozenset[str]) -> bool:
        for column in _CALL_IDS:
            value = row.get(column)
            if value and identifier_hash(self.key, column, str(value)) in hashes:
                return True
        traits = row.get("traits")
        if isinstance(traits, str) and traits not in ("", "{}", "null"):
            try:
                parsed = json.loads(traits)
            except ValueError:
                return False
            if isinstance(parsed, dict):
                for name in _TRAIT_IDS:
                    value = parsed.get(name)
                    if isinstance(value, str) and value:
                        value = value.strip().lower() if name == "email" else value.strip()
                        if identifier_hash(self.key, name, value) in hashes:
                            return True
        return False
