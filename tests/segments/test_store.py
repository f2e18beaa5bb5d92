"""Segment definitions in the operational store: versions, names, references, deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import AuditEntry
from omnichannel.segments.store import SegmentStore, check_name, dependency_order
from tests.segments.membership_world import BUYERS, RECENT_BUYERS, definition

MEMBER_OF_BUYERS = {"all": [{"segment": "buyers"}, RECENT_BUYERS]}


def test_create_get_list_and_update_bumps_the_version_and_keeps_the_old_document(
    store: OpStore,
) -> None:
    segments = SegmentStore(store)
    created = segments.create(definition("buyers", BUYERS), created_by="ana@example.com")
    assert (created.name, created.version, created.created_by) == ("buyers", 1, "ana@example.com")
    assert created.definition == definition("buyers", BUYERS)
    changed = segments.update("buyers", definition("buyers", RECENT_BUYERS), actor="bo")
    assert changed.version == 2 and changed.id == created.id
    again = segments.get("buyers")
    assert again is not None and again.version == 2
    assert again.definition == definition("buyers", RECENT_BUYERS)
    assert again.updated_at >= created.updated_at
    assert [s.name for s in segments.list()] == ["buyers"]
    assert segments.get("nobody") is None
    with store.session() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "segment").order_by(AuditEntry.id)
        ).all()
        # The audit log is the history of versions: the update kept version 1's document.
        assert [(a.action, a.actor) for a in audit] == [
            ("segment.create", "ana@example.com"),
            ("segment.update", "bo"),
        ]
        assert audit[1].details["previous"]["version"] == 1
        assert audit[1].details["previous"]["definition"]["condition"] == BUYERS


def test_a_taken_name_is_a_conflict_and_a_bad_name_is_refused_naming_it(store: OpStore) -> None:
    segments = SegmentStore(store)
    segments.create(definition("buyers", BUYERS), created_by="ana")
    with pytest.raises(ConflictError, match="'buyers' exists already"):
        segments.create(definition("buyers", RECENT_BUYERS), created_by="bo")
    with pytest.raises(ValidationError) as bad:
        check_name("VIP Buyers!")
    assert bad.value.field == "segment name" and bad.value.value == "VIP Buyers!"
    assert "slug" in bad.value.accepted
    with pytest.raises(ValidationError, match="renaming is not supported"):
        segments.update("buyers", definition("other", BUYERS))
    with pytest.raises(NotFoundError, match="'nobody'"):
        segments.update("nobody", definition("nobody", BUYERS))
    with pytest.raises(NotFoundError, match="'nobody'"):
        segments.delete("nobody")


def test_references_must_exist_and_a_referred_segment_cannot_be_deleted(store: OpStore) -> None:
    segments = SegmentStore(store)
    with pytest.raises(ValidationError, match="buyers"):
        segments.create(definition("loyal", MEMBER_OF_BUYERS), created_by="ana")
    segments.create(definition("buyers", BUYERS), created_by="ana")
    segments.create(definition("loyal", MEMBER_OF_BUYERS), created_by="ana")
    with pytest.raises(ConflictError, match="loyal refers to it"):
        segments.delete("buyers")
    # buyers -> loyal -> buyers would be a cycle: refused with its path.
    with pytest.raises(ValidationError, match="cycle"):
        segments.update("buyers", definition("buyers", {"segment": "loyal"}))
    assert [s.name for s in segments.in_dependency_order()] == ["buyers", "loyal"]
    segments.delete("loyal", actor="ana")
    segments.delete("buyers", actor="ana")
    assert segments.list() == []


def test_dependency_order_puts_each_segment_after_those_it_is_defined_by(store: OpStore) -> None:
    segments = SegmentStore(store)
    segments.create(definition("c-base", BUYERS), created_by="t")
    segments.create(definition("b-mid", {"segment": "c-base"}), created_by="t")
    segments.create(definition("a-top", {"all": [{"segment": "b-mid"}, BUYERS]}), created_by="t")
    order = [s.name for s in dependency_order(segments.list())]
    assert order == ["c-base", "b-mid", "a-top"]
