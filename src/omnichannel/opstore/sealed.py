"""Columns of the operational store sealed at rest with the installation's keyring.

A column typed ``SealedText("outbox.address")`` or ``SealedJSON("outbox.content")`` is
written as ``pii1:...`` (``privacy/keyring.py``: AES-256-GCM, the field name as
associated data) and read back in clear, by the ORM and by Core statements alike, so
every reader of the outbox, the in-app inbox, the suppression list and the audit log
(channel workers, listings, the API, pages, the CLI) sees clear values without opening
them itself. A value that is not sealed (a row written before sealing, or by a store
opened without a keyring) is read as it is, as the consent ledger does.

The keyring belongs to an installation, the column types to every store, so the store
attaches its keyring to its engine's dialect (``attach``): the one object SQLAlchemy
hands a type's bind and result processors. A store opened without one writes clear
values and refuses, in words, to read sealed ones.

Lookups cannot compare sealed values (each sealing has a fresh nonce): the column
named in ``BLIND_COLUMNS`` holds ``Keyring.blind_index(field, value)``, filled by a
column default from the clear value being inserted, and ``blind(session, field, value)``
gives the value to look up by.

Example::

    store = open_opstore(url, sealer=Keyring.of_home(home))
    with store.session() as s:
        s.scalars(select(InboxMessage).where(
            InboxMessage.user_key == blind(s, "inbox_messages.user_id", "u-42")))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Engine, Text, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from omnichannel.errors import OmniError

if TYPE_CHECKING:
    from sqlalchemy.engine.default import DefaultExecutionContext

    from omnichannel.privacy.keyring import Keyring

# The keyring's own prefix (privacy/keyring.py PREFIX), repeated so that importing the
# models does not import the cryptography package.
_PREFIX = "pii1:"
_ATTRIBUTE = "omnichannel_sealer"

Sealer = Callable[[], "Keyring"]

OUTBOX_ADDRESS = "outbox.address"
INBOX_USER = "inbox_messages.user_id"
SUPPRESSION_ADDRESS = "suppressions.address"
# table -> (blind-index column, the sealed column it indexes, the field it is keyed by)
BLIND_COLUMNS: dict[str, tuple[str, str, str]] = {
    "outbox": ("address_key", "address", OUTBOX_ADDRESS),
    "inbox_messages": ("user_key", "user_id", INBOX_USER),
    "suppressions": ("address_key", "address", SUPPRESSION_ADDRESS),
}


class SealedValueError(OmniError):
    """A sealed column read by a store that has no keyring."""


def attach(engine: Engine, sealer: Sealer | None) -> None:
    """Seal and open this engine's sealed columns with ``sealer()`` (None: clear)."""
    setattr(engine.dialect, _ATTRIBUTE, sealer)


def keyring_of(dialect: Dialect) -> Keyring | None:
    sealer: Sealer | None = getattr(dialect, _ATTRIBUTE, None)
    return sealer() if sealer is not None else None


def session_keyring(session: Session) -> Keyring | None:
    return keyring_of(session.get_bind().dialect)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX)


def open_text(ring: Keyring | None, field: str, value: Any) -> Any:
    """The clear value of a stored one (as it is when it was never sealed)."""
    if not is_sealed(value):
        return value
    if ring is None:
        raise SealedValueError(
            f"{field} is sealed at rest and this operational store was opened without "
            "the installation's keyring: open it through Platform (or pass sealer=)"
        )
    return ring.open(field, value)


def open_json(ring: Keyring | None, field: str, value: Any) -> Any:
    if not is_sealed(value):
        return value
    return json.loads(open_text(ring, field, value))


def seal_json(ring: Keyring, field: str, value: Any) -> Any:
    if not value or is_sealed(value):
        return value  # an empty document says nothing about anyone
    return ring.seal(field, json.dumps(value, ensure_ascii=False, separators=(",", ":")))


class SealedText(TypeDecorator[str]):
    """Text sealed at rest (TEXT: a sealed value is a third longer than the clear one)."""

    impl = Text
    cache_ok = True

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        ring = keyring_of(dialect)
        if ring is None or not value or is_sealed(value):
            return value
        return ring.seal(self.field, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if not is_sealed(value):
            return value
        return open_text(keyring_of(dialect), self.field, value)


class SealedJSON(TypeDecorator[Any]):
    """A JSON document sealed at rest: stored as the JSON string ``"pii1:..."``."""

    impl = JSON
    cache_ok = True

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        ring = keyring_of(dialect)
        return value if ring is None else seal_json(ring, self.field, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_sealed(value):
            return value
        return open_json(keyring_of(dialect), self.field, value)


def blind_default(column: str, field: str) -> Callable[[DefaultExecutionContext], str | None]:
    """A column default: the blind index of ``column``'s clear value in the same INSERT."""

    def default(context: DefaultExecutionContext) -> str | None:
        ring = keyring_of(context.dialect)
        value = context.get_current_parameters().get(column)
        if ring is None or not value or is_sealed(value):
            return None
        return ring.blind_index(field, str(value))

    return default


def unique_key_default(column: str, field: str) -> Callable[[DefaultExecutionContext], str]:
    """A column default for a blind index that a unique constraint holds: the blind index
    of ``column``'s clear value, or that clear value itself in a store without a keyring
    (whose column is clear anyway), so that no row goes without a key."""

    def default(context: DefaultExecutionContext) -> str:
        value = str(context.get_current_parameters().get(column) or "")
        ring = keyring_of(context.dialect)
        return value if ring is None else ring.blind_index(field, value)

    return default


def blind(session: Session, field: str, value: str) -> str | None:
    """The blind index to look ``value`` up by (None: the store has no keyring)."""
    ring = session_keyring(session)
    return None if ring is None else ring.blind_index(field, value)


def home_sealer(home: Path) -> Sealer:
    """The keyring of the installation at ``home``, read once, when first needed."""
    found: list[Keyring] = []

    def sealer() -> Keyring:
        if not found:
            from omnichannel.privacy.keyring import Keyring

            found.append(Keyring.of_home(home))
        return found[0]

    return sealer


def clear_equals(column: Any, value: str) -> Any:
    """``column = value`` against the stored text itself (a clear row written before
    sealing), not against ``value`` sealed, which would never be equal."""
    return type_coerce(column, Text()) == value
