"""Fixtures for the operational store: an opened store on each database of the matrix."""

from __future__ import annotations

import pytest

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import JourneyDefinition, Source


@pytest.fixture
def web_source(store: OpStore) -> Source:
    with store.session() as session:
        source = Source(name="web", kind="http", description="storefront")
        session.add(source)
    return source


@pytest.fixture
def journey(store: OpStore) -> JourneyDefinition:
    with store.session() as session:
        made = JourneyDefinition(
            name="welcome",
            definition={"trigger": {"event": "Signed Up"}, "steps": []},
            created_by="ana@example.com",
        )
        session.add(made)
    return made
