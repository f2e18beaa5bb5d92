"""``platform.users``: accounts, roles, passwords and API tokens, every change audited.

Example::

    with Platform.open("omni-home") as platform:
        made = platform.users.create("li@shop.example", role="approver", actor="cli:ana")
        made["password"]          # a one-time password: li changes it at first sign-in
        platform.users.set_role("li@shop.example", "viewer", actor="cli:ana")
        token = platform.users.create_token("li@shop.example", name="reports", role="viewer",
                                            actor="cli:ana")["token"]   # shown once
        platform.users.disable("li@shop.example", actor="cli:ana")    # sessions and tokens stop
"""

from __future__ import annotations

import builtins
import functools
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnichannel.access import passwords
from omnichannel.access.audit import record
from omnichannel.access.permissions import check_role, narrower_or_equal
from omnichannel.access.principal import Principal
from omnichannel.access.ratelimit import Lockout, LoginLimiter
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.admin_tokens import hash_token
from omnichannel.opstore.models import ApiToken, User, UserRole, WebSession, utcnow

if TYPE_CHECKING:
    from omnichannel.platform import Platform

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
TOKEN_PREFIX = "omni_tok_"
DISPLAY_PREFIX_LENGTH = 13
FIRST_ADMIN = "admin@localhost"


class LoginRefused(Exception):
    """Wrong email or password, or a disabled account (one message: no account probing)."""


def check_email(email: object) -> str:
    if not isinstance(email, str) or not EMAIL.match(email.strip()) or len(email) > 320:
        raise ValidationError("email", email, "an email address such as li@shop.example")
    return email.strip().lower()


def one_time_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def public_user(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "role": UserRole(user.role).value,
        "active": bool(user.active),
        "must_change_password": bool(user.must_change_password),
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def public_token(token: ApiToken, email: str) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": email,
        "name": token.name,
        "prefix": token.prefix,
        "role": UserRole(token.role).value,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _user(session: Session, email: str, *, lock: bool = False) -> User:
    query = select(User).where(User.email == check_email(email))
    if lock:
        query = query.with_for_update()
    found = session.scalars(query).first()
    if found is None:
        raise NotFoundError(f"no user with email {email!r} (see `omni users list`)")
    return found


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == UserRole.ADMIN, User.active.is_(True))
        )
        or 0
    )


def _end_sessions(session: Session, user: User) -> None:
    now = utcnow()
    for row in session.scalars(
        select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ):
        row.ended_at = now


class UsersCapability:
    """Users of one installation (the opstore's ``users``, ``api_tokens``, ``web_sessions``)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def _store(self) -> Any:
        return self._platform.opstore

    # --- accounts ----------------------------------------------------------------------

    def create(
        self,
        email: str,
        *,
        role: str,
        actor: str,
        name: str = "",
        password: str | None = None,
    ) -> dict[str, Any]:
        """A new active user. Without ``password`` a one-time one is made and returned
        (``password`` in the answer, shown once) and must be changed at first sign-in."""
        address = check_email(email)
        check_role(role)
        given = password is not None
        plain = passwords.check_password(password) if password is not None else one_time_password()
        with self._store.session() as session:
            if session.scalars(select(User.id).where(User.email == address)).first():
                raise ConflictError(f"a user with email {address!r} exists already")
            user = User(
                email=address,
                name=name,
                role=UserRole(role),
                password_hash=passwords.hasher().hash(plain),
                active=True,
                must_change_password=not given,
                password_changed_at=utcnow(),
            )
            session.add(user)
            session.flush()
            after = public_user(user)
            record(session, actor, "user.create", f"user:{address}", None, after)
        return {**after, **({} if given else {"password": plain})}

    def ensure_first_admin(self, *, email: str = FIRST_ADMIN, actor: str) -> dict[str, Any] | None:
        """With no users yet, an admin with a one-time password (returned); else None."""
        with self._store.session() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return None
        return self.create(email, role="admin", actor=actor, name="First administrator")

    def list(self, *, include_disabled: bool = True) -> builtins.list[dict[str, Any]]:
        with self._store.session() as session:
            query = select(User).order_by(User.email)
            if not include_disabled:
                query = query.where(User.active.is_(True))
            return [public_user(u) for u in session.scalars(query)]

    def show(self, email: str) -> dict[str, Any]:
        with self._store.session() as session:
            return public_user(_user(session, email))

    def exist(self) -> bool:
        """Are there any users? (Before the first, only admin tokens reach the API.)"""
        with self._store.session() as session:
            return bool(session.scalar(select(func.count()).select_from(User)))

    def set_role(self, email: str, role: str, *, actor: str) -> dict[str, Any]:
        check_role(role)
        return self._change(email, actor, "user.role", lambda user: setattr(user, "role", role))

    def disable(self, email: str, *, actor: str) -> dict[str, Any]:
        """No more sign-ins; open sessions end and API tokens stop working at once."""
        return self._change(
            email, actor, "user.disable", lambda user: setattr(user, "active", False)
        )

    def enable(self, email: str, *, actor: str) -> dict[str, Any]:
        return self._change(email, actor, "user.enable", lambda user: setattr(user, "active", True))

    def set_password(
        self, email: str, *, actor: str, password: str | None = None
    ) -> dict[str, Any]:
        """An admin's reset: without ``password`` a one-time one (returned, shown once)."""
        plain = passwords.check_password(password) if password is not None else one_time_password()

        def apply(user: User) -> None:
            user.password_hash = passwords.hasher().hash(plain)
            user.must_change_password = password is None
            user.password_changed_at = utcnow()

        after = self._change(email, actor, "user.password", apply, end_sessions=True)
        return {**after, **({} if password is not None else {"password": plain})}

    def change_password(self, email: str, *, old: str, new: str) -> dict[str, Any]:
        """The user's own change (at first sign-in, or later): needs the current password."""
        passwords.check_password(new, field="new_password")
        if new == old:
            raise ValidationError("new_password", "(same)", "a password other than the current one")
        with self._store.session() as session:
            user = _user(session, email, lock=True)
            ok, _ = passwords.verify_password(user.password_hash, old)
            if not ok:
                raise ValidationError("password", "(wrong)", "the current password")
            before = public_user(user)
            user.password_hash = passwords.hasher().hash(new)
            user.must_change_password = False
            user.password_changed_at = utcnow()
            after = public_user(user)
            record(session, user.email, "user.password", f"user:{user.email}", before, after)
            return after

    def _change(
        self, email: str, actor: str, action: str, apply: Any, *, end_sessions: bool = False
    ) -> dict[str, Any]:
        with self._store.session() as session:
            user = _user(session, email, lock=True)
            before = public_user(user)
            was_admin = before["role"] == "admin" and before["active"]
            apply(user)
            session.flush()
            still_admin = user.role == UserRole.ADMIN and user.active
            if was_admin and not still_admin and _active_admins(session) == 0:
                raise ConflictError(
                    f"{user.email} is the last active admin: make another user admin first "
                    "(`omni users role OTHER admin`)"
                )
            if end_sessions or not user.active:
                _end_sessions(session, user)
            after = public_user(user)
            if after != before:
                record(session, actor, action, f"user:{user.email}", before, after)
            return after

    # --- signing in ----------------------------------------------------------------------

    @functools.cached_property
    def limiter(self) -> LoginLimiter:
        """This process's sign-in limits (``access/ratelimit.py``)."""
        return LoginLimiter()

    def authenticate(self, email: str, password: str, *, client: str | None = None) -> Principal:
        """The user's principal if ``password`` is theirs and the account is active; the
        hash is replaced when the hasher's parameters changed since it was made.

        Failed sign-ins are limited per account and per ``client`` address (the caller's
        IP) before any hash is computed: ``LoginLocked`` while either is locked out,
        ``LoginBusy`` when too many checks already run (see ``access/ratelimit.py``)."""
        account = email.strip().lower()[:320]
        address = client or "local"
        self.limiter.check(account, address)
        try:
            with self.limiter.turn():
                principal = self._verify(email, password)
        except LoginRefused:
            lockouts = self.limiter.failed(account, address)
            if lockouts:
                self._audit_lockouts(lockouts, account, address)
            raise
        self.limiter.succeeded(account)
        return principal

    def _audit_lockouts(self, lockouts: builtins.list[Lockout], account: str, address: str) -> None:
        with self._store.session() as session:
            for lockout in lockouts:
                target = f"user:{account}" if lockout.scope == "account" else f"client:{address}"
                record(
                    session,
                    f"client:{address}",
                    "login.lockout",
                    target,
                    details={
                        "scope": lockout.scope,
                        "email": account,
                        "address": address,
                        "failures": lockout.failures,
                        "seconds": int(lockout.seconds),
                    },
                )

    def _verify(self, email: str, password: str) -> Principal:
        try:
            address = check_email(email)
        except ValidationError:
            raise LoginRefused() from None
        with self._store.session() as session:
            user = session.scalars(select(User).where(User.email == address)).first()
            if user is None:
                passwords.verify_password(_dummy_hash(), password)  # same time as a real check
                raise LoginRefused()
            ok, rehashed = passwords.verify_password(user.password_hash, password)
            if not ok or not user.active:
                raise LoginRefused()
            if rehashed is not None:
                user.password_hash = rehashed
            user.last_login_at = utcnow()
            return _principal(user, kind="session")

    # --- API tokens ----------------------------------------------------------------------

    def create_token(
        self,
        email: str,
        *,
        name: str,
        actor: str,
        role: str | None = None,
        expires_days: int | None = None,
    ) -> dict[str, Any]:
        """A bearer token for programs acting as this user, with ``role`` (default the
        user's own; never wider). The plain token is in the answer, shown once."""
        if not name or len(name) > 100:
            raise ValidationError("name", name, "a name of 1 to 100 characters, e.g. reports")
        if expires_days is not None and not 1 <= expires_days <= 3650:
            raise ValidationError("expires_days", expires_days, "a number of days from 1 to 3650")
        with self._store.session() as session:
            user = _user(session, email)
            scope = check_role(role) if role is not None else UserRole(user.role).value
            if not narrower_or_equal(scope, UserRole(user.role).value):
                raise ValidationError(
                    "role", scope, f"a role no wider than {user.email}'s own ({user.role})"
                )
            plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
            token = ApiToken(
                user_id=user.id,
                name=name,
                token_hash=hash_token(plain),
                prefix=plain[:DISPLAY_PREFIX_LENGTH],
                role=UserRole(scope),
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
            )
            session.add(token)
            session.flush()
            after = public_token(token, user.email)
            record(session, actor, "token.create", f"api_token:{token.id}", None, after)
            return {**after, "token": plain}

    def list_tokens(self, email: str | None = None) -> builtins.list[dict[str, Any]]:
        with self._store.session() as session:
            query = select(ApiToken, User.email).join(User, User.id == ApiToken.user_id)
            if email is not None:
                query = query.where(User.email == check_email(email))
            rows = session.execute(query.order_by(ApiToken.id)).all()
            return [public_token(token, address) for token, address in rows]

    def revoke_token(
        self, token_id: int, *, actor: str, owner: str | None = None
    ) -> dict[str, Any]:
        """Revoke one token by id (``owner``: only if it is that user's, for self-service)."""
        with self._store.session() as session:
            row = session.execute(
                select(ApiToken, User.email)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id)
            ).first()
            if row is None or (owner is not None and row[1] != owner):
                raise NotFoundError(
                    f"no API token with id {token_id} (see `omni users token list`)"
                )
            token, address = row
            before = public_token(token, address)
            if token.revoked_at is None:
                token.revoked_at = utcnow()
                record(
                    session,
                    actor,
                    "token.revoke",
                    f"api_token:{token.id}",
                    before,
                    public_token(token, address),
                )
            return public_token(token, address)

    def principal_for_token(self, plain: str) -> Principal | None:
        """The principal an API token acts as; None if unknown, revoked, expired or its
        user is disabled."""
        if not plain.startswith(TOKEN_PREFIX) or not plain.isascii():
            return None
        digest = hash_token(plain)
        now = utcnow()
        with self._store.session() as session:
            row = session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            ).first()
            if row is None or not secrets.compare_digest(row[0].token_hash, digest):
                return None
            token, user = row
            if not user.active or (token.expires_at is not None and token.expires_at <= now):
                return None
            token.last_used_at = now
            return Principal(
                actor=user.email,
                role=UserRole(token.role).value,
                kind="api_token",
                user_id=user.id,
                email=user.email,
            )


def _principal(user: User, *, kind: str) -> Principal:
    return Principal(
        actor=user.email,
        role=UserRole(user.role).value,
        kind=kind,
        user_id=user.id,
        email=user.email,
        must_change_password=bool(user.must_change_password),
    )


def principal_of_user(session: Session, user_id: int, *, kind: str) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return _principal(user, kind=kind)


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown: a wrong email costs what a wrong password does.
    return passwords.hasher().hash("not the password of anyone here")
