"""The identifier index answers by bisection over its sorted keys, one key or a batch.

The index is an Arrow string array read through its buffers (``_Keys``): these cases pin
what a lookup must see whatever the array's layout (sliced, large_string, non-ASCII keys,
nulls sorted last) and what an event's id resolves to (exactly one linked holder).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from omnichannel.profiles.lookup import SEP, ProfileIndex


def _index(rows: list[tuple[str | None, str, str]], keys_type: pa.DataType) -> ProfileIndex:
    table = pa.table(
        {
            "key": pa.array([r[0] for r in rows], keys_type),
            "profile_id": [r[1] for r in rows],
            "status": [r[2] for r in rows],
        }
    )
    table = table.take(pc.sort_indices(table, sort_keys=[("key", "ascending")]))
    return ProfileIndex(
        keys=table.column("key").combine_chunks(),
        profiles=pc.dictionary_encode(table.column("profile_id")).combine_chunks(),
        statuses=pc.dictionary_encode(table.column("status")).combine_chunks(),
        types=frozenset({"email", "user_id"}),
        stamp=(),
    )


ROWS = [
    (f"email{SEP}ann@example.com", "p1", "linked"),
    (f"email{SEP}shared@example.com", "p1", "refused"),
    (f"email{SEP}shared@example.com", "p2", "refused"),
    (f"user_id{SEP}u1", "p1", "linked"),
    (f"user_id{SEP}twice", "p3", "linked"),
    (f"user_id{SEP}twice", "p4", "linked"),
    (f"user_id{SEP}李雷", "p5", "linked"),  # UTF-8 bytes sort like code points
    (f"user_id{SEP}z", "p6", "linked"),
    (None, "p7", "linked"),  # a null key, sorted last
]


@pytest.mark.parametrize("keys_type", [pa.string(), pa.large_string()])
def test_each_key_finds_its_holders_and_a_batch_only_sole_linked_ones(
    keys_type: pa.DataType,
) -> None:
    index = _index(ROWS, keys_type)
    assert index.holders("email", "ann@example.com") == [("p1", "linked")]
    assert sorted(index.holders("email", "shared@example.com")) == [
        ("p1", "refused"),
        ("p2", "refused"),
    ]
    assert index.holders("user_id", "李雷") == [("p5", "linked")]
    assert index.holders("user_id", "z") == [("p6", "linked")]
    assert index.holders("user_id", "zz") == [] and index.holders("email", "") == []
    asked = [f"user_id{SEP}{v}" for v in ("u1", "twice", "李雷", "z", "missing", "u1")]
    asked.append(f"email{SEP}shared@example.com")
    # "twice" has two linked holders and "shared" none linked: neither resolves.
    assert index.sole_linked(asked) == {
        f"user_id{SEP}u1": "p1",
        f"user_id{SEP}李雷": "p5",
        f"user_id{SEP}z": "p6",
    }


def test_a_sliced_key_array_is_read_from_its_own_offset() -> None:
    whole = _index(ROWS, pa.string())
    # Keys 3.. of the sorted index, as a slice sharing the whole array's buffers.
    part = ProfileIndex(
        keys=whole.keys.slice(3),
        profiles=whole.profiles.slice(3),
        statuses=whole.statuses.slice(3),
        types=whole.types,
        stamp=(),
    )
    sorted_keys = whole.keys.to_pylist()
    for position, key in enumerate(sorted_keys[3:]):
        if key is None:
            continue
        id_type, _, value = key.partition(SEP)
        assert (
            str(whole.profiles[position + 3]),
            str(whole.statuses[position + 3]),
        ) in part.holders(id_type, value)
    assert part.holders(*sorted_keys[0].partition(SEP)[::2]) == []
