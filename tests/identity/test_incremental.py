"""Incremental runs: only new observations are processed, and the answer equals a rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from omnichannel.demo import DemoConfig
from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.identity.support import add_ids, partition, profile_of
from tests.support.demo import fill_with_demo


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(warehouse_url) as warehouse:
        yield warehouse


def _profiles(wh: Warehouse) -> dict[str, str]:
    rows = wh.table("record_profiles").to_pyarrow().to_pylist()
    return {f"{r['source']}/{r['record_id']}": r["profile_id"] for r in rows}


def _outputs(wh: Warehouse) -> dict[str, set[tuple[object, ...]]]:
    """Every output row except run timestamps, for comparing two runs."""
    tables = {
        "record_profiles": ["source", "record_id", "profile_id", "cluster_id"],
        "profile_identifiers": ["profile_id", "id_type", "id_value", "status", "records"],
        "identity_merges": ["profile_id", "id_type", "id_value", "source", "record_id", "rule"],
        "identity_refusals": ["id_type", "id_value", "rule", "detail", "records"],
    }
    out = {}
    for name, columns in tables.items():
        rows = wh.table(name).select(*columns).to_pyarrow().to_pylist()
        out[name] = {tuple(r[c] for c in columns) for r in rows}
    return out


def test_new_identifiers_extend_profiles_and_keep_their_ids(wh: Warehouse) -> None:
    add_ids(
        wh,
        [
            ("crm", "C1", "email", "ann@x.cn", 0),
            ("crm", "C1", "user_id", "u1", 0),
            ("crm", "C2", "email", "bob@x.cn", 1),
            ("crm", "C3", "user_id", "u3", 2),
            ("crm", "C3", "device_id", "PAD", 2),
        ],
    )
    first = resolve(wh)
    assert first.mode == "full"
    ann, bob = profile_of(wh, "crm", "C1"), profile_of(wh, "crm", "C2")

    add_ids(
        wh,
        [
            ("shop", "S1", "email", "ann@x.cn", 10),  # joins Ann
            ("shop", "S2", "email", "new@x.cn", 10),  # a new person
            ("app", "E9", "user_id", "u9", 11),  # the family pad gets a second user: over-shared
            ("app", "E9", "device_id", "PAD", 11),
        ],
    )
    second = resolve(wh)
    assert second.mode == "incremental"
    assert second.new_observations == 4
    # Only the records the new rows touch are re-resolved, not Bob.
    assert second.records_resolved < second.records
    assert profile_of(wh, "shop", "S1") == ann == profile_of(wh, "crm", "C1")
    assert profile_of(wh, "crm", "C2") == bob
    assert profile_of(wh, "shop", "S2") not in {ann, bob}
    assert profile_of(wh, "app", "E9") != profile_of(wh, "crm", "C3")
    incremental = _outputs(wh)

    assert resolve(wh).new_observations == 0  # nothing new: nothing done
    resolve(wh, full=True)
    assert _outputs(wh) == incremental


def test_incremental_equals_full_on_the_demo(
    wh: Warehouse, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo's identifiers in two loads by time, resolved in turn: same as one rebuild."""
    fill_with_demo(
        tmp_path_factory, DemoConfig(seed=3, people=400, days=20), wh, tmp_path / "truth"
    )
    everything = wh.table("identifiers").to_pyarrow()
    cut = pc.approximate_median(pc.cast(everything["observed_at"], pa.int64())).as_py()
    later = pc.greater(pc.cast(everything["observed_at"], pa.int64()), cut)
    wh.truncate(["identifiers"])
    wh.append("identifiers", everything.filter(pc.invert(later)))
    resolve(wh)
    before = _profiles(wh)
    wh.append("identifiers", everything.filter(later))
    report = resolve(wh)
    assert report.mode == "incremental"
    assert report.records_resolved < report.records
    incremental = _outputs(wh)
    after = _profiles(wh)

    resolve(wh, full=True)
    assert _outputs(wh) == incremental
    assert len(partition(wh)) == report.profiles
    # A profile keeps its id when it grows; when earlier profiles merge, the oldest one's id
    # survives. Only a profile split by a newly over-shared identifier may get a new name.
    old_of_new: dict[str, set[str]] = {}
    new_of_old: dict[str, set[str]] = {}
    for record, old in before.items():
        old_of_new.setdefault(after[record], set()).add(old)
        new_of_old.setdefault(old, set()).add(after[record])
    renamed = [new for new, olds in old_of_new.items() if new not in olds]
    split = {old for old, news in new_of_old.items() if len(news) > 1}
    assert all(old_of_new[new] & split for new in renamed)
    assert len(renamed) <= len(split) < 0.05 * len(new_of_old)


def test_an_identifier_a_record_no_longer_carries_stops_joining_it(wh: Warehouse) -> None:
    """A newer version of a CRM record dropped the shared email: the merge comes apart."""
    add_ids(
        wh,
        [("crm", "1", "email", "ann@x.cn", 0), ("pos", "9", "email", "ann@x.cn", 0)],
    )
    resolve(wh, full=True)
    assert profile_of(wh, "crm", "1") == profile_of(wh, "pos", "9")
    wh.delete_keys(
        "identifiers",
        pa.table({"source": ["crm"], "record_id": ["1"], "id_type": ["email"]}),
    )  # what the connector does when a new version of crm/1 lacks the email
    add_ids(wh, [("crm", "1", "phone", "+8613800000001", 1)])
    report = resolve(wh)  # asked for incremental
    assert report.mode == "full"  # an observation is gone: only a rebuild can split
    assert profile_of(wh, "crm", "1") != profile_of(wh, "pos", "9")
