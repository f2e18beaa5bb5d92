"""The order the suite runs in, so that under ``pytest -n N --dist worksteal`` the long
modules start first and are spread over the workers.

xdist's work-stealing scheduler first hands each worker one contiguous slice of the
collected items (the first worker the first ``len // N``, and so on), then lets an idle
worker take the tail half of the busiest worker's queue. Only the tail moves: whatever
sits at the head of a slice runs on that worker. Sorting every long module to the front
of the list therefore put them all into the first worker's slice, one after another,
while the second ran short tests and then waited for the long ones to end.

So the items are dealt into one lane per worker, each lane exactly as long as the slice
the scheduler will hand out: the modules holding ``slow`` tests first, longest estimate
first, each to the lane with the least estimated time so far; then the other modules in
collection order, filling the lanes in turn. A module's estimate is its tests' own
``slow`` marks (``UNMARKED_SECONDS`` for each test without one) plus a module-wide mark
(``pytestmark``) once: such a mark says the module is slow, mostly in what its tests
share, and counting it once per test made a 27-test module look like half the suite.
Each module's tests stay together and in order (its module-scoped fixtures are built once
per worker), except one at most per lane boundary, split where the lane is full.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

# What a bare ``@pytest.mark.slow`` is taken to cost, for ordering only.
SLOW_SECONDS = 10.0
# What a test without a ``slow`` mark is taken to cost when lanes are compared (the
# suite's unmarked tests average about this many seconds of one core).
UNMARKED_SECONDS = 0.4


def _seconds(marks: Sequence[pytest.Mark]) -> float:
    slow = [m for m in marks if m.name == "slow"]
    return max((float(m.kwargs.get("seconds", SLOW_SECONDS)) for m in slow), default=0.0)


def estimate(item: pytest.Item) -> float:
    """``slow(seconds=N)``'s N, ``SLOW_SECONDS`` for a bare ``slow``, else 0."""
    return _seconds(list(item.iter_markers("slow")))


def module_estimate(tests: Sequence[pytest.Item]) -> float:
    """The seconds a module is taken to cost: see the module's docstring."""
    module = tests[0].getparent(pytest.Module)
    shared = _seconds(module.own_markers) if module is not None else 0.0
    own = sum(_seconds(item.own_markers) or UNMARKED_SECONDS for item in tests)
    return shared + own


def workers() -> int:
    """How many xdist workers share the run (1 without xdist); every worker knows."""
    return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def slice_sizes(count: int, lanes: int) -> list[int]:
    """How many of ``count`` items each worker gets at first, as the scheduler deals them
    (``xdist.scheduler.worksteal``: ``len(pending) // nodes_remaining`` in turn)."""
    sizes = []
    left = count
    for remaining in range(lanes, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    return sizes


def run_order(items: Sequence[pytest.Item], lanes: int) -> list[pytest.Item]:
    """``items`` in the order described above, for ``lanes`` workers."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    longest = {name: max(estimate(i) for i in tests) for name, tests in modules.items()}
    cost = {
        name: module_estimate(tests) if longest[name] else 0.0 for name, tests in modules.items()
    }
    by_length = sorted(modules, key=lambda name: -cost[name])  # stable: collection order
    if lanes == 1:
        return [item for name in by_length for item in modules[name]]

    sizes = slice_sizes(len(items), lanes)
    dealt: list[list[pytest.Item]] = [[] for _ in range(lanes)]
    seconds = [0.0] * lanes
    slow = [name for name in by_length if longest[name] > 0]
    for name in slow:
        tests = modules[name]
        open_lanes = [k for k in range(lanes) if len(dealt[k]) + len(tests) <= sizes[k]]
        lane = min(open_lanes or range(lanes), key=lambda k: seconds[k])
        dealt[lane].extend(tests)
        seconds[lane] += module_estimate(tests)
    rest = [item for name in by_length if longest[name] == 0 for item in modules[name]]
    for lane in range(lanes):
        room = max(0, sizes[lane] - len(dealt[lane]))
        if lane == lanes - 1:
            room = len(rest)
        dealt[lane].extend(rest[:room])
        rest = rest[room:]
    return [item for lane in dealt for item in lane]
