"""Tag rules: the shipped file parses, and a bad rule names its place, value and options."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.errors import ValidationError
from omnichannel.profiles.tags import load_tags, parse_tags


def test_default_tags_parse() -> None:
    tags = load_tags()
    names = [t.name for t in tags.tags]
    assert {"high value", "store only", "app first", "lapsing"} <= set(names)


def _error(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_tags(text)
    return info.value


def test_unknown_operator_names_field_value_and_accepted() -> None:
    err = _error("tags:\n  - name: x\n    all: [{field: orders, op: '=>', value: 2}]\n")
    assert err.field == "tags[0].all[0].op"
    assert err.value == "=>"
    assert ">=" in err.accepted and "top_percent" in err.accepted


def test_unknown_field_lists_the_traits() -> None:
    err = _error("tags:\n  - name: x\n    any: [{field: clv, op: '>', value: 2}]\n")
    assert err.field == "tags[0].any[0].field"
    assert err.value == "clv"
    assert "predicted_clv" in err.accepted


def test_value_of_the_wrong_type() -> None:
    err = _error("tags:\n  - name: x\n    all: [{field: orders, op: '>', value: many}]\n")
    assert (err.field, err.value) == ("tags[0].all[0].value", "many")
    assert "number" in err.accepted
    err = _error("tags:\n  - name: x\n    all: [{field: revenue, op: top_percent, value: 150}]\n")
    assert "percentage" in err.accepted
    err = _error("tags:\n  - name: x\n    all: [{field: rfm_segment, op: '<', value: a}]\n")
    assert err.field == "tags[0].all[0].op"


def test_structure_errors() -> None:
    assert _error("tags:\n  - name: x\n").accepted.startswith("exactly one of all or any")
    assert _error("tags: {}\n").field == "given"
    err = _error("tags:\n  - name: x\n    all: [{field: orders, op: '>', value: 1, unit: d}]\n")
    assert err.field == "tags[0].all[0].unit"
    err = _error(
        "tags:\n  - {name: x, all: [{field: orders, op: '>', value: 1}]}\n"
        "  - {name: x, all: [{field: orders, op: '>', value: 2}]}\n"
    )
    assert (err.field, err.value) == ("tags.name", "x")


def test_nested_groups_parse(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(
        "tags:\n  - name: mixed\n    any:\n      - {not: {field: p_alive, op: is null}}\n"
        "      - all: [{field: channels, op: contains, value: store}]\n"
    )
    tags = load_tags(path)
    assert tags.origin == str(path)
    assert tags.tags[0].condition.kind == "any"
    with pytest.raises(ValidationError) as info:
        load_tags(tmp_path / "missing.yaml")
    assert info.value.field == "--tags"
