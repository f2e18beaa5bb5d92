"""The audit log: entries are written with the change, read back in order, never edited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from omnichannel.opstore import OpStore
from omnichannel.opstore.audit import AuditLogError, entries, record
from omnichannel.opstore.models import AuditEntry, Journey


def test_entries_are_read_back_in_the_order_written(store: OpStore) -> None:
    # Clock times deliberately out of order: the log's order is the order of writing.
    stamps = [datetime(2025, 5, 1, hour, tzinfo=UTC) for hour in (12, 9, 9)]
    actions = ["journey.create", "journey.submit", "journey.approve"]
    for action, at in zip(actions, stamps, strict=True):
        with store.session() as session:
            record(
                session,
                actor="ana@example.com",
                action=action,
                object_type="journey",
                object_id=7,
                details={"version": 1, "note": "多渠道"},
                at=at,
            )
    with store.session() as session:
        record(session, actor="cli", action="source.create", object_type="source", object_id=1)
    with store.session() as session:
        journey_log = entries(session, object_type="journey", object_id=7)
        assert [entry.action for entry in journey_log] == actions
        assert [entry.at for entry in journey_log] == stamps
        assert journey_log[0].details == {"version": 1, "note": "多渠道"}
        assert journey_log[0].object_id == "7"
        everything = entries(session)
        assert [entry.action for entry in everything] == [*actions, "source.create"]
        assert [e.action for e in entries(session, after_id=everything[1].id, limit=1)] == [
            "journey.approve"
        ]
        assert [e.action for e in entries(session, actor="cli")] == ["source.create"]


def test_an_entry_rolls_back_with_the_change_it_describes(store: OpStore) -> None:
    with pytest.raises(RuntimeError), store.session() as session:
        session.add(Journey(name="j", created_by="cli"))
        record(session, actor="cli", action="journey.create", object_type="journey")
        raise RuntimeError("the change failed")
    with store.session() as session:
        assert entries(session) == []
        assert session.scalars(select(Journey)).all() == []


def test_entries_cannot_be_changed_or_deleted(store: OpStore) -> None:
    with store.session() as session:
        entry_id = record(session, actor="cli", action="user.create", object_type="user").id
    with pytest.raises(AuditLogError, match="append-only"), store.session() as session:
        entry = session.get(AuditEntry, entry_id)
        assert entry is not None
        entry.actor = "someone-else"
    with pytest.raises(AuditLogError, match="append-only"), store.session() as session:
        entry = session.get(AuditEntry, entry_id)
        session.delete(entry)
    with store.session() as session:
        assert [(e.id, e.actor) for e in entries(session)] == [(entry_id, "cli")]


def test_an_entry_needs_an_actor(store: OpStore) -> None:
    with pytest.raises(ValueError, match="actor"), store.session() as session:
        record(session, actor="", action="user.create", object_type="user")
