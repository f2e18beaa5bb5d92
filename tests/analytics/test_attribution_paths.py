"""Path files: columns, separators and numbers, and the errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.analytics.attribution.paths import paths_from_counts, read_paths_csv
from omnichannel.analytics.attribution.service import attribute_file
from omnichannel.errors import ValidationError


def test_a_file_in_chanelattribution_layout_reads_with_its_separator_detected(
    tmp_path: Path,
) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "search > email > direct;3;300.5;2\n"
        "social;0;0;7\n",
        encoding="utf-8",
    )
    paths = read_paths_csv(file)
    assert paths.channels == ("direct", "email", "search", "social")
    assert paths.lengths.tolist() == [3, 1]
    assert paths.conversions.tolist() == [3, 0]
    assert paths.value.tolist() == [300.5, 0]
    assert paths.nulls.tolist() == [2, 7]


def test_a_given_separator_splits_paths() -> None:
    paths = read_paths_csv('path,conversions\n"a|b>c",1\n', sep="|")
    assert [paths.channels[i] for i in paths.touches] == ["a", "b>c"]


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        read_paths_csv("path,value\na > b,10\n", name="paths.csv")
    assert caught.value.field == "paths.csv: column conversions"
    assert "path, conversions" in str(caught.value)


def test_a_separator_the_paths_do_not_use_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"sep='\|'.*contain '>'"):
        read_paths_csv("path,conversions\na > b,1\n", sep="|")
    with pytest.raises(ValidationError, match="sep=' '"):
        read_paths_csv("path,conversions\na > b,1\n", sep=" ")


def test_a_row_with_a_bad_number_is_left_out_with_its_reason_and_the_rest_counts() -> None:
    result = attribute_file(
        "path,conversions,value,nulls\na > b,2,20,0\nb,two,0,0\na,1,-5,0\nb,1,10,1\n",
        "last_touch",
    )
    assert result["rejected"] == [
        {"line": 3, "field": "conversions", "value": "two", "reason": "a number >= 0"},
        {"line": 4, "field": "value", "value": "-5", "reason": "a number >= 0"},
    ]
    assert {r["channel"]: r["conversions"] for r in result["channels"]} == {"a": 0.0, "b": 3.0}
    assert result["conversions"] == 3


def test_a_file_with_no_usable_row_is_an_error_naming_the_lines() -> None:
    with pytest.raises(ValidationError, match=r"line 2: conversions='x'"):
        read_paths_csv("path,conversions\na > b,x\n")


def test_json_path_counts_take_text_or_lists() -> None:
    paths = paths_from_counts(
        [{"path": "a > b", "conversions": 1, "value": 5}, {"path": ["b"], "nulls": 2}]
    )
    assert paths.lengths.tolist() == [2, 1] and paths.nulls.tolist() == [0, 2]
    with pytest.raises(ValidationError) as caught:
        paths_from_counts([{"path": "a", "conversions": "many"}])
    assert caught.value.field == "paths[0].conversions"


def test_an_unknown_model_names_the_accepted_ones() -> None:
    with pytest.raises(ValidationError, match=r"model='magic'.*markov, shapley"):
        attribute_file("path,conversions\na,1\n", "magic")
