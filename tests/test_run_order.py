"""The run order (tests/support/run_order.py) on stand-in items: what it hands each xdist
worker first, as the work-stealing scheduler slices the list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.run_order import run_order, slice_sizes


@dataclass
class _Module:
    own_markers: list[Any] = field(default_factory=list)


@dataclass
class _Item:
    """The parts of a ``pytest.Item`` the order reads."""

    nodeid: str
    own_markers: list[Any]
    module: _Module

    def iter_markers(self, name: str) -> list[Any]:
        return [m for m in (*self.own_markers, *self.module.own_markers) if m.name == name]

    def getparent(self, kind: type) -> _Module:
        assert kind is pytest.Module
        return self.module


def _suite() -> list[Any]:
    """Six slow modules among forty quick ones, in collection order."""
    items: list[Any] = []
    slow = {"m03": 140, "m07": 90, "m12": 90, "m20": 60, "m31": 60, "m40": 30}
    for number in range(46):
        name = f"m{number:02d}"
        module = _Module()
        if name == "m31":  # a module-wide mark on its five tests: counted once
            module.own_markers = [pytest.mark.slow(seconds=60).mark]
        for test in range(5):
            marks = [pytest.mark.slow(seconds=slow[name]).mark] if name in slow else []
            if name == "m31":
                marks = []
            items.append(_Item(f"tests/{name}.py::t{test}", marks, module))
    return items


def _modules(items: list[Any]) -> list[str]:
    return list(dict.fromkeys(i.nodeid.split("::")[0] for i in items))


def test_each_worker_starts_with_its_share_of_the_slow_modules() -> None:
    items = _suite()
    ordered = run_order(items, 2)
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)
    first, second = slice_sizes(len(ordered), 2)
    assert (first, second) == (115, 115)
    lanes = [_modules(ordered[:first]), _modules(ordered[first:])]
    heads = [lane[:3] for lane in lanes]
    assert heads == [
        ["tests/m03.py", "tests/m20.py", "tests/m31.py"],
        ["tests/m07.py", "tests/m12.py", "tests/m40.py"],
    ]
    # Every module's tests in their order, one module at most split at the lane boundary.
    for name in _modules(items):
        tests = [i.nodeid for i in ordered if i.nodeid.startswith(name)]
        assert tests == [f"{name}::t{n}" for n in range(5)]
    assert len(set(lanes[0]) & set(lanes[1])) <= 1


def test_one_worker_gets_the_slow_modules_first_in_collection_order_otherwise() -> None:
    ordered = _modules(run_order(_suite(), 1))
    assert ordered[:6] == [f"tests/{m}.py" for m in ("m03", "m07", "m12", "m20", "m40", "m31")]
    assert ordered[6:9] == ["tests/m00.py", "tests/m01.py", "tests/m02.py"]


def test_the_slices_are_the_schedulers() -> None:
    assert slice_sizes(1722, 2) == [861, 861]
    assert slice_sizes(7, 2) == [3, 4]
    assert slice_sizes(10, 3) == [3, 3, 4]
