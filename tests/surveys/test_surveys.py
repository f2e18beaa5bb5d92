"""Surveys defined once and versioned, sent on the send path with a signed link, answered
once per link (partial answers kept), counted against caps and survey fatigue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from omnichannel.channels.tracking import InvalidLinkError
from omnichannel.errors import ConflictError, ValidationError
from omnichannel.platform import Platform
from omnichannel.surveys.answers import AlreadyAnsweredError
from tests.surveys.conftest import INVITE, NPS


def _link(platform: Platform, outbox_id: int) -> str:
    text = str(platform.messages.get(outbox_id)["content"]["text"])
    return text.split("Tell us: ", 1)[1].strip()


def _token(link: str) -> str:
    return link.rsplit("/s/", 1)[1]


def _invite(platform: Platform, user: str, **extra: Any) -> dict[str, Any]:
    return platform.surveys.send(
        "store-nps", channel="email", identifier=f"user_id:{user}", content=INVITE, **extra
    )


def test_a_document_error_names_its_path_value_and_what_is_accepted(platform: Platform) -> None:
    bad_condition = NPS.replace("show_if: {question: score", "show_if: {question: scroe")
    with pytest.raises(ValidationError) as caught:
        platform.surveys.create(bad_condition.replace("store-nps", "other"))
    assert caught.value.field == "questions[1].show_if.question"
    assert caught.value.value == "scroe"
    assert "not an earlier question (score)" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        platform.surveys.create(NPS.replace("max: 10", "max: 5").replace("store-nps", "x"))
    assert caught.value.field == "score_question"
    assert "0-10 scale" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        platform.surveys.create(
            NPS.replace("type: multiple", "type: multi").replace("store-nps", "q")
        )
    assert caught.value.field.startswith("questions[2].type")


def test_a_survey_is_versioned_and_a_name_is_taken_once(platform: Platform) -> None:
    with pytest.raises(ConflictError):
        platform.surveys.create(NPS)
    saved = platform.surveys.save_version(NPS.replace("How did we do?", "How was it?"))
    assert saved["version"] == 2
    assert platform.surveys.show("store-nps", version=1)["definition"]["title"]["en"] == (
        "How did we do?"
    )
    assert saved["definition"]["title"]["en"] == "How was it?"
    with pytest.raises(ValidationError, match="kind"):
        platform.surveys.save_version(NPS.replace("kind: nps", "kind: custom"))


@pytest.mark.slow(seconds=30)
def test_the_link_in_the_message_answers_once_and_keeps_partial_answers(
    platform: Platform, ids: dict[str, str]
) -> None:
    sent = _invite(platform, "ann")
    assert sent["status"] == "queued"
    link = _link(platform, sent["outbox_id"])
    assert link == sent["survey_link"] and link.startswith("https://shop.example/s/")
    token = _token(link)
    page = platform.surveys.open(token)
    assert page["visible"] == ["score", "topics"]  # "why" only after a low score

    partial = platform.surveys.answer(token, {"score": "3"})
    assert partial["completed"] is False and partial["category"] == "detractor"
    assert platform.surveys.open(token)["visible"] == ["score", "why", "topics"]
    done = platform.surveys.answer(token, {"why": "Rude staff, long wait"}, complete=True)
    assert done["answers"] == {"score": 3, "why": "Rude staff, long wait"}  # partial kept
    assert done["profile_id"] == ids["ann"] and done["complaint"] is True

    with pytest.raises(AlreadyAnsweredError, match="a link answers once"):
        platform.surveys.answer(token, {"score": "10"}, complete=True)
    with pytest.raises(InvalidLinkError):
        platform.surveys.open(token[:-2] + "xx")
    with pytest.raises(ValidationError) as caught:
        other = platform.surveys.prompt("store-nps", identifier="user_id:bob")
        platform.surveys.answer(other["token"], {"score": "11"})
    assert caught.value.field == "answers.score"

    with platform.warehouse.reader() as wh:
        events = wh.table("events")
        stored = events.filter(events.event == "Survey Answered").to_pyarrow().to_pylist()
    assert [(e["user_id"], e["source"]) for e in stored] == [("ann", "survey")]
    assert json.loads(stored[0]["properties"])["nps_category"] == "detractor"


def test_a_person_is_not_surveyed_again_within_the_period(platform: Platform) -> None:
    first = _invite(platform, "bob")
    again = _invite(platform, "bob")
    assert first["status"] == "queued"
    assert (again["status"], again["reason"]) == ("dropped", "survey_fatigue")
    assert "nobody again within 30 days" in again["detail"]
    assert "survey_link" not in again
    # A retried request (the same key, as a journey step's retry) reuses its message.
    retried = _invite(platform, "cy", idempotency_key="k-1")
    assert _invite(platform, "cy", idempotency_key="k-1")["duplicate"] is True
    assert retried["status"] == "queued"
    # Shown in the app counts as asked too.
    assert platform.surveys.prompt("store-nps", identifier="user_id:bob")["reason"] == (
        "survey_fatigue"
    )


def test_surveys_count_against_the_frequency_caps(platform: Platform) -> None:
    for n in range(3):
        platform.messages.send(
            channel="email",
            identifier="user_id:bob",
            content={"subject": f"Sale {n}", "text": "Sale!"},
            kind="marketing",
        )
    capped = _invite(platform, "bob")
    assert (capped["status"], capped["reason"]) == ("dropped", "cap:marketing")
    asked = _invite(platform, "ann")
    after = platform.messages.send(
        channel="email", identifier="user_id:ann", content={"subject": "s", "text": "t"}
    )
    assert asked["status"] == "queued" and after["status"] == "queued"
    counted = platform.messages.list(profile_id=asked["profile_id"])  # the survey is one
    assert len([m for m in counted if m["status"] == "queued"]) == 2


def test_a_receipt_qr_code_is_one_anonymous_link(platform: Platform) -> None:
    first = platform.surveys.receipt_qr("store-nps", store="sh-01", receipt="R-1")
    assert first["image"].startswith(b"<?xml") and b"<svg" in first["image"]
    png = platform.surveys.receipt_qr("store-nps", store="sh-01", receipt="R-1", format="png")
    assert png["image"][:8] == b"\x89PNG\r\n\x1a\n" and png["url"] == first["url"]
    answered = platform.surveys.answer(_token(first["url"]), {"score": 10}, complete=True)
    assert (answered["store"], answered["channel"], answered["profile_id"]) == (
        "sh-01",
        "receipt",
        None,
    )
    with pytest.raises(ValidationError, match="format"):
        platform.surveys.receipt_qr("store-nps", store="sh-01", receipt="R-1", format="gif")
