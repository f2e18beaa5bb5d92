"""The deterministic identity graph on real DuckDB and PostgreSQL: joins, refusals, rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from omnichannel.identity import explain, load_rules, resolve
from omnichannel.warehouse import Warehouse
from tests.identity.support import add_events, add_ids, partition, together


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(warehouse_url) as warehouse:
        yield warehouse


def test_records_sharing_an_email_join_and_the_merge_is_explained(wh: Warehouse) -> None:
    add_ids(
        wh,
        [
            ("crm", "C1", "email", "Ann@Example.cn", 0),
            ("crm", "C1", "crm_id", "C1", 0),
            ("shop", "S9", "email", "ann@example.cn ", 3),
            ("shop", "S10", "email", "bob@example.cn", 3),
        ],
    )
    report = resolve(wh)
    assert together(wh, ("crm", "C1"), ("shop", "S9"))
    assert not together(wh, ("crm", "C1"), ("shop", "S10"))
    assert report.profiles == 2

    story = explain(wh, "email", "ann@example.cn")
    (profile,) = story["profiles"]
    assert {(r["source"], r["record_id"]) for r in profile["records"]} == {
        ("crm", "C1"),
        ("shop", "S9"),
    }
    assert {(m["record_id"], m["rule"]) for m in profile["merges"]} == {
        ("C1", "shared email"),
        ("S9", "shared email"),
    }
    assert ("crm_id", "C1", "linked") in {
        (i["id_type"], i["id_value"], i["status"]) for i in profile["identifiers"]
    }


def test_a_shared_store_tablet_does_not_join_the_shoppers(wh: Warehouse) -> None:
    # One kiosk tablet, three members logging in on it: the device is over-shared.
    add_ids(
        wh,
        [
            ("app", "E1", "user_id", "u1", 0),
            ("app", "E1", "device_id", "KIOSK-1", 0),
            ("app", "E2", "user_id", "u2", 1),
            ("app", "E2", "device_id", "KIOSK-1", 1),
            ("app", "E3", "user_id", "u3", 2),
            ("app", "E3", "device_id", "KIOSK-1", 2),
        ],
    )
    resolve(wh)
    assert len(partition(wh)) == 3
    story = explain(wh, "device_id", "KIOSK-1")
    assert story["identifier"]["status"] == "over_shared"
    assert "3 user_id values" in story["refusals"][0]["detail"]
    assert len(story["profiles"]) == 3


def test_a_blocked_tablet_and_a_test_email_link_nothing(wh: Warehouse) -> None:
    add_ids(
        wh,
        [
            ("app", "E1", "anonymous_id", "a1", 0),
            ("app", "E1", "device_id", "STORE-TABLET-7", 0),
            ("app", "E2", "anonymous_id", "a2", 1),
            ("app", "E2", "device_id", "STORE-TABLET-7", 1),
            ("crm", "C1", "email", "test@example.com", 0),
            ("crm", "C2", "email", "test@example.com", 0),
        ],
    )
    rules = load_rules()
    tablets = dict(rules.blocked_values)
    tablets["device_id"] = frozenset({"store-tablet-7"})
    report = resolve(wh, rules=replace(rules, blocked_values=tablets))
    assert len(partition(wh)) == 4
    assert report.refusals == {"blocked_value": 2}
    story = explain(wh, "email", "test@example.com")
    assert [p["record_count"] for p in story["profiles"]] == [1, 1]


def test_a_family_phone_on_two_loyalty_cards_with_user_ids_does_not_join(wh: Warehouse) -> None:
    add_ids(
        wh,
        [
            ("pos", "L1", "loyalty_card", "8860001", 0),
            ("pos", "L1", "user_id", "mum", 0),
            ("pos", "L1", "phone", "+8613800000001", 0),
            ("pos", "L2", "loyalty_card", "8860002", 5),
            ("pos", "L2", "user_id", "son", 5),
            ("pos", "L2", "phone", "+8613800000001", 5),
            ("crm", "C1", "user_id", "mum", 1),
        ],
    )
    resolve(wh)
    assert not together(wh, ("pos", "L1"), ("pos", "L2"))
    assert together(wh, ("pos", "L1"), ("crm", "C1"))
    story = explain(wh, "phone", "+8613800000001")
    assert story["identifier"]["status"] == "over_shared"


def test_a_chain_over_the_limit_is_cut_at_the_lowest_priority_identifier(wh: Warehouse) -> None:
    # u1 -email- X -phone- u2: no single identifier is over-shared, the component is.
    add_ids(
        wh,
        [
            ("crm", "A", "user_id", "u1", 0),
            ("crm", "A", "email", "shared@family.cn", 0),
            ("web", "X", "email", "shared@family.cn", 1),
            ("web", "X", "phone", "+8613900000000", 1),
            ("crm", "B", "user_id", "u2", 2),
            ("crm", "B", "phone", "+8613900000000", 2),
        ],
    )
    report = resolve(wh)
    assert report.clusters_over_limit == 1
    # email (priority 4) is kept, phone (priority 9) gives way.
    assert together(wh, ("crm", "A"), ("web", "X"))
    assert not together(wh, ("web", "X"), ("crm", "B"))
    story = explain(wh, "phone", "+8613900000000")
    assert story["identifier"]["status"] == "limit"
    assert "user_id" in story["refusals"][0]["detail"]


def test_identify_and_alias_events_join_anonymous_and_user_ids(wh: Warehouse) -> None:
    add_events(
        wh,
        [
            {"message_id": "m1", "type": "identify", "user_id": "u7", "anonymous_id": "anon-1"},
            {"message_id": "m2", "type": "alias", "user_id": "u7", "previous_id": "anon-2"},
            {
                "message_id": "m3",
                "type": "identify",
                "anonymous_id": "anon-2",
                "traits": '{"email": "Zoe@Example.cn"}',
            },
            {"message_id": "m4", "type": "track", "user_id": "u8", "anonymous_id": "anon-1"},
        ],
    )
    add_ids(wh, [("crm", "C7", "email", "zoe@example.cn", 0)])
    resolve(wh)
    assert together(wh, ("web", "m1"), ("web", "m2"))
    assert together(wh, ("web", "m2"), ("web", "m3"))
    assert together(wh, ("web", "m3"), ("crm", "C7"))
    records = {r for group in partition(wh) for r in group}
    assert "web/m4" not in records  # track calls are not identity records by default


def test_a_full_run_replaces_the_previous_result(wh: Warehouse) -> None:
    add_ids(wh, [("crm", "C1", "email", "a@x.cn", 0), ("shop", "S1", "email", "a@x.cn", 1)])
    resolve(wh)
    first = partition(wh)
    report = resolve(wh, full=True)
    assert report.mode == "full"
    assert partition(wh) == first
    assert report.records == 2
