"""``platform.journeys``: versions, the lifecycle, approvals, installation checks, archiving.

On the journey home of conftest.py (SQLite operational store, DuckDB warehouse).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omnichannel.config import Settings
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.audit import entries
from omnichannel.opstore.models import (
    EnrolmentState,
    JourneyEnrolment,
    User,
    UserRole,
)
from omnichannel.platform import Platform
from tests.journeys.conftest import JourneyHome
from tests.journeys.o_support import CART, add_enrolment, cart, with_step


def test_every_save_is_a_version_and_a_live_journey_keeps_its_live_version(
    platform: Platform,
) -> None:
    journeys = platform.journeys
    created = journeys.create(CART, actor="ana")
    assert (created["status"], created["version"], created["live_version"]) == ("draft", 1, None)
    assert journeys.save("cart", cart(description="v2"), actor="ana")["version"] == 2
    approved = journeys.approve("cart", actor="li")
    assert (approved["status"], approved["approved_version"], approved["approved_by"]) == (
        "approved",
        2,
        "li",
    )
    live = journeys.start("cart", actor="li")
    assert (live["status"], live["live_version"]) == ("live", 2)

    # An edit of a live journey: a new version, awaiting approval; entries still follow 2.
    edited = journeys.save("cart", cart(description="v3"), actor="ana")
    assert (edited["status"], edited["version"], edited["live_version"]) == ("live", 3, 2)
    assert edited["pending_approval"] is True
    shown = journeys.show("cart")
    assert shown["live_definition"]["description"] == "v2"
    assert shown["definition"]["description"] == "v3"
    assert [(v["version"], v["live"]) for v in shown["versions"]] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    journeys.approve("cart", actor="li")
    switched = journeys.start("cart", actor="li")
    assert (switched["status"], switched["live_version"], switched["pending_approval"]) == (
        "live",
        3,
        False,
    )
    with platform.opstore.session() as session:
        actions = [(e.action, e.actor) for e in entries(session, object_type="journey")]
    assert actions == [
        ("journey.create", "ana"),
        ("journey.save", "ana"),
        ("journey.approve", "li"),
        ("journey.start", "li"),
        ("journey.save", "ana"),
        ("journey.approve", "li"),
        ("journey.start", "li"),
    ]


def test_wrong_transitions_name_the_status_and_what_is_allowed(platform: Platform) -> None:
    journeys = platform.journeys
    journeys.create(CART, actor="ana")
    with pytest.raises(
        ConflictError, match="'cart' is draft: pause needs it live; it can be: approve, archive"
    ):
        journeys.pause("cart", actor="ana")
    with pytest.raises(ConflictError, match="start needs it approved or live or paused"):
        journeys.start("cart", actor="ana")
    journeys.approve("cart", actor="ana")
    with pytest.raises(
        ConflictError, match="is approved: approve needs it draft or live or paused"
    ):
        journeys.approve("cart", actor="ana")
    journeys.start("cart", actor="ana")
    with pytest.raises(ConflictError, match="is live on version 1 already"):
        journeys.start("cart", actor="ana")
    with pytest.raises(ConflictError, match="version 1 of journey 'cart' is approved already"):
        journeys.approve("cart", actor="ana")
    assert journeys.pause("cart", actor="ana")["status"] == "paused"
    with pytest.raises(ConflictError, match="paused on version 1: resume it"):
        journeys.start("cart", actor="ana")
    assert journeys.resume("cart", actor="ana")["status"] == "live"
    journeys.archive("cart", actor="ana")
    with pytest.raises(
        ConflictError, match="is archived: resume needs it paused and can no longer change"
    ):
        journeys.resume("cart", actor="ana")
    with pytest.raises(ConflictError, match="archived: it cannot be changed"):
        journeys.save("cart", CART, actor="ana")
    with pytest.raises(ConflictError, match="exists already"):
        journeys.create(CART, actor="ana")
    with pytest.raises(NotFoundError, match="no journey named 'nope'"):
        journeys.show("nope")


def test_once_users_exist_the_approver_is_another_active_user(platform: Platform) -> None:
    with platform.opstore.session() as session:
        for email in ("ana@shop.example", "li@shop.example"):
            session.add(User(email=email, role=UserRole.APPROVER))
    journeys = platform.journeys
    journeys.create(CART, actor="ana@shop.example")
    with pytest.raises(ValidationError, match=r"someone other than ana@shop\.example") as own:
        journeys.approve("cart", actor="ana@shop.example")
    assert own.value.field == "actor"
    with pytest.raises(ValidationError, match="the email of an active user"):
        journeys.approve("cart", actor="cli")
    assert journeys.approve("cart", actor="li@shop.example")["approved_by"] == "li@shop.example"
    # The author is the version's: li saves version 2, so li may not approve it, ana may.
    journeys.save("cart", cart(description="li's"), actor="li@shop.example")
    with pytest.raises(ValidationError, match=r"someone other than li@shop\.example"):
        journeys.approve("cart", actor="li@shop.example")
    assert journeys.approve("cart", actor="ana@shop.example")["approved_version"] == 2


@pytest.mark.parametrize(
    ("step", "path", "expected"),
    [
        (
            {"send": {"channel": "email", "template": "nope"}},
            "send.template",
            "an existing template",
        ),
        (
            {"send": {"channel": "email", "template": "push-hello"}},
            "send.template",
            "a template for the email channel ('push-hello' is for push)",
        ),
        (
            {"send": {"channel": "sms", "content": {"body": "hi"}}},
            "send.channel",
            "the sms channel is not configured",
        ),
        (
            {"send": {"channel": "email", "template": "welcome", "template_version": 4}},
            "send.template_version",
            "a version of 'welcome' (1-1)",
        ),
        (
            {"webhook": {"endpoint": "erp"}},
            "webhook.endpoint",
            "webhook channel in channels.yaml (crm)",
        ),
        ({"enter": {"journey": "cart"}}, "enter.journey", "a journey cannot enter itself"),
        ({"enter": {"journey": "other"}}, "enter.journey", "an existing journey"),
        (
            {"condition": {"segment": "vips"}, "then": "done"},
            "condition.segment",
            "existing segment",
        ),
        (
            {"wait_send_time": {"channel": "fax"}, "next": "done"},
            "wait_send_time.channel",
            "one of email",
        ),
    ],
)
def test_the_installation_check_names_the_path(
    platform: Platform, step: dict[str, object], path: str, expected: str
) -> None:
    doc = with_step(
        CART,
        "reminder",
        {**step, **({"next": "done"} if "next" not in step and "then" not in step else {})},
    )
    with pytest.raises(ValidationError, match="is not accepted") as problem:
        platform.journeys.validate(doc)
    assert problem.value.field == f"steps.reminder.{path}"
    assert expected in problem.value.accepted
    with pytest.raises(ValidationError):
        platform.journeys.create(doc, actor="ana")
    assert platform.journeys.list() == []  # nothing saved


def test_entry_segments_must_exist_and_a_good_document_is_summarised(platform: Platform) -> None:
    with pytest.raises(ValidationError) as audience:
        platform.journeys.validate(cart(entry={**CART["entry"], "audience": "vips"}))
    assert audience.value.field == "entry.audience"
    with pytest.raises(ValidationError) as entered:
        platform.journeys.validate(
            cart(
                entry={"segment": {"entered": "vips"}},
                goal=None,
                start="hello",
                steps=_no_key_steps(),
            )
        )
    assert entered.value.field == "entry.segment.entered"
    summary = platform.journeys.validate(cart(entry={**CART["entry"], "audience": "buyers"}))
    assert summary["valid"] and summary["templates"] == ["cart-reminder"]
    assert summary["channels"] == ["email"] and summary["segments"] == ["buyers"]
    with pytest.raises(ValidationError) as bad:
        platform.journeys.validate(
            "name: x\nentry: {event: {name: A}}\nstart: nope\nsteps: {a: {exit: {}}}"
        )
    assert bad.value.field == "start"


def _no_key_steps() -> dict[str, object]:
    return {"hello": {"send": {"channel": "email", "template": "welcome"}}}


def test_archiving_exits_open_enrolments_and_leaves_finished_ones(platform: Platform) -> None:
    journeys = platform.journeys
    journeys.create(CART, actor="ana")
    journeys.approve("cart", actor="li")
    journeys.start("cart", actor="li")
    journey_id = journeys.store.require("cart").id
    active = add_enrolment(platform.opstore, journey_id, "p_a")
    waiting = add_enrolment(platform.opstore, journey_id, "p_b", state=EnrolmentState.WAITING)
    done = add_enrolment(
        platform.opstore, journey_id, "p_c", state=EnrolmentState.COMPLETED, exit_reason="exit_step"
    )
    assert journeys.enrolments("cart", state="active")["total"] == 1
    archived = journeys.archive("cart", actor="li")
    assert (archived["status"], archived["exited"]) == ("archived", 2)
    with platform.opstore.session() as session:
        rows = {r.id: r for r in session.scalars(select(JourneyEnrolment))}
        for enrolment in (active, waiting):
            row = rows[enrolment]
            assert (row.state, row.exit_reason, row.open_key) == (
                EnrolmentState.EXITED,
                "archived",
                None,
            )
            assert row.finished_at is not None and row.due_at is None
        assert (rows[done].state, rows[done].exit_reason) == (EnrolmentState.COMPLETED, "exit_step")
    listed = journeys.enrolments("cart", state="exited")
    assert {e["subject"] for e in listed["enrolments"]} == {"p_a", "p_b"}
    assert journeys.show("cart")["enrolments"]["exited"] == 2
    with pytest.raises(ValidationError, match="one of active, waiting, completed, exited"):
        journeys.enrolments("cart", state="gone")


@pytest.mark.postgres
def test_the_lifecycle_counts_and_archiving_on_postgresql(
    journey_home: JourneyHome, postgres_database: str
) -> None:
    url = postgres_database.replace("postgresql://", "postgresql+psycopg://", 1)
    # This store has no templates: the reminder's content is inline.
    doc = with_step(
        CART,
        "reminder",
        {
            "send": {"channel": "email", "content": {"subject": "Your cart", "text": "Hi"}},
            "next": "done",
        },
    )
    with Platform(Settings(home=journey_home.home, opstore_url=url)) as platform:
        journeys = platform.journeys
        journeys.create(doc, actor="ana")
        journeys.approve("cart", actor="li")
        journeys.start("cart", actor="li")
        journeys.save("cart", {**doc, "description": "v2"}, actor="ana")
        assert journeys.pause("cart", actor="li")["live_version"] == 1
        journeys.resume("cart", actor="li")
        journey_id = journeys.store.require("cart").id
        for subject in ("p_a", "p_b"):
            add_enrolment(platform.opstore, journey_id, subject)
        add_enrolment(
            platform.opstore, journey_id, "p_c", state=EnrolmentState.COMPLETED, arm="holdout"
        )
        listed = journeys.list()
        assert [(j["name"], j["enrolled"], j["in_flight"]) for j in listed] == [("cart", 3, 2)]
        assert journeys.archive("cart", actor="li")["exited"] == 2
        stats = journeys.stats("cart")
        assert stats["exit_reasons"] == {"archived": 2} and stats["arms"]["holdout"]["entered"] == 1
