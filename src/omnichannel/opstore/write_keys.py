"""Write keys: the secrets the Segment-compatible collector authenticates sources by.

Only a SHA-256 digest of each key is stored; the key is returned once, at creation.
A key carries 192 random bits, so an unsalted fast hash is enough: there is nothing to
brute-force that is cheaper than guessing the key itself.

Example::

    with store.session() as session:
        key, secret = create_write_key(session, source=web, actor="cli")
    # hand ``secret`` to the engineer now; it cannot be shown again
    with store.session() as session:
        found = find_write_key(session, secret)   # None if unknown or revoked
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from omnichannel.opstore.audit import record
from omnichannel.opstore.models import Source, WriteKey, utcnow

KEY_PREFIX = "wk_"
# Enough characters to tell keys apart in a list, far too few to guess the rest from.
DISPLAY_PREFIX_LENGTH = 10


def hash_key(key: str) -> str:
    """The digest stored for ``key`` (hex SHA-256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def create_write_key(session: Session, *, source: Source, actor: str) -> tuple[WriteKey, str]:
    """A new key for ``source``; returns the row and the plain key (shown once)."""
    plain = generate_key()
    key = WriteKey(
        source=source,
        key_hash=hash_key(plain),
        prefix=plain[:DISPLAY_PREFIX_LENGTH],
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    record(
        session,
        actor=actor,
        action="write_key.create",
        object_type="write_key",
        object_id=key.id,
        details={"source": source.name, "prefix": key.prefix},
    )
    return key, plain


def find_write_key(session: Session, key: str) -> WriteKey | None:
    """The active key matching ``key``, with its source loaded; None if unknown or revoked."""
    if not key.startswith(KEY_PREFIX) or not key.isascii():
        return None  # keys are ASCII; anything else (a lone surrogate, say) is no key
    query = (
        select(WriteKey)
        .options(joinedload(WriteKey.source))
        .where(WriteKey.key_hash == hash_key(key), WriteKey.revoked_at.is_(None))
    )
    return session.scalars(query).one_or_none()


def revoke_write_key(session: Session, *, key: WriteKey, actor: str) -> WriteKey:
    """Revoke ``key`` from now on; revoking twice keeps the first revocation time."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(
            session,
            actor=actor,
            action="write_key.revoke",
            object_type="write_key",
            object_id=key.id,
            details={"prefix": key.prefix},
        )
    return key
