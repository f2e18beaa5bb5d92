"""Passwords: Argon2id hashes (argon2-cffi), rehashed at login when the parameters change.

Example::

    stored = hash_password("correct horse battery staple")
    ok, new = verify_password(stored, "correct horse battery staple")
    # ok is True; new is a fresh hash to store when the hasher's parameters changed
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from omnichannel.errors import ValidationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # Argon2 hashes any length; a bound keeps a login request cheap to refuse

# argon2-cffi's defaults (RFC 9106's low-memory profile: t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


def hasher() -> PasswordHasher:
    """The hasher in use (tests swap in cheaper parameters with ``use_hasher``)."""
    return _hasher


def use_hasher(new: PasswordHasher) -> PasswordHasher:
    """Hash with ``new`` from now on; returns the previous hasher. Stored hashes made with
    other parameters still verify, and are rehashed at the user's next login."""
    global _hasher
    previous, _hasher = _hasher, new
    return previous


def check_password(password: str, *, field: str = "password") -> str:
    """``password`` if it is long enough to be worth hashing; a ValidationError if not."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        shown = "(too short)" if isinstance(password, str) else type(password).__name__
        raise ValidationError(field, shown, f"a password of at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationError(field, "(too long)", f"at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (salted, parameters encoded in it)."""
    return _hasher.hash(check_password(password))


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash to store or None). A missing or malformed hash never matches."""
    if not stored or not isinstance(password, str) or len(password) > MAX_LENGTH:
        return False, None
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if _hasher.check_needs_rehash(stored):
        return True, _hasher.hash(password)
    return True, None
