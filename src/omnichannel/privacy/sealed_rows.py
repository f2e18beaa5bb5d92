"""Export and erasure of the operational store's sealed tables (outbox, in-app inbox,
suppressions, audit log: ``opstore/sealed.py``).

Erasure and export reflect every table and filter it in SQL by the person's values; a
sealed column cannot be filtered that way (each sealing differs), so these tables are
read whole, a batch at a time, their values opened with the keyring and matched here:
a row is *about* the person when a column equals one of their values (or its blind
index equals one of theirs), it *mentions* them when a value names them (``Matcher``).
That costs one pass over these tables per request (about 10 µs a row), paid only
by data-subject requests.

Example::

    for match in matching_rows(session, table, footprint, ring, matcher):
        match.about, match.opened["address"]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from omnichannel.opstore.sealed import (
    BLIND_COLUMNS,
    SealedJSON,
    SealedText,
    open_json,
    open_text,
    seal_json,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from omnichannel.privacy.footprint import Footprint
    from omnichannel.privacy.keyring import Keyring
    from omnichannel.privacy.matching import Matcher

_BATCH = 1000


@dataclass(frozen=True)
class SealedColumn:
    field: str
    json: bool


@cache
def sealed_tables() -> dict[str, dict[str, SealedColumn]]:
    """table -> {column -> how it is sealed}, from the models."""
    from omnichannel.opstore.models import Base

    found: dict[str, dict[str, SealedColumn]] = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, SealedText | SealedJSON):
                json = isinstance(column.type, SealedJSON)
                found.setdefault(table.name, {})[column.name] = SealedColumn(
                    column.type.field, json
                )
    return found


@dataclass
class Match:
    key: dict[str, Any]  # the primary key, to update or delete the row by
    opened: dict[str, Any]  # the row with its sealed values in clear
    about: bool  # a column equals one of the person's values: the row is theirs


def _opened(ring: Keyring, columns: dict[str, SealedColumn], row: dict[str, Any]) -> dict:
    opened = dict(row)
    for name, how in columns.items():
        value = row.get(name)
        opened[name] = (open_json if how.json else open_text)(ring, how.field, value)
    return opened


def matching_rows(
    session: Session, table: Table, footprint: Footprint, ring: Keyring, matcher: Matcher
) -> Iterator[Match]:
    """The rows of a sealed table about or mentioning the person, opened."""
    columns = sealed_tables()[table.name]
    values = set(footprint.values)
    blind = BLIND_COLUMNS.get(table.name)
    keys = {ring.blind_index(blind[2], v) for v in values} if blind else set()
    primary = [c.name for c in table.primary_key.columns]
    texts = [c.name for c in table.columns if c.name not in primary]
    result = session.execute(select(table).execution_options(yield_per=_BATCH))
    for row in result.mappings():
        opened = _opened(ring, columns, dict(row))
        equal = any(isinstance(opened[c], str) and opened[c] in values for c in texts)
        about = equal or (blind is not None and row[blind[0]] in keys)
        if about or any(matcher.names_value(opened[c]) for c in texts):
            yield Match({k: row[k] for k in primary}, opened, about)


def redacted_values(ring: Keyring, table: Table, match: Match, matcher: Matcher) -> dict[str, Any]:
    """The columns of a matched row that name the person, redacted and sealed again."""
    columns = sealed_tables()[table.name]
    changed: dict[str, Any] = {}
    for name, value in match.opened.items():
        if name in match.key or not matcher.names_value(value):
            continue
        clear = matcher.redact_value(value)
        how = columns.get(name)
        if how is None:
            changed[name] = clear
        elif how.json:
            changed[name] = seal_json(ring, how.field, clear)
        else:
            changed[name] = ring.seal(how.field, clear) if clear else clear
    blind = BLIND_COLUMNS.get(table.name)
    if blind is not None and blind[1] in changed:
        changed[blind[0]] = None  # the address it indexed is gone
    return changed
