"""Identify traits that are not identifiers stay traits: they never become graph nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.identity.support import add_events, together


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(warehouse_url) as warehouse:
        yield warehouse


def test_not_an_email_and_abc_link_nobody(wh: Warehouse) -> None:
    bad = '{"email": "not-an-email", "phone": "abc"}'
    add_events(
        wh,
        [
            {"message_id": "m1", "type": "identify", "user_id": "u1", "traits": bad},
            {"message_id": "m2", "type": "identify", "user_id": "u2", "traits": bad},
            {
                "message_id": "m3",
                "type": "identify",
                "user_id": "u3",
                "traits": '{"email": "Zoe@Example.cn", "phone": "138 1234 5678"}',
            },
        ],
    )
    resolve(wh)
    assert not together(wh, ("web", "m1"), ("web", "m2"))
    nodes = wh.table("profile_identifiers").to_pyarrow().to_pylist()
    values = {(n["id_type"], n["id_value"]) for n in nodes}
    assert ("email", "not-an-email") not in values and ("phone", "abc") not in values
    # Well-formed traits are still identifiers.
    assert ("email", "zoe@example.cn") in values and ("phone", "138 1234 5678") in values
