"""Sources and their write keys, as the CLI and the API manage them, and key lookup.

A source is one place events come from (the storefront, the iOS app, a back office);
the collector stamps each event with its source's name, found from the write key.

Example::

    with store.session() as session:
        created = create_source(session, name="web", kind="http", actor="cli")
    created.write_key        # shown once; only its hash is kept
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from omnichannel.errors import ValidationError
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import Source, SourceKind, WriteKey
from omnichannel.opstore.write_keys import create_write_key, find_write_key, revoke_write_key


@dataclass(frozen=True)
class KeyInfo:
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    def public(self) -> dict[str, object]:
        return {
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.revoked_at is None,
        }


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str
    description: str
    created_at: datetime
    keys: tuple[KeyInfo, ...]
    write_key: str | None = None  # only right after creation

    def public(self) -> dict[str, object]:
        data: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "created_at": self.created_at,
            "keys": [k.public() for k in self.keys],
        }
        if self.write_key is not None:
            data["write_key"] = self.write_key
        return data


def _info(source: Source, write_key: str | None = None) -> SourceInfo:
    keys = tuple(
        KeyInfo(k.prefix, k.created_at, k.revoked_at)
        for k in sorted(source.write_keys, key=lambda k: k.id)
    )
    return SourceInfo(
        source.name, source.kind, source.description or "", source.created_at, keys, write_key
    )


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 128 or any(c.isspace() for c in cleaned):
        raise ValidationError("name", name, "1-128 characters without spaces, e.g. web-store")
    return cleaned


def create_source(
    session: Session,
    *,
    name: str,
    kind: str = SourceKind.HTTP.value,
    description: str = "",
    actor: str,
) -> SourceInfo:
    """A new source with its first write key (in ``write_key``, shown only now)."""
    name = _check_name(name)
    if session.scalars(select(Source).where(Source.name == name)).first() is not None:
        raise ValidationError("name", name, "a name no other source has (see `omni sources list`)")
    kinds = [k.value for k in SourceKind]
    if kind not in kinds:
        raise ValidationError("kind", kind, f"one of {', '.join(kinds)}")
    source = Source(name=name, kind=kind, description=description)
    session.add(source)
    session.flush()
    _key, plain = create_write_key(session, source=source, actor=actor)
    session.refresh(source)
    return _info(source, plain)


def add_write_key(session: Session, *, name: str, actor: str) -> SourceInfo:
    """Another key for an existing source (to rotate: add one, deploy it, revoke the old)."""
    source = session.scalars(select(Source).where(Source.name == name)).first()
    if source is None:
        raise ValidationError("source", name, "the name of an existing source")
    _key, plain = create_write_key(session, source=source, actor=actor)
    session.refresh(source)
    return _info(source, plain)


def list_sources(session: Session) -> list[SourceInfo]:
    query = select(Source).options(selectinload(Source.write_keys)).order_by(Source.name)
    return [_info(source) for source in session.scalars(query)]


def revoke(session: Session, *, target: str, actor: str) -> list[str]:
    """Revoke every active key of the source named ``target``, or the one key it prefixes.

    Returns the prefixes revoked. A prefix matching several keys is refused rather than
    revoking more than the operator meant.
    """
    source = session.scalars(
        select(Source).options(selectinload(Source.write_keys)).where(Source.name == target)
    ).first()
    if source is not None:
        keys = [k for k in source.write_keys if k.revoked_at is None]
    else:
        matches = list(session.scalars(select(WriteKey).where(WriteKey.revoked_at.is_(None))))
        keys = [k for k in matches if target.startswith(k.prefix) or k.prefix.startswith(target)]
        if not target or len(keys) > 1:
            raise ValidationError(
                "target",
                target,
                "a source name or a key prefix matching exactly one active key "
                f"({len(keys)} match)",
            )
        if not keys:
            raise ValidationError(
                "target", target, "a source name or the prefix of an active write key"
            )
    for key in keys:
        revoke_write_key(session, key=key, actor=actor)
    return [k.prefix for k in keys]


class KeyResolver:
    """Write key -> source name, cached for ``ttl`` seconds so requests skip the database.

    A revocation made in this process is seen at once (``forget``); one made by another
    process (``omni sources revoke``) is seen within ``ttl`` seconds.
    """

    def __init__(self, store: OpStore, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def source_of(self, key: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.store.session() as session:
            found = find_write_key(session, key)
            name = found.source.name if found is not None else None
        with self._lock:
            if len(self._cache) > 10_000:  # unknown keys must not grow memory without bound
                self._cache.clear()
            self._cache[key] = (name, now + self.ttl)
        return name

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
