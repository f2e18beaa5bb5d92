"""The linkage YAML: clear errors before any data is read, and normalisation on every engine."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from omnichannel.errors import ConfigError, ValidationError
from omnichannel.identity.linkage import LinkageError, prepare_records, run_linkage
from omnichannel.identity.linkage_config import (
    DEFAULT_CONFIG,
    DEFAULTS,
    BlockItem,
    LinkageConfig,
    load_config,
    parse_config,
)
from omnichannel.warehouse import open_warehouse
from tests.cli.run import omni_in_process
from tests.support.demo import LINKAGE_DEMO, demo_warehouse


def _default() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text())
    return copy.deepcopy(doc)


def test_the_shipped_default_parses_and_compares_names_dates_and_addresses() -> None:
    config = load_config()
    assert config.compared_fields == (
        "first_name",
        "last_name",
        "birth_date",
        "address",
        "address_line2",
    )
    assert config.comparison("address").postcode == "postcode"
    assert config.comparison("address").region == "region"
    assert "postcode" in config.input_fields
    assert 0 < config.threshold < 1
    assert config.training.em_blocking


def test_an_unknown_comparison_names_the_field_the_value_and_the_choices() -> None:
    doc = _default()
    doc["comparisons"]["first_name"]["comparison"] = "fuzzy"
    with pytest.raises(ValidationError) as err:
        parse_config(doc)
    assert err.value.field == "comparisons.first_name.comparison"
    assert err.value.value == "fuzzy"
    assert "jaro_winkler" in err.value.accepted and "date_of_birth" in err.value.accepted


def test_a_field_customer_records_lacks_is_refused_with_the_columns_it_has() -> None:
    doc = _default()
    doc["comparisons"]["shoe_size"] = {"comparison": "exact"}
    with pytest.raises(ValidationError) as err:
        parse_config(doc)
    assert (err.value.field, err.value.value) == ("comparisons", "shoe_size")
    assert "birth_date" in err.value.accepted and "postcode" in err.value.accepted


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("blocking",), [["first_name", "nickname"]], "blocking[0]"),
        (("blocking",), [["first_name[:x]"]], "blocking[0]"),
        (("training", "em_blocking"), [], "training.em_blocking"),
        (
            ("comparisons", "last_name", "thresholds"),
            [0.8, 0.92],
            "comparisons.last_name.thresholds",
        ),
        (("comparisons", "last_name", "colour"), "blue", "comparisons.last_name"),
        (
            ("comparisons", "first_name"),
            {"comparison": "date_of_birth"},
            "comparisons.first_name.comparison",
        ),
        (("comparisons", "first_name", "contains"), "yes", "comparisons.first_name.contains"),
        (("threshold",), 1.5, "threshold"),
        (("backend",), "bigquery", "backend"),
        (("sources",), {"pos": ["shoe_size"]}, "sources.pos"),
    ],
)
def test_config_mistakes_name_the_key(path: tuple[str, ...], value: object, field: str) -> None:
    doc = _default()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as err:
        parse_config(doc)
    assert err.value.field == field


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read linkage config"):
        load_config(tmp_path / "nope.yaml")


def test_spark_backend_without_pyspark_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyspark is in the dev extra, so its absence is made: None in sys.modules fails import.
    monkeypatch.setitem(sys.modules, "pyspark", None)
    doc = _default()
    doc["backend"] = "spark"
    with open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        wh.append("customer_records", _records())
        with pytest.raises(ConfigError, match="pyspark"):
            run_linkage(warehouse=wh, config=parse_config(doc), write=False)


def test_linkage_of_an_empty_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with (
        open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh,
        pytest.raises(LinkageError, match="at least two customer records"),
    ):
        run_linkage(warehouse=wh)


def _with_swap() -> LinkageConfig:
    doc = _default()
    doc["comparisons"]["birth_date"]["swap_day_month"] = True
    return parse_config(doc)


def _records() -> pa.Table:
    return pa.table(
        {
            "source": ["crm", "pos", "tmall", "wechat"],
            "record_id": ["C1", "P1", "T1", "W1"],
            "first_name": ["  Mei  Ling ", "LI", "Wei.", None],
            "last_name": ["ZHANG", "wang", "Chen", None],
            "birth_date": [date(1987, 3, 21), date(1990, 12, 25), None, None],
            "postcode": ["200 457", "100-200", "51O1", None],
            "address": ["#88 Huaihai Rd,  Room 5", "No. 5 Chang'an Avenue", None, None],
        }
    )


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_normalisation_reads_the_same_on_every_engine(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine == "duckdb":
        url = f"duckdb:///{tmp_path / 'omni.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_database").replace(
            "postgresql://", "postgres://", 1
        )
    with open_warehouse(url) as wh:
        wh.append("customer_records", _records())
        rows = prepare_records(wh, _with_swap()).to_pylist()
    # The WeChat follower has no name: nothing to compare, so it takes no part.
    assert [r["unique_id"] for r in rows] == ["crm:C1", "pos:P1", "tmall:T1"]
    crm, pos, tmall = rows
    assert (crm["first_name"], crm["last_name"]) == ("mei ling", "zhang")
    assert crm["birth_date"] == "1987-03-21"
    assert crm["birth_date__swapped"] is None  # day 21 cannot be a month
    assert pos["birth_date__swapped"] is None  # day 25 neither
    assert (
        crm["postcode"] == "200457" and pos["postcode"] == "100200" and tmall["postcode"] == "51O1"
    )
    assert crm["address"] == "no 88 huaihai road room 5"
    assert pos["address"] == "no 5 chang'an avenue"
    assert tmall["first_name"] == "wei" and tmall["birth_date"] is None


def test_day_month_swap_is_prepared_for_dates_that_allow_it(tmp_path: Path) -> None:
    with open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        wh.append(
            "customer_records",
            pa.table(
                {
                    "source": ["crm"],
                    "record_id": ["C1"],
                    "first_name": ["a"],
                    "birth_date": [date(1990, 4, 9)],
                }
            ),
        )
        row = prepare_records(wh, _with_swap()).to_pylist()[0]
    assert (row["birth_date"], row["birth_date__swapped"]) == ("1990-04-09", "1990-09-04")


def test_a_source_can_leave_a_field_out_of_the_comparison(tmp_path: Path) -> None:
    doc = _default()
    doc["sources"] = {"*": "all", "tmall": ["first_name", "last_name"]}
    with open_warehouse(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        wh.append(
            "customer_records",
            _records().slice(0, 3).set_column(6, "address", pa.array(["x", "y", "z"])),
        )
        rows = {r["source"]: r for r in prepare_records(wh, parse_config(doc)).to_pylist()}
    assert rows["tmall"]["address"] is None and rows["tmall"]["postcode"] is None
    assert rows["crm"]["address"] == "x"


def test_cli_runs_linkage_and_explains_a_record(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path / "home"
    # test_linkage.py's demo home (generated once per run), not one of its own.
    demo_warehouse(
        tmp_path_factory, LINKAGE_DEMO, f"duckdb:///{home / 'omni.duckdb'}", tmp_path / "truth"
    )

    def omni(*args: str) -> subprocess.CompletedProcess[str]:
        return omni_in_process(*args, home=home, check=False)

    run = omni("linkage", "run", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["links"] > 0 and report["model"] == "splink-default"
    assert report["link_type"] == "link_and_dedupe"
    left = report["top_links"][0]["left"]
    explained = json.loads(omni("linkage", "explain", left, "--json").stdout)
    assert explained and set(explained[0]["explanation"]) >= {"first_name", "birth_date"}
    bad = omni("linkage", "run", "--threshold", "2")
    assert bad.returncode == 1 and "--threshold=2.0 is not accepted" in bad.stderr


def _documented_defaults() -> dict[str, object]:
    """The "Defaults" table of docs/linkage.md: key (with its qualifier) -> YAML value."""
    text = (Path(__file__).parents[2] / "docs" / "linkage.md").read_text(encoding="utf-8")
    section = text.split("### Defaults", 1)[1].split("\n#", 1)[0]
    row = re.compile(r"^\| `(?P<key>[^`]+)`(?: \((?P<kind>\w+)\))? \| `(?P<value>[^`]+)` \|$")
    found = {}
    for line in section.splitlines():
        match = row.match(line.strip())
        if match:
            key = match["key"] + (f" ({match['kind']})" if match["kind"] else "")
            found[key] = yaml.safe_load(match["value"])
    return found


def test_a_config_omitting_keys_gets_the_defaults_the_docs_list() -> None:
    documented = _documented_defaults()
    minimal = parse_config(
        {
            "comparisons": {
                "first_name": "jaro_winkler",
                "phone": "levenshtein",
                "birth_date": "date_of_birth",
                "address": {"comparison": "address", "postcode": "postcode"},
            },
            "blocking": [["first_name"]],
            "training": {"em_blocking": [["birth_date"]]},
        }
    )
    first, phone = minimal.comparison("first_name"), minimal.comparison("phone")
    birth, address = minimal.comparison("birth_date"), minimal.comparison("address")
    parsed = {
        "model": minimal.model,
        "threshold": minimal.threshold,
        "backend": minimal.backend,
        "link_type": minimal.link_type,
        "skip_shared_identifiers": minimal.skip_shared_identifiers,
        "sources": {s: "all" for s in minimal.sources},
        "training.u_max_pairs": minimal.training.u_max_pairs,
        "training.seed": minimal.training.seed,
        "training.prior_recall": minimal.training.prior_recall,
        "comparisons.*.thresholds (similarity)": list(first.thresholds),
        "comparisons.*.thresholds (distance)": list(phone.thresholds),
        "comparisons.*.term_frequency_adjustments": first.term_frequency_adjustments,
        "comparisons.*.contains": first.contains,
        "comparisons.*.swap_day_month": birth.swap_day_month,
        "comparisons.*.within_days": list(birth.within_days),
        "comparisons.*.one_edit": address.one_edit,
        "comparisons.*.prefixes": list(address.prefixes),
    }
    assert parsed == documented
    first_three = tuple(BlockItem(f) for f in ("first_name", "phone", "birth_date"))
    assert minimal.training.prior_rules == (first_three,)
    # Every documented default is the code's, and the code has no undocumented one.
    assert documented == DEFAULTS
    # The shipped file says the same wherever it sets a documented top-level key.
    shipped = _default()
    assert {k: shipped[k] for k in documented if k in shipped} == {
        k: documented[k] for k in documented if k in shipped
    }
