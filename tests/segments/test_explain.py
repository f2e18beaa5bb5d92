"""explain: for one profile, which condition failed and what was observed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.errors import ValidationError
from omnichannel.segments.compile import members
from omnichannel.segments.definition import parse_definition
from omnichannel.segments.explain import explain
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import NOW, PEOPLE, build_business, profile_of

DEFINITION = parse_definition(
    """
name: loyal-ios
condition:
  all:
    - event: {name: Order Completed, count: {at_least: 3}, within: {last_days: 30}}
    - any:
        - device: {os_name: {equals: iOS}}
        - message: {keyword: vip}
    - not: {consent: {channel: push, status: denied}}
    - event: {name: Order Completed, sum: {property: total, gt: 100}, within: {last_days: 30}}
    - trait: {field: rfm_segment, not_in: [hibernating]}
"""
)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path: Path = tmp_path_factory.mktemp("explain") / "omni.duckdb"
    with Warehouse.open(f"duckdb:///{path}") as opened:
        build_business(opened)
        yield opened


def test_a_member_passes_every_condition_with_what_was_seen(wh: Warehouse) -> None:
    ann = explain(DEFINITION, wh, profile_of(wh)["ann"], now=NOW)
    assert ann.member
    first, either, not_denied, spent, _ = ann.finding.children
    assert first.observed == (
        "Order Completed: 3 times in the last 30 days, needs at least 3 times"
    )
    assert spent.value == 240 and "sum of total 240" in spent.observed
    assert either.children[0].passed and not either.children[1].passed
    assert not_denied.passed and not_denied.children[0].observed.startswith(
        "consent on push: granted"
    )


def test_a_non_member_is_told_which_condition_failed_and_the_observed_value(
    wh: Warehouse,
) -> None:
    bob = explain(DEFINITION, wh, profile_of(wh)["bob"], now=NOW)
    assert not bob.member
    failed = [f for f in bob.finding.children if not f.passed]
    assert failed[0].path == "condition.all[0]"
    assert failed[0].observed == (
        "Order Completed: 1 time in the last 30 days, needs at least 3 times"
    )
    assert failed[0].value == 1
    text = "\n".join(bob.lines())
    assert "is not a member" in text and "sum of total 30" in text


def test_someone_with_no_events_at_all_is_explained_with_zero(wh: Warehouse) -> None:
    eve = explain(DEFINITION, wh, profile_of(wh)["eve"], now=NOW)
    assert eve.finding.children[0].value == 0
    assert eve.finding.children[0].observed.startswith("Order Completed: 0 times")


def test_the_explanation_agrees_with_membership_for_everyone(wh: Warehouse) -> None:
    ids = profile_of(wh)
    in_segment = set(members(DEFINITION, wh, now=NOW).to_pyarrow().column("profile_id").to_pylist())
    for person in PEOPLE:
        assert explain(DEFINITION, wh, ids[person], now=NOW).member == (ids[person] in in_segment)
    assert in_segment == {ids["ann"]}


def test_an_unknown_profile_is_refused_by_name(wh: Warehouse) -> None:
    with pytest.raises(ValidationError) as caught:
        explain(DEFINITION, wh, "p_nobody", now=NOW)
    assert caught.value.field == "profile_id" and caught.value.value == "p_nobody"


def test_a_device_condition_says_when_such_a_device_was_last_seen(wh: Warehouse) -> None:
    ids = profile_of(wh)
    ann = explain(DEFINITION, wh, ids["ann"], now=NOW)
    ios = ann.finding.children[1].children[0]
    # ann's newest iOS event is her order two days before NOW.
    assert ios.passed
    assert ios.observed == "last event from such a device at 2026-05-30 12:00:00, needs one"
    cat = explain(DEFINITION, wh, ids["cat"], now=NOW).finding.children[1].children[0]
    assert not cat.passed and cat.observed == "no event from such a device, needs one"
