"""The journey document: what it accepts, what it refuses (naming the path), and the
published JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from omnichannel.errors import ValidationError
from omnichannel.journeys.definition import json_schema, parse_journey, routes, step_kind
from omnichannel.journeys.matching import key_text, passes, property_value
from omnichannel.segments.definition import PropertyTest

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "journey.schema.json"

CART = """
name: abandoned-cart
entry:
  event: {name: Product Added, key: cartId}
reentry: {mode: always}
goal: {event: Order Completed, same_key: true, within: 7d}
start: wait-an-hour
steps:
  wait-an-hour: {wait: 1h, next: bought}
  bought:
    wait_for: {event: Order Completed, same_key: true, timeout: 23h}
    on_event: done
    on_timeout: split
  split:
    split: {arms: [{name: reminder, weight: 1, next: reminder}], holdout: 10}
  reminder: {send: {channel: email, template: cart-reminder}, next: loyal}
  loyal:
    condition: {trait: {field: rfm_segment, in: [champions]}}
    then: done
    else: done
  done: {exit: {}}
"""


def _refused(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_journey(text)
    return caught.value


def test_a_keyed_cart_journey_parses_and_round_trips() -> None:
    journey = parse_journey(CART)
    assert journey.entry.key == "cartId"
    assert journey.goal is not None and journey.goal.within == timedelta(days=7)
    assert step_kind(journey.steps["bought"]) == "wait_for"
    assert routes(journey.steps["bought"]) == {"on_event": "done", "on_timeout": "split"}
    assert routes(journey.steps["split"]) == {"reminder": "reminder"}
    assert journey.channels() == {"email"} and journey.templates() == {"cart-reminder"}
    assert journey.event_names() == {"Product Added", "Order Completed"}
    document = journey.document()
    assert document["steps"]["wait-an-hour"] == {"wait": "1h", "next": "bought"}
    assert parse_journey(json.dumps(document)) == journey


@pytest.mark.parametrize(
    ("steps", "path", "accepted"),
    [
        (
            "{a: {send: {channel: email, template: t}, next: zz}}",
            "steps.a.next",
            "one of the steps",
        ),
        ("{a: {wait: 3 days, next: a}}", "steps.a.wait", "a duration"),
        (
            "{a: {send: {channel: email, template: t}, next: a}}",
            "steps.a",
            "loops pass through a wait",
        ),
        ("{a: {flurb: 1}}", "steps.a", "one of: wait, wait_until"),
        ("{a: {exit: {}}, b: {exit: {}}}", "steps.b", "reached from a"),
        (
            "{a: {wait_for: {event: B, same_key: true, timeout: 1d}}}",
            "steps.a.wait_for.same_key",
            "entry event with a key",
        ),
        ("{a: {wait_until: {time: '25:00'}}}", "steps.a.wait_until.time", "HH:MM"),
        (
            "{a: {condition: {trait: {field: nope, equals: 1}}}}",
            "steps.a.condition.trait.field",
            "a profile trait",
        ),
        ("{a: {send: {channel: email}}}", "steps.a.send.template", "a template or content"),
    ],
)
def test_a_bad_step_is_refused_naming_its_path(steps: str, path: str, accepted: str) -> None:
    error = _refused(f"name: x\nentry: {{event: {{name: A}}}}\nstart: a\nsteps: {steps}")
    assert error.field == path
    assert accepted in str(error)


def test_entries_reentry_and_schedules_are_checked() -> None:
    assert "exactly one of event, segment" in str(
        _refused("name: x\nentry: {}\nstart: a\nsteps: {a: {exit: {}}}")
    )
    error = _refused(
        "name: x\nentry: {schedule: {cron: '0 9 * * funday'}}\nstart: a\nsteps: {a: {exit: {}}}"
    )
    assert error.field == "entry.schedule.cron"
    error = _refused(
        "name: x\nentry: {event: {name: A}}\nreentry: {mode: after}\n"
        "start: a\nsteps: {a: {exit: {}}}"
    )
    assert error.field == "reentry.wait"
    ok = parse_journey(
        "name: x\nentry: {date: {trait: birthday, at: '08:30'}}\n"
        "reentry: {mode: after, wait: 300d}\n"
        "start: a\nsteps: {a: {exit: {}}}"
    )
    assert ok.entry.kind == "date" and ok.reentry.wait == timedelta(days=300)


def test_the_published_schema_is_current() -> None:
    """Fails when docs/journey.schema.json is stale: regenerate it with
    ``python -m omnichannel.journeys.definition > docs/journey.schema.json``."""
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()


def test_property_filters_read_values_as_their_operands_type() -> None:
    now = datetime(2026, 12, 1, 12)
    props = {"total": "80.5", "cart": {"id": 42}, "coupon": None, "paid": "true"}
    assert property_value(props, "cart.id") == 42 and key_text(42) == key_text("42") == "42"
    assert passes([PropertyTest(property="total", gte=50)], props, now)
    assert not passes([PropertyTest(property="total", lt=50)], props, now)
    assert passes([PropertyTest(property="paid", equals=True)], props, now)
    assert passes([PropertyTest(property="coupon", exists=False)], props, now)
    assert not passes([PropertyTest(property="missing", equals="x")], props, now)
    assert passes([], None, now)
