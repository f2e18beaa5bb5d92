"""Answers become profile traits segments can use, and a detractor's answer enrols the
person in a service-desk follow-up journey (a promoter's does not)."""

from __future__ import annotations

import pytest

from omnichannel.platform import Platform
from tests.surveys.conftest import INVITE

FOLLOW_UP = """
name: detractor-follow-up
entry:
  event: {name: Survey Answered, where: [{property: nps_category, equals: detractor}]}
start: note
steps:
  note: {update: {add_tags: [detractor-follow-up]}}
"""


def _answer(platform: Platform, user: str, score: int) -> None:
    sent = platform.surveys.send(
        "store-nps", channel="email", identifier=f"user_id:{user}", content=INVITE
    )
    token = sent["survey_link"].rsplit("/s/", 1)[1]
    platform.surveys.answer(token, {"score": score}, complete=True)


@pytest.mark.slow(seconds=20)
def test_a_detractor_enters_the_follow_up_and_answers_become_traits(
    platform: Platform, ids: dict[str, str]
) -> None:
    platform.journeys.create(FOLLOW_UP)
    platform.journeys.approve("detractor-follow-up")
    platform.journeys.start("detractor-follow-up")
    platform.consumers.catch_up()  # the events stored so far are behind us
    _answer(platform, "ann", 2)
    _answer(platform, "bob", 10)
    platform.consumers.catch_up()
    enrolled = platform.journeys.enrolments("detractor-follow-up")["enrolments"]
    assert [e["profile_id"] for e in enrolled] == [ids["ann"]]

    platform.profiles.build(force=True)
    with platform.warehouse.reader() as wh:
        p = wh.table("profiles")
        rows = (
            p.filter(p.profile_id.isin([ids["ann"], ids["bob"]]))
            .select(
                "profile_id",
                "survey_score",
                "survey_nps_category",
                "survey_open_complaint",
                "survey_last_answered_at",
            )
            .to_pyarrow()
            .to_pylist()
        )
    traits = {r["profile_id"]: r for r in rows}
    assert traits[ids["ann"]]["survey_score"] == 2.0
    assert traits[ids["ann"]]["survey_nps_category"] == "detractor"
    assert traits[ids["ann"]]["survey_open_complaint"] is True
    assert traits[ids["bob"]]["survey_nps_category"] == "promoter"
    assert traits[ids["bob"]]["survey_open_complaint"] is False
    assert traits[ids["bob"]]["survey_last_answered_at"] is not None

    detractors = platform.segments.preview(
        {
            "name": "detractors",
            "condition": {"trait": {"field": "survey_nps_category", "equals": "detractor"}},
        }
    )
    assert (detractors["size"], detractors["sample"]) == (1, [ids["ann"]])
