"""Users and segment definitions: uniqueness and allowed values enforced by the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import Journey, JourneyStatus, SegmentDefinition, User


def test_user_email_is_unique_and_role_is_checked(store: OpStore) -> None:
    with store.session() as session:
        session.add(User(email="ana@example.com", name="Ana", role="marketer"))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(User(email="ana@example.com", name="Other", role="analyst"))
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, name, role, active, created_at) "
                "VALUES ('x@example.com', 'X', 'superuser', true, CURRENT_TIMESTAMP)"
            )
        )
    with store.session() as session:
        user = session.scalars(select(User)).one()
        assert (user.role, user.active, user.password_hash) == ("marketer", True, None)


def test_segment_names_are_unique_and_definitions_round_trip(store: OpStore) -> None:
    definition = {
        "all": [
            {"trait": "rfm_segment", "op": "=", "value": "champions"},
            {"event": "Order Completed", "at_least": 2, "within_days": 30},
        ]
    }
    with store.session() as session:
        session.add(SegmentDefinition(name="vip", definition=definition, created_by="ana"))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(SegmentDefinition(name="vip", definition={}, created_by="bo"))
    with store.session() as session:
        segment = session.scalars(select(SegmentDefinition)).one()
        assert segment.definition == definition
        assert segment.version == 1
        first_update = segment.updated_at
        segment.definition = {"all": definition["all"][:1]}
        segment.version += 1
    with store.session() as session:
        segment = session.scalars(select(SegmentDefinition)).one()
        assert segment.version == 2
        assert segment.updated_at >= first_update
        assert segment.created_at <= segment.updated_at


def test_journeys_start_as_drafts_and_names_are_unique(store: OpStore) -> None:
    with store.session() as session:
        session.add(Journey(name="welcome", created_by="ana"))
        session.add(Journey(name="winback", created_by="bo"))
    with store.session() as session:
        statuses = session.scalars(select(Journey.status)).all()
    assert statuses == [JourneyStatus.DRAFT, JourneyStatus.DRAFT]
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Journey(name="welcome", created_by="cy"))
