"""A survey's results: its figure with intervals, per group and period, and before/after.

Rows are the survey's invitations (links) with their response, if any. An invitation
counts as *invited* when it asked (a message not dropped, a prompt shown, a receipt
printed); a response counts as *responded* when its score question is answered,
finished or not (partial answers are kept and counted). The response rate is responded
over invited, with its Wilson interval. Groups: ``channel`` (email, sms, wechat,
in_app, receipt...), ``store``, ``campaign``, ``segment`` (each named segment's current
members); periods: ``day``, ``week`` (from Monday), ``month``, by when the answer came.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from omnichannel.errors import ValidationError
from omnichannel.opstore.models import OutboxMessage, Survey, SurveyInvitation, SurveyResponse
from omnichannel.surveys import stats
from omnichannel.surveys.sending import ASKED, NOT_MESSAGES

if TYPE_CHECKING:
    from omnichannel.platform import Platform

GROUPS = ("channel", "store", "campaign", "segment")
PERIODS = ("day", "week", "month")
NONE = "(none)"


def _aware(value: datetime | str | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(field, value, "a date or time, ISO 8601 (2026-11-01)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def period_of(at: datetime, period: str) -> str:
    day = at.astimezone(UTC).date()
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return f"{day:%Y-%m}"


def _rows(platform: Platform, name: str) -> tuple[Survey, list[dict[str, Any]]]:
    with platform.opstore.session() as session:
        survey = platform.surveys._row(session, name)
        query = (
            select(SurveyInvitation, SurveyResponse)
            .outerjoin(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id)
            .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == SurveyInvitation.link_key)
            .where(
                SurveyInvitation.survey_id == survey.id,
                SurveyInvitation.channel != "test",
                or_(
                    SurveyInvitation.channel.in_(NOT_MESSAGES),
                    and_(OutboxMessage.id.is_not(None), OutboxMessage.status.in_(ASKED)),
                ),
            )
            .order_by(SurveyInvitation.id)
        )
        rows = []
        for invitation, response in session.execute(query):
            rows.append(
                {
                    "invitation_id": invitation.id,
                    "profile_id": invitation.profile_id,
                    "channel": invitation.channel,
                    "store": invitation.store,
                    "campaign": invitation.campaign,
                    "receipt": invitation.receipt,
                    "invited_at": invitation.created_at,
                    "response_id": response.id if response else None,
                    "version": response.version if response else invitation.version,
                    "score": response.score if response else None,
                    "category": response.category if response else None,
                    "text": response.text if response else None,
                    "lang": response.lang if response else None,
                    "answers": dict(response.answers) if response else {},
                    "started_at": response.started_at if response else None,
                    "completed_at": response.completed_at if response else None,
                    "completed": bool(response and response.completed_at is not None),
                }
            )
        session.expunge(survey)
        return survey, rows


def response_rows(platform: Platform, name: str, *, limit: int) -> list[dict[str, Any]]:
    _, rows = _rows(platform, name)
    answered = [r for r in rows if r["response_id"] is not None]
    answered.sort(key=lambda r: r["started_at"], reverse=True)
    return answered[:limit]


def _summary(kind: str, rows: Sequence[dict[str, Any]], invited: int) -> dict[str, Any]:
    scores = [float(r["score"]) for r in rows if r["score"] is not None]
    out = stats.public(stats.figure(kind, scores))
    low, high = stats.wilson(min(len(scores), invited), invited)
    out.update(
        invited=invited,
        responded=len(scores),
        completed=sum(1 for r in rows if r["completed_at"] is not None),
        response_rate=round(len(scores) / invited, 4) if invited else None,
        rate_low=round(low, 4) if low is not None else None,
        rate_high=round(high, 4) if high is not None else None,
    )
    return out


def _groups_of(
    platform: Platform, rows: Iterable[dict[str, Any]], by: str, segments: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if by == "segment":
        if not segments:
            raise ValidationError("segment", None, "one segment or more to group by (segment=NAME)")
        members = {s: set(platform.segments.members(s)["profile_ids"]) for s in segments}
        for r in rows:
            for s, ids in members.items():
                if r["profile_id"] in ids:
                    out[s].append(r)
        return {s: out.get(s, []) for s in segments}
    for r in rows:
        out[str(r[by]) if r[by] else NONE].append(r)
    return dict(sorted(out.items()))


def results(
    platform: Platform,
    name: str,
    *,
    by: str | None,
    period: str,
    segments: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    change: datetime | str | None,
) -> dict[str, Any]:
    if by is not None and by not in GROUPS:
        raise ValidationError("by", by, ", ".join(GROUPS))
    if period not in PERIODS:
        raise ValidationError("period", period, ", ".join(PERIODS))
    start, end = _aware(since, "since"), _aware(until, "until")
    changed = _aware(change, "change")
    survey, rows = _rows(platform, name)
    kind = survey.kind

    def within(at: datetime | None) -> bool:
        return at is not None and (start is None or at >= start) and (end is None or at < end)

    invited_rows = [r for r in rows if within(r["invited_at"])]
    answered = [r for r in rows if r["score"] is not None and within(r["started_at"])]
    out: dict[str, Any] = {
        "survey": survey.name,
        "kind": kind,
        "figure": kind if kind in stats.FIGURES else "mean",
        "version": survey.version,
        "since": start,
        "until": end,
        "overall": _summary(kind, answered, len(invited_rows)),
        "by": by,
        "groups": [],
        "period": period,
        "trend": [],
        "comparison": None,
    }
    series: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
        ("all", invited_rows, answered)
    ]
    if by is not None:
        invited_by = _groups_of(platform, invited_rows, by, segments)
        answered_by = _groups_of(platform, answered, by, segments)
        for group in sorted(set(invited_by) | set(answered_by)):
            mine = answered_by.get(group, [])
            out["groups"].append(
                {"group": group, **_summary(kind, mine, len(invited_by.get(group, [])))}
            )
            series.append((group, invited_by.get(group, []), mine))
    for group, invited, mine in series:
        asked: dict[str, int] = defaultdict(int)
        for r in invited:
            asked[period_of(r["invited_at"], period)] += 1
        got: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in mine:
            got[period_of(r["started_at"], period)].append(r)
        for key in sorted(set(asked) | set(got)):
            out["trend"].append(
                {
                    "group": group,
                    "period": key,
                    **_summary(kind, got.get(key, []), asked.get(key, 0)),
                }
            )
    if changed is not None:
        out["comparison"] = _compare(kind, invited_rows, answered, changed)
    return out


def _compare(
    kind: str, invited: list[dict[str, Any]], answered: list[dict[str, Any]], changed: datetime
) -> dict[str, Any]:
    before_rows = [r for r in answered if r["started_at"] < changed]
    after_rows = [r for r in answered if r["started_at"] >= changed]
    before = _summary(kind, before_rows, sum(1 for r in invited if r["invited_at"] < changed))
    after = _summary(kind, after_rows, sum(1 for r in invited if r["invited_at"] >= changed))
    raw_before = stats.figure(kind, [float(r["score"]) for r in before_rows])
    raw_after = stats.figure(kind, [float(r["score"]) for r in after_rows])
    return {
        "change": changed,
        "before": before,
        "after": after,
        **stats.compare(raw_before, raw_after),
    }
