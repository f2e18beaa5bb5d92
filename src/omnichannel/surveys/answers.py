"""Answering through a link: partial answers kept, one completion per link, the event.

Each post of the answer page (or the app) merges its answers into the link's one
``survey_responses`` row: what was answered stays even if the person never finishes.
Completing checks the required visible questions, sets the score (the score question's
answer), the category (promoter/passive/detractor; satisfied/neutral/dissatisfied;
easy/neutral/difficult) and the free text, and stores a ``Survey Answered`` event
through the collector's path (the server's durable event log and loader; without a
server, the same log drained at once), so the warehouse, segments, the profile's survey
traits and journeys (a detractor's service-desk follow-up) see it like any event. A
link that is completed answers nothing more: a replay is refused (409).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.channels.engagement import linked_event_ids
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import (
    Survey,
    SurveyInvitation,
    SurveyResponse,
    SurveyVersion,
    utcnow,
)
from omnichannel.surveys.definition import (
    NEGATIVE,
    SurveyDefinition,
    category_of,
    check_answers,
    localised,
    parse_survey,
)

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.surveys.links import SurveyLinks

EVENT = "Survey Answered"
SOURCE = "survey"
Emit = Callable[[str, Sequence[Mapping[str, Any]]], None]


class AlreadyAnsweredError(ConflictError):
    """A completed link posted again (409): one answer per person and link."""


def _load(
    session: Any, links: SurveyLinks, token: str
) -> tuple[SurveyInvitation, Survey, SurveyDefinition]:
    invitation = session.get(SurveyInvitation, links.read(token))
    if invitation is None:
        raise NotFoundError("this survey link is no longer valid (its survey was deleted)")
    survey = session.get(Survey, invitation.survey_id)
    stored = session.get(SurveyVersion, (invitation.survey_id, invitation.version))
    return invitation, survey, parse_survey(stored.definition)


def open_link(
    platform: Platform, links: SurveyLinks, token: str, *, lang: str = "en"
) -> dict[str, Any]:
    with platform.opstore.session() as session:
        invitation, survey, definition = _load(session, links, token)
        response = session.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id == invitation.id)
        ).first()
        answers = dict(response.answers) if response is not None else {}
        return {
            "survey": survey.name,
            "kind": survey.kind,
            "version": invitation.version,
            "definition": definition,
            "title": localised(definition.title, lang),
            "description": localised(definition.description, lang),
            "thanks": localised(definition.thanks, lang),
            "answers": answers,
            "visible": [q.id for q in definition.visible(answers)],
            "completed": response is not None and response.completed_at is not None,
            "form_token": links.form_token(token),
            "channel": invitation.channel,
        }


def answer_link(
    platform: Platform,
    links: SurveyLinks,
    token: str,
    given: Mapping[str, Any],
    *,
    complete: bool,
    lang: str | None,
    emit: Emit | None,
    now: datetime | None,
) -> dict[str, Any]:
    now = now or utcnow()
    with platform.opstore.session() as session:
        invitation, survey, definition = _load(session, links, token)
        response = session.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id == invitation.id)
        ).first()
        if response is not None and response.completed_at is not None:
            raise AlreadyAnsweredError(
                f"this link's answers to {survey.name!r} were given at "
                f"{response.completed_at:%Y-%m-%d %H:%M} UTC; a link answers once"
            )
        merged = {**(response.answers if response is not None else {}), **dict(given)}
        kept = check_answers(definition, merged)
        if complete:
            missing = [q.id for q in definition.visible(kept) if q.required and q.id not in kept]
            if missing:
                raise ValidationError(
                    f"answers.{missing[0]}", None, "an answer (the question is required)"
                )
        score_id = definition.score_id
        score = float(kept[score_id]) if score_id and score_id in kept else None
        texts = [str(kept[q.id]) for q in definition.questions if q.type == "text" and q.id in kept]
        if response is None:
            response = SurveyResponse(
                invitation_id=invitation.id,
                survey_id=survey.id,
                version=invitation.version,
                profile_id=invitation.profile_id,
                started_at=now,
            )
            session.add(response)
        response.answers = kept
        response.score = score
        response.category = category_of(survey.kind, score)
        response.text = "\n".join(texts) or None
        response.lang = lang or response.lang
        response.updated_at = now
        if complete:
            response.completed_at = now
        session.flush()
        out = public(response, invitation, survey.name)
        calls = _calls(platform, invitation, survey, response, now) if complete else []
    if calls:
        _store(platform, calls, emit)
    return out


def public(response: SurveyResponse, invitation: SurveyInvitation, name: str) -> dict[str, Any]:
    return {
        "survey": name,
        "response_id": response.id,
        "version": response.version,
        "profile_id": response.profile_id,
        "channel": invitation.channel,
        "store": invitation.store,
        "campaign": invitation.campaign,
        "answers": dict(response.answers),
        "score": response.score,
        "category": response.category,
        "complaint": response.category in NEGATIVE,
        "text": response.text,
        "lang": response.lang,
        "started_at": response.started_at,
        "completed_at": response.completed_at,
        "completed": response.completed_at is not None,
    }


def _calls(
    platform: Platform,
    invitation: SurveyInvitation,
    survey: Survey,
    response: SurveyResponse,
    now: datetime,
) -> list[dict[str, Any]]:
    who = _who(platform, invitation)
    properties = {
        "survey": survey.name,
        "survey_kind": survey.kind,
        "survey_version": response.version,
        "response_id": response.id,
        "score": response.score,
        "category": response.category,
        "nps_category": response.category if survey.kind == "nps" else None,
        "complaint": response.category in NEGATIVE,
        "survey_channel": invitation.channel,
        "store": invitation.store,
        "receipt": invitation.receipt,
        "answers": dict(response.answers),
        "text": response.text,
    }
    context: dict[str, Any] = {
        "campaign": {
            "name": invitation.campaign,
            "source": "omnichannel",
            "medium": invitation.channel,
        }
    }
    if response.lang:
        context["locale"] = response.lang
    return [
        {
            "type": "track",
            "event": EVENT,
            # One event per response: a retried store dedupes on it.
            "messageId": f"omni-survey-{response.id}",
            "timestamp": now.astimezone(UTC).isoformat(),
            "channel": invitation.channel,
            "properties": {k: v for k, v in properties.items() if v is not None},
            "context": context,
            **who,
        }
    ]


def _who(platform: Platform, invitation: SurveyInvitation) -> dict[str, str]:
    """The person as the warehouse knows them (their user id, else an anonymous id);
    a receipt's answer names only its link."""
    if invitation.profile_id:
        ids = linked_event_ids(platform, invitation.profile_id)
        if ids.get("user_id"):
            return {"userId": ids["user_id"]}
        if ids.get("anonymous_id"):
            return {"anonymousId": ids["anonymous_id"]}
    return {"anonymousId": f"survey-link-{invitation.id}"}


def _store(platform: Platform, calls: list[dict[str, Any]], emit: Emit | None) -> None:
    """Through the running server's collector (``emit``), else its log drained now."""
    if emit is not None:
        emit(SOURCE, calls)
        return
    store_calls(platform, calls)


def store_calls(platform: Platform, calls: Sequence[Mapping[str, Any]]) -> None:
    """Answers' events into the home's event log, drained into the warehouse at once
    (no server running: with one, its collector is ``emit``)."""
    from omnichannel.api.ingest_calls import submit_calls
    from omnichannel.ingest.loader import drain
    from omnichannel.ingest.log import EventLog
    from omnichannel.ingest.runtime import limits_of

    settings = platform.settings
    with EventLog.open(settings.log_dir) as log:
        runtime = _LogOnly(log, limits_of(settings))
        submit_calls(runtime, calls, source=SOURCE, origin="survey")  # type: ignore[arg-type]
        with platform.warehouse.writer() as wh:
            drain(log, wh)
    platform.wake_consumers()


class _LogOnly:
    """What ``submit_calls`` reads of an ingest runtime: the log and the limits."""

    def __init__(self, log: Any, limits: Any) -> None:
        self.log = log
        self.limits = limits
