"""Segment definitions in the operational store: named, versioned, referred to by others.

A definition is the condition document (``segments/definition.py``) under a unique
name. Every update bumps its version, so a membership row says which version made it
(``segment_memberships.version``), and the audit log keeps each replaced version's
document, which is the history of versions. A segment another one is defined by
("member of") cannot be deleted: the error names the segments that refer to it.

Example::

    store = SegmentStore(platform.opstore)
    vip = store.create(parse_definition(text), created_by="ana@example.com")
    store.update("vip", parse_definition(changed))      # version 2
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore import OpStore, record
from omnichannel.opstore.models import SegmentDefinition as SegmentRow

if TYPE_CHECKING:
    from omnichannel.segments.definition import SegmentDefinition

# The slug of the condition language (definition.py): what URLs and CLI arguments carry.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
NAME_ACCEPTED = "a slug of lower-case letters, digits, '-' and '_' (1-100, e.g. vip-buyers)"


def check_name(name: object) -> str:
    """``name`` if it is a valid segment name, else a ValidationError naming it."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError("segment name", name, NAME_ACCEPTED)
    return name


@dataclass(frozen=True)
class StoredSegment:
    """A saved definition with its version and bookkeeping."""

    id: int
    name: str
    description: str
    version: int
    definition: SegmentDefinition
    created_by: str
    created_at: datetime
    updated_at: datetime


def _document(definition: SegmentDefinition) -> dict[str, Any]:
    return dict(definition.model_dump(mode="json", by_alias=True, exclude_defaults=True))


def _stored(row: SegmentRow) -> StoredSegment:
    from omnichannel.segments.definition import parse_definition

    return StoredSegment(
        id=int(row.id),
        name=row.name,
        description=row.description or "",
        version=int(row.version),
        definition=parse_definition(row.definition),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SegmentStore:
    """Create, update, list and delete segment definitions (``segment_definitions``)."""

    def __init__(self, opstore: OpStore) -> None:
        self.opstore = opstore

    # --- reading -------------------------------------------------------------------

    def get(self, name: str) -> StoredSegment | None:
        with self.opstore.session() as session:
            row = session.scalars(select(SegmentRow).where(SegmentRow.name == name)).first()
            return None if row is None else _stored(row)

    def list(self) -> list[StoredSegment]:
        """Every stored segment, by name."""
        with self.opstore.session() as session:
            rows = session.scalars(select(SegmentRow).order_by(SegmentRow.name)).all()
            return [_stored(row) for row in rows]

    def in_dependency_order(self) -> builtins.list[StoredSegment]:
        """Every stored segment, each after the segments it is defined by."""
        return dependency_order(self.list())

    # --- writing -------------------------------------------------------------------

    def create(self, definition: SegmentDefinition, *, created_by: str) -> StoredSegment:
        """Save a new definition (version 1); ConflictError if the name is taken."""
        name = check_name(definition.name)
        self._check_references(definition)
        try:
            with self.opstore.session() as session:
                if session.scalars(select(SegmentRow.id).where(SegmentRow.name == name)).first():
                    raise ConflictError(f"segment {name!r} exists already; update it instead")
                row = SegmentRow(
                    name=name,
                    description=definition.description,
                    definition=_document(definition),
                    version=1,
                    created_by=created_by,
                )
                session.add(row)
                session.flush()
                record(
                    session,
                    actor=created_by,
                    action="segment.create",
                    object_type="segment",
                    object_id=name,
                    details={"version": 1},
                    after={"version": 1, "definition": row.definition},
                )
                return _stored(row)
        except IntegrityError:
            # Another writer created the same name between our check and our insert.
            raise ConflictError(f"segment {name!r} exists already; update it instead") from None

    def update(
        self, name: str, definition: SegmentDefinition, *, actor: str = "system"
    ) -> StoredSegment:
        """Replace a definition; its version goes up by one (the old document is audited)."""
        check_name(name)
        if definition.name != name:
            raise ValidationError(
                "name",
                definition.name,
                f"the segment's own name {name!r} (renaming is not supported)",
            )
        self._check_references(definition)
        with self.opstore.session() as session:
            row = self._row(session, name)
            previous = {"version": int(row.version), "definition": row.definition}
            row.definition = _document(definition)
            row.description = definition.description
            row.version = int(row.version) + 1
            session.flush()
            record(
                session,
                actor=actor,
                action="segment.update",
                object_type="segment",
                object_id=name,
                details={"version": row.version, "previous": previous},
                before=previous,
                after={"version": int(row.version), "definition": row.definition},
            )
            return _stored(row)

    def delete(self, name: str, *, actor: str = "system") -> None:
        """Remove a definition; ConflictError naming the segments still defined by it."""
        check_name(name)
        referrers = sorted(
            other.name
            for other in self.list()
            if other.name != name and name in other.definition.referenced_segments()
        )
        if referrers:
            raise ConflictError(
                f"segment {name!r} cannot be deleted: {', '.join(referrers)} "
                f"{'refers' if len(referrers) == 1 else 'refer'} to it; change or delete "
                f"{'it' if len(referrers) == 1 else 'them'} first"
            )
        with self.opstore.session() as session:
            row = self._row(session, name)
            record(
                session,
                actor=actor,
                action="segment.delete",
                object_type="segment",
                object_id=name,
                details={"version": int(row.version), "definition": row.definition},
                before={"version": int(row.version), "definition": row.definition},
            )
            session.delete(row)

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _row(session: Any, name: str) -> SegmentRow:
        row = session.scalars(select(SegmentRow).where(SegmentRow.name == name)).first()
        if row is None:
            raise _not_found(name)
        return row

    def _check_references(self, definition: SegmentDefinition) -> None:
        """Unknown segments and cycles are refused (the compiler's check, over this store)."""
        from omnichannel.segments.compile import check_references

        def resolve(other: str) -> SegmentDefinition | None:
            if other == definition.name:
                return definition
            found = self.get(other)
            return None if found is None else found.definition

        check_references(definition, resolve)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"no segment named {name!r}; see the stored ones with omni segments list")


def dependency_order(segments: list[StoredSegment]) -> list[StoredSegment]:
    """``segments`` so that each comes after those it refers to (by name, otherwise)."""
    by_name = {s.name: s for s in segments}
    ordered: list[StoredSegment] = []
    placed: set[str] = set()

    def place(segment: StoredSegment, path: tuple[str, ...]) -> None:
        if segment.name in placed or segment.name in path:
            return  # a cycle cannot be stored (check_references); never loop on one
        for other in sorted(segment.definition.referenced_segments()):
            if other in by_name:
                place(by_name[other], (*path, segment.name))
        placed.add(segment.name)
        ordered.append(segment)

    for segment in sorted(segments, key=lambda s: s.name):
        place(segment, ())
    return ordered
