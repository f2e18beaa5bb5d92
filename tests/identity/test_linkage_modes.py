"""Link-only between sources, records without names, and fast default training, on FEBRL.

A slice of the public FEBRL dataset 4 (every 25th person: 200 in file 4a, their
duplicates in file 4b) is loaded through the CRM connector with the shipped ``febrl``
mapping, as a user would, into a real DuckDB warehouse.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from omnichannel.errors import ValidationError
from omnichannel.identity.linkage import LinkageError, LinkageResult, run_linkage
from omnichannel.identity.linkage_config import DEFAULT_CONFIG, parse_config, splink_comparison
from omnichannel.identity.linkage_eval import Pair, pair_of, pairs_of_links, score
from omnichannel.identity.linkage_febrl import febrl_truth, load_febrl
from omnichannel.warehouse import Warehouse, open_warehouse

SOURCES = {"febrl4a": "dataset4a", "febrl4b": "dataset4b"}


def _sampled(number: str) -> bool:
    return int(number) % 25 == 0


def _config(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def febrl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("febrl")
    with open_warehouse(f"duckdb:///{root / 'omni.duckdb'}") as wh:
        for source, dataset in SOURCES.items():
            load_febrl(wh, dataset, source=source, work_dir=root, keep=_sampled)
        yield wh


def _record(wh: Warehouse, source: str, record_id: str) -> dict[str, Any]:
    t = wh.table("customer_records")
    rows = t.filter(t.source == source, t.record_id == record_id).to_pyarrow().to_pylist()
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


def _add(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    columns = ["source", "record_id", "first_name", "last_name", "birth_date", "address"]
    columns += ["address_line2", "city", "region", "postcode"]
    wh.append("customer_records", pa.table({c: [r.get(c) for r in rows] for c in columns}))


@pytest.fixture(scope="module")
def twin(febrl: Warehouse) -> Pair:
    """A second copy of one 4a record inside 4a itself: a duplicate within one source."""
    original = _record(febrl, "febrl4a", "rec-100-org")
    _add(febrl, [{**original, "record_id": "rec-100-copy"}])
    return ("febrl4a", "rec-100-org"), ("febrl4a", "rec-100-copy")


@pytest.fixture(scope="module")
def link_only(febrl: Warehouse, twin: Pair) -> LinkageResult:
    return run_linkage(
        warehouse=febrl, config=parse_config(_config(link_type="link_only")), write=False
    )


def test_link_only_finds_the_cross_source_pairs_and_never_pairs_one_source(
    febrl: Warehouse, link_only: LinkageResult
) -> None:
    pairs = pairs_of_links(link_only.links_table)
    assert pairs and all(a[0] != b[0] for a, b in pairs)
    truth = febrl_truth(SOURCES, keep=_sampled)
    found = score(pairs, truth.pairs)
    # Measured with the shipped model: P 1.000, R 0.960 (192 of the 200 true pairs).
    assert found.precision is not None and found.precision >= 0.98
    assert found.recall is not None and found.recall >= 0.9
    assert link_only.links_by_sources == {"febrl4a-febrl4b": len(pairs)}
    assert link_only.as_dict()["link_type"] == "link_only"


def test_link_and_dedupe_also_finds_the_duplicate_inside_one_source(
    febrl: Warehouse, twin: Pair, link_only: LinkageResult
) -> None:
    both = run_linkage(warehouse=febrl, config=parse_config(_config()), write=False)
    assert pair_of(*twin) in pairs_of_links(both.links_table)
    assert pair_of(*twin) not in pairs_of_links(link_only.links_table)


def test_a_record_without_names_links_on_birth_date_and_address(febrl: Warehouse) -> None:
    known = _record(febrl, "febrl4a", "rec-200-org")
    _add(
        febrl,
        [{**known, "source": "shop", "record_id": "S-1", "first_name": None, "last_name": None}],
    )
    result = run_linkage(warehouse=febrl, config=parse_config(_config()), write=False)
    assert pair_of(("febrl4a", "rec-200-org"), ("shop", "S-1")) in pairs_of_links(
        result.links_table
    )


def test_region_and_second_address_line_take_part_in_the_default_model(
    link_only: LinkageResult,
) -> None:
    levels = {p["field"]: [lv["level"] for lv in p["levels"]] for p in link_only.parameters}
    assert "same region" in levels["address"]
    assert "address_line2" in levels
    assert link_only.m_probability("address_line2", "exact") is not None


SWAP = "one digit different or day and month swapped"


def _birth_date_labels(swap: object | None) -> list[str]:
    spec: dict[str, Any] = {"comparison": "date_of_birth"}
    if swap is not None:
        spec["swap_day_month"] = swap
    doc = {
        "comparisons": {"birth_date": spec},
        "blocking": [["birth_date"]],
        "training": {"em_blocking": [["birth_date"]]},
    }
    comp = splink_comparison(parse_config(doc).comparison("birth_date"))
    return [lv.label_for_charts for lv in comp.get_comparison("duckdb").comparison_levels]


def test_default_training_has_no_day_month_swap_level_of_its_own(
    link_only: LinkageResult,
) -> None:
    # A level of its own is one random pairs almost never reach, so Splink's u sampling
    # could not stop early; by default a swap counts like one mistyped digit.
    levels = {p["field"]: [lv["level"] for lv in p["levels"]] for p in link_only.parameters}
    assert "day and month swapped" not in levels["birth_date"]
    assert SWAP in levels["birth_date"]
    assert "day and month swapped" not in _birth_date_labels(None)  # omitted from a config
    assert SWAP in _birth_date_labels(None)
    assert "day and month swapped" in _birth_date_labels("separate")  # asked for
    assert "one digit different" in _birth_date_labels(False)
    assert not any("swapped" in label for label in _birth_date_labels(False))
    with pytest.raises(ValidationError) as err:
        _birth_date_labels("yes")
    assert err.value.field == "comparisons.birth_date.swap_day_month"


def test_a_day_month_swapped_birth_date_links_and_says_so(febrl: Warehouse) -> None:
    t = febrl.table("customer_records")
    rows = t.filter(t.source == "febrl4a").order_by("record_id").to_pyarrow().to_pylist()
    known = next(
        r for r in rows if r["birth_date"] and r["birth_date"].month != r["birth_date"].day <= 12
    )
    born = known["birth_date"]
    swapped = born.replace(month=born.day, day=born.month)
    _add(febrl, [{**known, "source": "till", "record_id": "T-1", "birth_date": swapped}])
    result = run_linkage(warehouse=febrl, config=parse_config(_config()), write=False)
    pair = pair_of(("febrl4a", known["record_id"]), ("till", "T-1"))
    link = next(
        r
        for r in result.links_table.to_pylist()
        if pair_of((r["source_l"], r["record_id_l"]), (r["source_r"], r["record_id_r"])) == pair
    )
    assert json.loads(link["explanation"])["birth_date"]["level"] == SWAP


def test_link_only_needs_a_known_link_type() -> None:
    with pytest.raises(ValidationError) as err:
        parse_config(_config(link_type="link_everything"))
    assert (err.value.field, err.value.value) == ("link_type", "link_everything")
    assert "link_only" in err.value.accepted


def test_four_digit_postcodes_get_a_trained_nearby_postcode_level(
    link_only: LinkageResult,
) -> None:
    # "First 4 characters equal" would be "same postcode" on FEBRL's 4-digit codes: a
    # level no pair reaches, left untrained. The default drops the last 2 characters.
    address = next(p for p in link_only.parameters if p["field"] == "address")
    nearby = next(lv for lv in address["levels"] if "all but the last 2" in lv["level"])
    assert isinstance(nearby["m_probability"], float) and nearby["m_probability"] > 0
    assert isinstance(nearby["u_probability"], float) and nearby["u_probability"] > 0


def test_a_zero_postcode_prefix_is_refused() -> None:
    doc = _config()
    doc["comparisons"]["address"]["prefixes"] = [0]
    with pytest.raises(ValidationError) as err:
        parse_config(doc)
    assert err.value.field == "comparisons.address.prefixes" and err.value.value == 0


def test_link_only_with_a_single_source_says_so(tmp_path: Path) -> None:
    with open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        load_febrl(wh, "dataset4a", source="febrl4a", work_dir=tmp_path, keep=_sampled)
        with pytest.raises(LinkageError, match=r"only one source .*febrl4a \(200 records\)"):
            run_linkage(
                warehouse=wh, config=parse_config(_config(link_type="link_only")), write=False
            )
