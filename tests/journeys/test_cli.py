"""``omni journeys``: what a user types and reads, run in this process; and beside a
running ``omni serve``, the same commands through its API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from omnichannel.opstore.models import utcnow
from tests.cli.run import omni_in_process as omni
from tests.journeys.conftest import JourneyHome
from tests.journeys.o_support import CART, cart, store_events, with_step
from tests.journeys.test_simulate import EVENTS, NOW, PLAIN
from tests.support.collector import running_server


def _file(tmp_path: Path, doc: dict[str, Any], name: str = "journey.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _json(home: Path, *args: str) -> Any:
    return json.loads(omni("journeys", *args, "--json", home=home).stdout)


def test_create_approve_start_list_show_and_archive(
    journey_home: JourneyHome, tmp_path: Path
) -> None:
    home = journey_home.home
    created = omni(
        "journeys", "create", "--file", _file(tmp_path, CART), "--actor", "ana", home=home
    )
    assert "journey cart" in created.stdout and "draft" in created.stdout
    refused = omni("journeys", "pause", "cart", home=home, check=False)
    assert refused.returncode == 1
    assert (
        "error: journey 'cart' is draft: pause needs it live; it can be: approve, archive"
        in refused.stderr
    )
    assert _json(home, "approve", "cart", "--actor", "li")["approved_by"] == "li"
    assert _json(home, "start", "cart")["status"] == "live"
    saved = _json(home, "save", "cart", "--file", _file(tmp_path, cart(description="v2")))
    assert (saved["version"], saved["live_version"]) == (2, 1)
    listing = omni("journeys", "list", home=home).stdout
    assert "1 journey" in listing and "live" in listing and "v2" in listing
    shown = omni("journeys", "show", "cart", home=home).stdout
    assert "pending approval" in shown and "cart-reminder" in shown
    assert "0 enrolments" in omni("journeys", "enrolments", "cart", home=home).stdout
    stats = omni("journeys", "stats", "cart", home=home).stdout
    assert "no comparison: needs people both held out and treated" in stats
    archived = _json(home, "archive", "cart")
    assert (archived["status"], archived["exited"]) == ("archived", 0)


def test_reset_deletes_a_journey_after_asking_and_is_audited(
    journey_home: JourneyHome, tmp_path: Path
) -> None:
    from omnichannel.opstore.audit import entries

    home = journey_home.home
    omni("journeys", "create", "--file", _file(tmp_path, CART), "--actor", "ana", home=home)
    omni("journeys", "approve", "cart", "--actor", "li", home=home)
    omni("journeys", "start", "cart", home=home)
    live = omni("journeys", "reset", "cart", "--yes", home=home, check=False)
    assert live.returncode == 1 and "journey 'cart' is live: pause it first" in live.stderr
    omni("journeys", "pause", "cart", home=home)
    # Nobody answered the question (no terminal): nothing is deleted.
    unanswered = omni("journeys", "reset", "cart", home=home, check=False)
    assert unanswered.returncode == 1 and "was not reset (not confirmed" in unanswered.stderr
    assert [j["name"] for j in _json(home, "list")] == ["cart"]
    done = _json(home, "reset", "cart", "--yes", "--actor", "ana")
    assert done == {
        "journey": "cart",
        "deleted": {"messages": 0, "steps": 0, "enrolments": 0, "versions": 1},
    }
    assert _json(home, "list") == []
    unknown = omni("journeys", "reset", "cart", "--yes", home=home, check=False)
    assert unknown.returncode == 1 and "no journey named 'cart'" in unknown.stderr
    with journey_home.open() as platform, platform.opstore.session() as session:
        actions = [(e.action, e.actor) for e in entries(session, object_type="journey")]
    assert actions[-1] == ("journey.reset", "ana")


def test_a_bad_file_names_the_file_and_the_path(journey_home: JourneyHome, tmp_path: Path) -> None:
    doc = with_step(
        CART, "reminder", {"send": {"channel": "sms", "content": {"body": "hi"}}, "next": "done"}
    )
    bad = omni(
        "journeys", "validate", "--file", _file(tmp_path, doc), home=journey_home.home, check=False
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "steps.reminder.send.channel='sms' is not accepted" in bad.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: x\nentry: {event: {name: A}}\nstart: a\nsteps: {a: {wait: soon, next: a}}\n"
    )
    refused = omni("journeys", "create", "--file", str(broken), home=journey_home.home, check=False)
    assert f"error: {broken}: steps.a.wait" in refused.stderr
    good = omni(
        "journeys", "validate", "--file", _file(tmp_path, CART), home=journey_home.home
    ).stdout
    assert "journey cart is valid (5 steps, not saved)" in good


def test_simulate_prints_what_would_happen(journey_home: JourneyHome, tmp_path: Path) -> None:
    with journey_home.open() as platform:
        store_events(platform, EVENTS)
    now = NOW.strftime("%Y-%m-%dT%H:%M:%S")
    printed = omni(
        "journeys",
        "simulate",
        "--file",
        _file(tmp_path, PLAIN),
        "--days",
        "7",
        "--now",
        now,
        home=journey_home.home,
    ).stdout
    assert "cart: 7 would enter (6 people) over 7 days" in printed
    assert "refused: in_flight_same_key 1, no_key 1 (nothing sent, nothing saved)" in printed
    assert "on_event 1, on_timeout 5" in printed
    assert "cart-reminder" in printed
    neither = omni("journeys", "simulate", home=journey_home.home, check=False)
    assert neither.returncode == 1 and "a journey's name or --file" in neither.stderr


@pytest.mark.slow
def test_beside_a_running_server_through_its_api(journey_home: JourneyHome, tmp_path: Path) -> None:
    home = journey_home.home
    with journey_home.open() as platform:
        store_events(platform, EVENTS)
    with running_server(home, timeout=120):
        created = _json(home, "create", "--file", _file(tmp_path, PLAIN), "--actor", "ana")
        assert created["status"] == "draft"
        assert _json(home, "approve", "cart", "--actor", "li")["status"] == "approved"
        assert [j["name"] for j in _json(home, "list")] == ["cart"]
        simulated = _json(
            home, "simulate", "cart", "--days", "7", "--now", NOW.strftime("%Y-%m-%dT%H:%M:%S")
        )
        assert simulated["entered"] == 7
        refused = omni("journeys", "run-due", home=home, check=False)
        assert refused.returncode == 1 and "runs due journey steps itself" in refused.stderr
        reset = _json(home, "reset", "cart", "--yes")  # POST /api/journeys/cart/reset
        assert (reset["journey"], reset["deleted"]["versions"]) == ("cart", 1)
        assert _json(home, "list") == []


def test_run_due_runs_the_due_steps_and_stats_count_them(
    journey_home: JourneyHome, tmp_path: Path
) -> None:
    from tests.journeys.e1_support import enrol_people
    from tests.journeys.test_stats import WELCOME

    home = journey_home.home
    omni("journeys", "create", "--file", _file(tmp_path, WELCOME), home=home)
    omni("journeys", "approve", "welcome", home=home)
    omni("journeys", "start", "welcome", home=home)
    people = sorted(journey_home.profiles.values())
    with journey_home.open() as platform:
        journey_id = platform.journeys.store.require("welcome").id
        enrol_people(
            platform.opstore, journey_id, [(p, p) for p in people], start="test", now=utcnow()
        )
    ran = _json(home, "run-due")
    assert ran["steps"] >= len(people)  # every split, and a send and an exit per arm taken
    stats = _json(home, "stats", "welcome")
    assert {s["step"]: s["executed"] for s in stats["steps"]}["test"] == len(people)
    printed = omni("journeys", "stats", "welcome", home=home).stdout
    assert "holdout vs treated" in printed
    assert re.search(rf"test\s+│\s+split\s+│\s+{len(people)}\s", printed), printed
    assert _json(home, "run-due")["steps"] == 0  # nothing is due any more


def test_the_list_fits_80_columns_one_line_per_journey(
    journey_home: JourneyHome, tmp_path: Path
) -> None:
    home = journey_home.home
    names = ["abandoned-cart-reminder-weekend", "win-back-lapsing-customers"]
    for name in names:
        long = cart(description="A description long enough to wrap every row " * 3)
        omni("journeys", "create", "--file", _file(tmp_path, {**long, "name": name}), home=home)
    narrow = omni("journeys", "list", home=home, env={"COLUMNS": "80"}).stdout
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 80
    for name in names:  # whole, on one line with its counts
        [row] = [line for line in lines if name in line]
        assert "draft" in row and "event" in row
    assert len([line for line in lines if "draft" in line]) == len(names)  # no wrapped rows
    wide = omni("journeys", "list", home=home, env={"COLUMNS": "160"}).stdout
    assert "A description long enough" in wide and "…" in wide
