"""estimate: size, sample and each top-level condition alone, on the five-person business."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.segments.definition import parse_definition
from omnichannel.segments.estimate import estimate
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import NOW, build_business, profile_of

THREE = """
name: app-regulars
condition:
  all:
    - trait: {field: orders, gte: 1}
    - event: {name: Order Completed, count: {at_least: 1}, within: {last_days: 30}}
    - device: {os_name: {equals: iOS}}
"""


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path: Path = tmp_path_factory.mktemp("estimate") / "omni.duckdb"
    with Warehouse.open(f"duckdb:///{path}") as opened:
        build_business(opened)
        yield opened


def test_size_sample_and_the_condition_that_narrows_most(wh: Warehouse) -> None:
    ids = profile_of(wh)
    e = estimate(parse_definition(THREE), wh, now=NOW)
    assert e.size == 1 and e.sample == [ids["ann"]]
    assert e.profiles == 5
    sizes = {c.path: (c.kind, c.size) for c in e.conditions}
    assert sizes == {
        "condition.all[0]": ("trait", 3),  # ann, bob, cat have orders
        "condition.all[1]": ("event", 3),  # ann, bob, dan ordered in the last 30 days
        "condition.all[2]": ("device", 2),  # ann and dan use iOS
    }
    assert e.conditions[1].condition == "Order Completed at least 1 time in the last 30 days"


def test_the_sample_is_limited_and_a_single_condition_is_its_own_part(wh: Warehouse) -> None:
    anyone = parse_definition("name: a\ncondition: {not: {tag: nobody-has-this}}")
    e = estimate(anyone, wh, now=NOW, sample=2)
    assert e.size == 5 and len(e.sample) == 2 and e.sample == sorted(e.sample)
    assert [(c.path, c.kind, c.size) for c in e.conditions] == [("condition", "not", 5)]
