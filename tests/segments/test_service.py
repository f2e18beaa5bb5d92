"""``platform.segments``: a segment saved, previewed, listed, explained, exported, removed.

The installation is ``tests/segments/audience.py``: six people, each with one
"Order Completed" event a day apart from 2026-03-02 (ann first, fay last).
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.platform import Platform
from tests.segments.audience import audience_settings, build_audience_home
from tests.support.homes import audience_home
from tests.support.postgres import create_database

EARLY = """
name: early-buyers
description: ordered in the first day and a half
condition:
  event:
    name: Order Completed
    within: {between: ["2026-03-01", "2026-03-03T12:00:00"]}
"""
ALL_BUYERS = {"event": {"name": "Order Completed", "count": {"at_least": 1}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("service") / "home"
    return home, audience_home(tmp_path_factory, home)  # built once per test run, copied


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(
    request: pytest.FixtureRequest, built: tuple[Path, dict[str, str]], tmp_path: Path
) -> Iterator[Platform]:
    """A fresh installation per test (segments a test saves stay in it), on each engine."""
    home = tmp_path / "home"
    if request.param == "duckdb":
        shutil.copytree(built[0], home)  # a copy of the one built: cheaper than a rebuild
        settings, profile_of = audience_settings(home), built[1]
    else:
        server: str = request.getfixturevalue("postgres_server_url")
        url = create_database(server, f"omni_{uuid.uuid4().hex[:12]}")
        url = url.replace("postgresql://", "postgres://", 1)
        profile_of = build_audience_home(home, url)
        settings = audience_settings(home, url)
    with Platform(settings) as opened:
        opened.profile_of = profile_of  # type: ignore[attr-defined]
        yield opened


def test_a_saved_segment_has_members_at_once_and_an_update_recomputes_them(
    platform: Platform,
) -> None:
    profile_of = platform.profile_of  # type: ignore[attr-defined]
    created = platform.segments.create(EARLY, created_by="ana")
    assert created["version"] == 1 and created["members"] == 2
    members = platform.segments.members("early-buyers")
    assert members["profile_ids"] == sorted([profile_of["ann"], profile_of["bob"]])
    assert [(s["name"], s["members"]) for s in platform.segments.list()] == [("early-buyers", 2)]
    shown = platform.segments.show("early-buyers")
    assert shown["definition"]["condition"]["event"]["name"] == "Order Completed"
    assert shown["created_by"] == "ana" and shown["last_refresh"]["members"] == 2

    updated = platform.segments.update("early-buyers", {"condition": ALL_BUYERS})
    assert updated["version"] == 2 and updated["members"] == 6
    page = platform.segments.members("early-buyers", limit=2, offset=1)
    assert page["total"] == 6 and page["profile_ids"] == sorted(profile_of.values())[1:3]


def test_preview_sizes_a_definition_and_each_condition_without_saving_it(
    platform: Platform,
) -> None:
    early = {"event": {**ALL_BUYERS["event"], "within": {"between": ["2026-03-01", "2026-03-03"]}}}
    preview = platform.segments.preview({"condition": {"all": [ALL_BUYERS, early]}}, sample=3)
    assert preview["size"] == 1 and len(preview["sample"]) == 1  # ann only (bob is on 03-03)
    assert [(c["path"], c["size"]) for c in preview["conditions"]] == [
        ("condition.all[0]", 6),
        ("condition.all[1]", 1),
    ]
    assert preview["profiles"] == 6
    assert platform.segments.list() == []
    assert "SELECT" in platform.segments.sql({"name": "x", "condition": ALL_BUYERS})


def test_bad_definitions_and_unknown_names_are_refused_clearly(platform: Platform) -> None:
    bad = {"name": "bad", "condition": {"event": {"name": "x", "count": {"at_least": -1}}}}
    with pytest.raises(ValidationError) as refused:
        platform.segments.create(bad)
    assert refused.value.field == "condition.event.count.at_least"
    assert refused.value.value == -1
    with pytest.raises(NotFoundError, match="no segment named 'nobody'"):
        platform.segments.show("nobody")
    with pytest.raises(NotFoundError):
        platform.segments.members("nobody")
    with pytest.raises(ValidationError) as renamed:
        platform.segments.create(EARLY)
        platform.segments.update("early-buyers", {"name": "other", "condition": ALL_BUYERS})
    assert renamed.value.field == "name"
    with pytest.raises(ConflictError):
        platform.segments.create(EARLY)


def test_explain_gives_the_sql_and_why_one_person_is_or_is_not_in(platform: Platform) -> None:
    profile_of = platform.profile_of  # type: ignore[attr-defined]
    platform.segments.create(EARLY)
    answer = platform.segments.explain("early-buyers", profile=profile_of["ann"])
    assert "SELECT" in answer["sql"] and answer["why"]["member"] is True
    outside = platform.segments.why("early-buyers", profile=profile_of["fay"])
    assert outside["member"] is False and outside["finding"]["passed"] is False
    assert outside["lines"][0] == f"{profile_of['fay']} is not a member"
    with pytest.raises(NotFoundError, match=r"no profile with id .p_nobody."):
        platform.segments.why("early-buyers", profile="p_nobody")
    # A person can be named by any identifier, normalised as ingestion does.
    by_email = platform.segments.why("early-buyers", profile="email: John.Smith@GMAIL.com")
    assert by_email["profile_id"] == profile_of["ann"] and by_email["member"] is True
    with pytest.raises(NotFoundError, match=r"nobody@mail\.cn"):
        platform.segments.why("early-buyers", profile="email:nobody@mail.cn")


def test_export_writes_the_current_members_and_who_consent_left_out(platform: Platform) -> None:
    platform.segments.create(EARLY)  # ann and bob; bob refused ads
    out = io.StringIO()
    result = platform.segments.export("early-buyers", fmt="google", out=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert result.members == 2 and result.rows == 1
    assert result.left_out == {"ads consent denied": 1}
    assert rows[1][0] == hashlib.sha256(b"johnsmith@gmail.com").hexdigest()


def test_delete_removes_the_segment_and_its_members_unless_another_refers_to_it(
    platform: Platform,
) -> None:
    platform.segments.create(EARLY)
    platform.segments.create({"name": "early-too", "condition": {"segment": "early-buyers"}})
    assert platform.segments.show("early-too")["members"] == 2
    with pytest.raises(ConflictError, match="early-too"):
        platform.segments.delete("early-buyers")
    platform.segments.delete("early-too")
    platform.segments.delete("early-buyers")
    assert platform.segments.list() == []
    with pytest.raises(NotFoundError):
        platform.segments.members("early-buyers")
