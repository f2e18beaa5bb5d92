"""Web sessions: a random cookie secret (its digest stored), a CSRF token, an expiry.

A session ends at logout, after ``OMNI_SESSION_IDLE_MINUTES`` unused, after
``OMNI_SESSION_HOURS`` in all, and when its user is disabled or their password reset.

Example::

    cookie, csrf = start(store, principal, settings)
    found = find(store, cookie, settings)      # (principal, csrf) or None
    end(store, cookie)
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from omnichannel.access.principal import Principal
from omnichannel.access.users import principal_of_user
from omnichannel.opstore.admin_tokens import hash_token
from omnichannel.opstore.models import WebSession, utcnow

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.opstore import OpStore

# last_seen_at is written at most this often: a page's htmx requests do not each write.
TOUCH_EVERY = timedelta(minutes=1)


def start(store: OpStore, principal: Principal, settings: Settings) -> tuple[str, str]:
    """A new session for a signed-in user: (cookie secret, CSRF token)."""
    if principal.user_id is None:
        raise ValueError("only a user signs in to the web pages")
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with store.session() as session:
        session.add(
            WebSession(
                user_id=principal.user_id,
                token_hash=hash_token(cookie),
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.session_hours),
            )
        )
    return cookie, csrf


def find(store: OpStore, cookie: str, settings: Settings) -> tuple[Principal, str] | None:
    """The session's user and CSRF token; None when unknown, ended, expired or idle."""
    if not cookie or not cookie.isascii() or len(cookie) > 100:
        return None
    now = utcnow()
    digest = hash_token(cookie)
    with store.session() as session:
        row = session.scalars(
            select(WebSession).where(WebSession.token_hash == digest, WebSession.ended_at.is_(None))
        ).first()
        if row is None or not secrets.compare_digest(row.token_hash, digest):
            return None
        idle = timedelta(minutes=settings.session_idle_minutes)
        if row.expires_at <= now or row.last_seen_at + idle <= now:
            row.ended_at = now
            return None
        principal = principal_of_user(session, row.user_id, kind="session")
        if principal is None:
            row.ended_at = now
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return principal, row.csrf_token


def end(store: OpStore, cookie: str) -> None:
    """Log out: the session stops working at once."""
    if not cookie or not cookie.isascii():
        return
    with store.session() as session:
        row = session.scalars(
            select(WebSession).where(WebSession.token_hash == hash_token(cookie))
        ).first()
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
