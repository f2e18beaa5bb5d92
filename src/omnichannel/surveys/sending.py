"""Surveys on the send path: each invited person's signed link, and survey fatigue.

``channels/send.py`` hands this module the requests whose ``data`` names a ``survey``
(a journey's send step, a campaign, the API), once the person, the address and the
rules (consent, suppression, caps, quiet hours) are settled and before rendering:

- a person asked any survey (a message not dropped, an in-app prompt shown, on any
  channel) within this survey's ``resurvey_after`` is dropped, reason
  ``survey_fatigue``, naming when they were asked;
- everyone else gets an invitation (keyed by the message's idempotency key, so a
  retried journey step reuses its link) and ``survey_link`` among the template's
  variables.

The message itself is a marketing message like any other, so it counts against the
frequency caps, and a cap reached drops the survey as it drops any message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from omnichannel.errors import NotFoundError
from omnichannel.opstore.models import (
    OutboxMessage,
    OutboxStatus,
    Survey,
    SurveyInvitation,
    SurveyVersion,
)

if TYPE_CHECKING:
    from omnichannel.platform import Platform

FATIGUE = "survey_fatigue"
# Messages that asked: on their way or gone (as the caps count them).
ASKED = (OutboxStatus.QUEUED, OutboxStatus.HELD, OutboxStatus.SENDING, OutboxStatus.SENT)
# Invitations that are not messages: asking happened when they were made.
NOT_MESSAGES = ("in_app", "receipt")


def last_asked(
    session: Any, profile_id: str | None, since: datetime, *, besides: str | None = None
) -> datetime | None:
    """When the person was last asked any survey since ``since`` (None: not since)."""
    if not profile_id:
        return None
    query = (
        select(SurveyInvitation.created_at)
        .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == SurveyInvitation.link_key)
        .where(
            SurveyInvitation.profile_id == profile_id,
            SurveyInvitation.created_at >= since,
            or_(
                SurveyInvitation.channel.in_(NOT_MESSAGES),
                and_(OutboxMessage.id.is_not(None), OutboxMessage.status.in_(ASKED)),
            ),
        )
        .order_by(SurveyInvitation.created_at.desc())
        .limit(1)
    )
    if besides is not None:
        query = query.where(SurveyInvitation.link_key != besides)
    return session.scalar(query)


def attach_links(platform: Platform, pending: Sequence[Any], now: datetime) -> None:
    """Give each pending request (``channels.send._Pending``) its ``survey_link``, or drop
    it for fatigue; an unknown survey drops it too (reason ``survey``)."""
    from omnichannel.channels.policy import Verdict
    from omnichannel.surveys.definition import parse_survey

    links = platform.surveys.links
    definitions: dict[str, tuple[Survey, Any] | None] = {}
    with platform.opstore.session() as session:
        for p in pending:
            data = dict(p.request.data or {})
            name = str(data["survey"])
            if name not in definitions:
                row = session.scalars(select(Survey).where(Survey.name == name)).first()
                stored = session.get(SurveyVersion, (row.id, row.version)) if row else None
                definitions[name] = (
                    (row, parse_survey(stored.definition)) if row and stored else None
                )
            found = definitions[name]
            if found is None:
                p.verdict = Verdict(
                    OutboxStatus.DROPPED, "survey", str(NotFoundError(f"no survey named {name!r}"))
                )
                continue
            row, definition = found
            invitation = session.scalars(
                select(SurveyInvitation).where(SurveyInvitation.link_key == p.key)
            ).first()
            if invitation is None:
                if p.request.origin != "test":
                    asked = last_asked(
                        session, p.profile_id, now - definition.resurvey_after, besides=p.key
                    )
                    if asked is not None:
                        until = asked + definition.resurvey_after
                        p.verdict = Verdict(
                            OutboxStatus.DROPPED,
                            FATIGUE,
                            f"asked a survey at {asked:%Y-%m-%d %H:%M} UTC; {name} asks "
                            f"nobody again within {_days(definition.resurvey_after)} "
                            f"(until {until:%Y-%m-%d})",
                        )
                        continue
                invitation = SurveyInvitation(
                    survey_id=row.id,
                    version=row.version,
                    link_key=p.key,
                    profile_id=p.profile_id,
                    channel=p.request.channel if p.request.origin != "test" else "test",
                    campaign=p.request.campaign,
                    store=data.get("store") if isinstance(data.get("store"), str) else None,
                    created_at=now,
                )
                session.add(invitation)
                session.flush()
            data["survey_link"] = links.url(invitation.id)
            p.request = p.request.model_copy(update={"data": data})


def _days(delta: Any) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{delta.total_seconds() / 3600:g} hours"
