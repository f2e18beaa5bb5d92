"""The condition document: what parses, what is refused (with path, value and what is
accepted), what a definition says about itself, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from omnichannel.errors import ValidationError
from omnichannel.segments.definition import (
    EventCondition,
    json_schema,
    parse_definition,
)

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "segment.schema.json"

EXAMPLE_YAML = """
name: ios-regulars
description: bought three times this month on the iOS app
condition:
  all:
    - trait: {field: rfm_segment, in: [champions, loyal customers]}
    - event:
        name: Order Completed
        where: [{property: total, gte: 50}]
        count: {at_least: 3}
        within: {last_days: 30}
    - device: {os_name: {equals: iOS}}
    - not: {segment: unsubscribed}
"""


def refused(doc: str | dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_definition(doc)
    return caught.value


def test_yaml_and_json_texts_and_mappings_give_the_same_definition() -> None:
    from_yaml = parse_definition(EXAMPLE_YAML)
    as_json = json.dumps(from_yaml.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert parse_definition(as_json) == from_yaml
    assert parse_definition(yaml.safe_load(EXAMPLE_YAML)) == from_yaml
    first = from_yaml.condition.all[1]  # type: ignore[union-attr]
    assert isinstance(first, EventCondition)
    assert first.event.counted().range() == (3, None)


def test_a_definition_names_its_references_events_and_clock() -> None:
    d = parse_definition(EXAMPLE_YAML)
    assert d.referenced_segments() == {"unsubscribed"}
    assert d.event_names() is None  # a device condition: any event may change it
    assert d.clock_sensitive()
    fixed = parse_definition(
        "name: a\ncondition: {any: [{event: {name: Signed Up, within: {since: 2026-01-01}}},"
        " {message: {keyword: vip}}, {segment: b}, {trait: {field: orders, gte: 1}}]}"
    )
    assert fixed.event_names() == {
        "Signed Up",
        "Message Received",
        "Segment Entered",
        "Segment Exited",
    }
    assert not fixed.clock_sensitive()
    assert parse_definition(
        "name: a\ncondition: {event: {name: X, first_time: {after: {days_ago: 7}}}}"
    ).clock_sensitive()


@pytest.mark.parametrize(
    ("condition", "path", "value", "accepted"),
    [
        # unknown fields
        (
            "{all: [{tag: a}, {event: {name: A, cuont: {at_least: 3}}}]}",
            "condition.all[1].event.cuont",
            {"at_least": 3},
            "one of name, where",
        ),
        (
            "{evnt: {name: A}}",
            "condition",
            {"evnt": {"name": "A"}},
            "an object with one key: all, any",
        ),
        ("{trait: {field: nope, equals: 1}}", "condition.trait.field", "nope", "a profile trait"),
        (
            "{device: {colour: {equals: red}}}",
            "condition.device.colour",
            {"equals": "red"},
            "os_name",
        ),
        # wrong operators
        ("{trait: {field: rfm_segment, gte: 3}}", "condition.trait.gte", 3, "rfm_segment (string)"),
        (
            "{trait: {field: rfm_segment, decile: [1]}}",
            "condition.trait.decile",
            [1],
            "a numeric trait",
        ),
        (
            "{trait: {field: last_order_at, equals: x}}",
            "condition.trait.equals",
            "x",
            "after, before",
        ),
        (
            "{event: {name: A, sum: {property: total, contains: x}}}",
            "condition.event.sum.contains",
            "x",
            "the aggregate of total",
        ),
        ("{device: {os_name: {gt: 3}}}", "condition.device.os_name.gt", 3.0, "device os_name"),
        (
            "{trait: {field: consent, equals: x}}",
            "condition.trait.field",
            "consent",
            "the consent condition",
        ),
        (
            "{event: {name: A, count: {at_least: 1}, sum: {property: t, gt: 1}}}",
            "condition.event.sum",
            {"property": "t", "gt": 1.0},
            "only one of count, sum",
        ),
        (
            "{event: {name: A, within: {last_days: 3}, first_time: {after: 2026-01-01}}}",
            "condition.event.within",
            {"last_days": 3.0},
            "no window with first_time",
        ),
        # type mismatches
        (
            "{event: {name: A, count: {at_least: three}}}",
            "condition.all[0].event.count.at_least".replace("all[0].", ""),
            "three",
            "integer",
        ),
        (
            "{any: [{not: {trait: {field: p_alive, lt: high}}}]}",
            "condition.any[0].not.trait.lt",
            "high",
            "number",
        ),
        (
            "{trait: {field: predicted_clv, equals: high}}",
            "condition.trait.equals",
            "high",
            "a number",
        ),
        (
            "{event: {name: A, within: {since: yesterday}}}",
            "condition.event.within.since",
            "yesterday",
            "{days_ago: N}",
        ),
        (
            "{event: {name: A, count: {at_least: 5, at_most: 2}}}",
            "condition.event.count.at_most",
            2,
            ">= at_least (5)",
        ),
        (
            "{event: {name: A, where: [{property: total, gte: abc}]}}",
            "condition.event.where[0].gte",
            "abc",
            "number",
        ),
        ("{any: []}", "condition.any", [], "at least 1 item"),
        (
            "{consent: {channel: push, status: maybe}}",
            "condition.consent.status",
            "maybe",
            "'granted'",
        ),
        ("{event: {}}", "condition.event.name", None, "required"),
    ],
)
def test_bad_documents_are_refused_with_path_value_and_what_is_accepted(
    condition: str, path: str, value: object, accepted: str
) -> None:
    error = refused(f"name: probe\ncondition: {condition}")
    assert error.field == path
    assert error.value == value
    assert accepted in error.accepted
    assert path in str(error)


def test_a_bad_name_and_unparseable_text_are_refused() -> None:
    assert refused("name: Big Spenders\ncondition: {tag: a}").field == "name"
    assert "slug" in refused("name: Big Spenders\ncondition: {tag: a}").accepted
    assert "line 1" in refused("name: [x").accepted
    assert refused("- just a list").field == "definition"
    assert refused({"name": "a", "condition": {"tag": "x"}, "owner": "me"}).field == "owner"


def test_the_published_schema_is_the_one_the_models_generate() -> None:
    """Fails when docs/segment.schema.json is stale: regenerate it with
    ``python -m omnichannel.segments.definition > docs/segment.schema.json``."""
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()


def test_the_schema_offers_every_condition_kind_and_refuses_unknown_keys() -> None:
    schema = json_schema()
    kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in schema["properties"]["condition"]["oneOf"]}
    assert {
        "AllOf",
        "NotOf",
        "TraitCondition",
        "EventCondition",
        "DeviceCondition",
        "SegmentCondition",
        "MessageCondition",
        "SequenceCondition",
    } <= kinds
    assert schema["$defs"]["NotOf"]["required"] == ["not"]
    assert all(
        d.get("additionalProperties") is False
        for d in schema["$defs"].values()
        if d.get("type") == "object"
    )
