"""The recommendations feed's per-batch work: events to (profile, entry) pairs.

``entries_of`` (``recommendations/live.py``) is what the ``recommendations`` consumer of
``omni serve`` runs on every batch of stored events. It reads the batch's properties with
one DuckDB query and looks every (typed id, value) key up at once by a binary search
over the Profile API's sorted identifier index. The baseline is the previous
implementation, kept here: a ``json.loads`` and two ``bisect`` lookups per event.

A synthetic index of ``--people`` profiles (two identifiers each) and batches of
``--batch`` events (product views and adds, orders with two products, content views,
10 % from people the index does not know) are run through both in this process; the
answers are checked equal. Prints the time per batch of each, events per second and the
ratio. Run: ``python benchmarks/recs_live_batch.py [--people 200000 --batch 5000]``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from omnichannel.identity.rules import IdentityRules, load_rules
from omnichannel.profiles.lookup import SEP, ProfileIndex
from omnichannel.recommendations.content import CONTENT_TYPES
from omnichannel.recommendations.interactions import EVENT_KINDS
from omnichannel.recommendations.live import (
    CONTENT_EVENT,
    WANTED_EVENTS,
    LiveEntry,
    entries_of,
)


def make_index(people: int) -> ProfileIndex:
    keys, profiles = [], []
    for i in range(people):
        keys += [f"user_id{SEP}u{i}", f"anonymous_id{SEP}a{i}"]
        profiles += [f"p_{i:08d}"] * 2
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return ProfileIndex(
        keys=pa.array([keys[i] for i in order]),
        profiles=pc.dictionary_encode(pa.array([profiles[i] for i in order])),
        statuses=pc.dictionary_encode(pa.array(["linked"] * len(keys))),
        types=frozenset({"user_id", "anonymous_id"}),
        stamp=(people,),
    )


def make_batch(people: int, size: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {
        k: [] for k in ("message_id", "event", "source", "user_id", "anonymous_id")
    }
    rows["properties"], rows["load_seq"] = [], []
    events = ["Product Viewed", "Product Added", "Order Completed", CONTENT_EVENT, "Page Viewed"]
    for n in range(size):
        person = int(rng.integers(people * 1.1))  # 1 in 11 unknown
        event = events[int(rng.choice(5, p=[0.5, 0.15, 0.05, 0.2, 0.1]))]
        if event == "Order Completed":
            props: dict[str, Any] = {
                "products": [{"product_id": f"sku{int(rng.integers(5000))}"} for _ in range(2)]
            }
        elif event == CONTENT_EVENT:
            props = {"content_type": CONTENT_TYPES[int(rng.integers(len(CONTENT_TYPES)))]}
        else:
            props = {"product_id": f"sku{int(rng.integers(5000))}", "price": 10}
        by_user = rng.random() < 0.6
        rows["message_id"].append(f"m{seed}-{n}")
        rows["event"].append(event)
        rows["source"].append("web")
        rows["user_id"].append(f"u{person}" if by_user else None)
        rows["anonymous_id"].append(f"a{person}")
        rows["properties"].append(json.dumps(props))
        rows["load_seq"].append(seed * size + n)
    return pa.table(rows)


# --- the baseline: the per-event implementation this replaced -------------------------


def _holders(index: ProfileIndex, id_type: str, id_value: str) -> list[tuple[str, str]]:
    key = id_type + SEP + id_value
    keys = index.keys

    class View:
        def __len__(self) -> int:
            return len(keys)

        def __getitem__(self, i: int) -> str:
            return str(keys[i].as_py())

    view = View()
    lo = bisect.bisect_left(view, key)  # type: ignore[call-overload]
    hi = bisect.bisect_right(view, key, lo=lo)  # type: ignore[call-overload]
    return [(str(index.profiles[i].as_py()), str(index.statuses[i].as_py())) for i in range(lo, hi)]


def rowwise(batch: pa.Table, index: ProfileIndex, rules: IdentityRules) -> list[Any]:
    names = batch.column("event")
    wanted = batch.filter(pc.fill_null(pc.is_in(names, pa.array(list(WANTED_EVENTS))), False))
    out = []
    for row in wanted.to_pylist():
        profile = None
        for column in ("user_id", "anonymous_id"):
            value = (row.get(column) or "").strip()
            if not value:
                continue
            typed = rules.source_id_types.get(row["source"] or "", {}).get(column, column)
            linked = [p for p, s in _holders(index, typed, value) if s == "linked"]
            if len(linked) == 1:
                profile = linked[0]
                break
        if profile is None:
            continue
        props = json.loads(row["properties"] or "{}")
        mid, seq, event = str(row["message_id"]), int(row["load_seq"]), row["event"]
        if event in EVENT_KINDS:
            if props.get("product_id"):
                out.append(
                    (profile, LiveEntry(mid, seq, str(props["product_id"]), EVENT_KINDS[event]))
                )
        elif event == CONTENT_EVENT:
            if props.get("content_type") in CONTENT_TYPES:
                out.append((profile, LiveEntry(mid, seq, None, "content", props["content_type"])))
        else:
            for p in props.get("products") or []:
                if isinstance(p, dict) and p.get("product_id"):
                    out.append((profile, LiveEntry(mid, seq, str(p["product_id"]), "purchase")))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    index = make_index(args.people)
    rules = load_rules()
    batches = [make_batch(args.people, args.batch, seed) for seed in range(args.batches)]
    entries_of(batches[0], index, rules)  # the index's NumPy copy, once per index
    wall: dict[str, list[float]] = {"per event (baseline)": [], "per batch": []}
    cpu: dict[str, list[float]] = {"per event (baseline)": [], "per batch": []}
    for batch in batches:
        for name, run in (("per event (baseline)", rowwise), ("per batch", entries_of)):
            began, began_cpu = time.perf_counter(), time.thread_time()
            answer = run(batch, index, rules)
            wall[name].append(time.perf_counter() - began)
            cpu[name].append(time.thread_time() - began_cpu)
            if name == "per event (baseline)":
                old = answer
        assert old == answer, "the two implementations disagree"
    print(f"{args.batches} batches of {args.batch} events, index of {len(index):,} identifiers")
    print("  (this thread's CPU bounds the time the feed holds the GIL: DuckDB releases it)")
    for name in wall:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        rate = args.batch / w
        print(
            f"  {name:22s} {w * 1000:8.1f} ms per batch ({rate:9,.0f} events/s), "
            f"this thread's CPU {c * 1000:7.1f} ms"
        )
    ratio = statistics.median(wall["per event (baseline)"]) / statistics.median(wall["per batch"])
    held = statistics.median(cpu["per event (baseline)"]) / statistics.median(cpu["per batch"])
    print(f"ratio (same entries): {ratio:.1f}x faster, {held:.1f}x less of this thread's CPU")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
