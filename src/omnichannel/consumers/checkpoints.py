"""Where each durable consumer has read up to, kept in the operational store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import ConsumerCheckpoint


class Checkpoints:
    """The ``load_seq`` each consumer has handled up to (inclusive)."""

    def __init__(self, store: OpStore) -> None:
        self.store = store

    def get(self, name: str) -> int | None:
        with self.store.session() as session:
            row = session.get(ConsumerCheckpoint, name)
            return None if row is None else int(row.position)

    def set(self, name: str, position: int) -> None:
        with self.store.session() as session:
            row = session.get(ConsumerCheckpoint, name)
            if row is None:
                session.add(ConsumerCheckpoint(name=name, position=position))
            else:
                row.position = position
                row.updated_at = datetime.now(UTC)

    def all(self) -> dict[str, int]:
        with self.store.session() as session:
            rows = session.scalars(select(ConsumerCheckpoint))
            return {row.name: int(row.position) for row in rows}
