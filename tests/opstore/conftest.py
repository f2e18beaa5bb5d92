"""Fixtures for the operational store: an opened store on each database of the matrix."""

from __future__ import annotations

import pytest

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import Journey, JourneyVersion, Source


@pytest.fixture
def web_source(store: OpStore) -> Source:
    with store.session() as session:
        source = Source(name="web", kind="http", description="storefront")
        session.add(source)
    return source


@pytest.fixture
def journey(store: OpStore) -> Journey:
    with store.session() as session:
        made = Journey(name="welcome", created_by="ana@example.com")
        session.add(made)
        session.flush()
        session.add(
            JourneyVersion(
                journey_id=made.id,
                version=1,
                definition={"entry": {"event": {"name": "Signed Up"}}},
                created_by="ana@example.com",
            )
        )
    return made
