"""Admin tokens: the bearer secrets the management and profile routes require.

Only a SHA-256 digest of each token is stored, in the operational store beside the write
keys (so a PostgreSQL-backed installation shares them between servers, and backups and
migrations cover them); the token itself is shown once. It carries 256 random bits, so
an unsalted fast hash is enough: nothing is cheaper to guess than the token itself.

Example::

    with store.session() as session:
        token = rotate_admin_token(session, actor="cli")   # revokes the previous ones
    # hand ``token`` to the operator now; it cannot be shown again
    with store.session() as session:
        valid = find_admin_token(session, token) is not None
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnichannel.opstore.audit import record
from omnichannel.opstore.models import AdminToken, utcnow

TOKEN_PREFIX = "omni_admin_"
DISPLAY_PREFIX_LENGTH = 15


def hash_token(token: str) -> str:
    """The digest stored for ``token`` (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_admin_token(session: Session, *, actor: str) -> str:
    """A new active token (others stay active); returns the plain token, shown once."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AdminToken(
        token_hash=hash_token(plain), prefix=plain[:DISPLAY_PREFIX_LENGTH], created_at=utcnow()
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=actor,
        action="admin_token.create",
        object_type="admin_token",
        object_id=token.id,
        details={"prefix": token.prefix},
    )
    return plain


def active_admin_tokens(session: Session) -> list[AdminToken]:
    return list(session.scalars(select(AdminToken).where(AdminToken.revoked_at.is_(None))))


def rotate_admin_token(session: Session, *, actor: str) -> str:
    """Revoke every active token and create one; returns the new plain token."""
    for token in active_admin_tokens(session):
        token.revoked_at = utcnow()
        record(
            session,
            actor=actor,
            action="admin_token.revoke",
            object_type="admin_token",
            object_id=token.id,
            details={"prefix": token.prefix},
        )
    return create_admin_token(session, actor=actor)


def find_admin_token(session: Session, token: str) -> AdminToken | None:
    """The active token matching ``token``; None if unknown, revoked or malformed."""
    if not token.startswith(TOKEN_PREFIX) or not token.isascii():
        return None
    digest = hash_token(token)
    found = session.scalars(
        select(AdminToken).where(AdminToken.token_hash == digest, AdminToken.revoked_at.is_(None))
    ).one_or_none()
    # The lookup is by digest; compare in constant time anyway, so no timing says how close.
    if found is None or not secrets.compare_digest(found.token_hash, digest):
        return None
    return found


def revoke_admin_token(session: Session, token: str, *, actor: str) -> bool:
    """Revoke one active token (e.g. a server's local one at shutdown); False if unknown."""
    found = find_admin_token(session, token)
    if found is None:
        return False
    found.revoked_at = utcnow()
    record(
        session,
        actor=actor,
        action="admin_token.revoke",
        object_type="admin_token",
        object_id=found.id,
        details={"prefix": found.prefix},
    )
    return True
