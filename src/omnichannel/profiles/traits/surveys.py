"""Survey traits: a person's latest answer, NPS category, and whether a complaint is open.

Read from the ``Survey Answered`` events the surveys store when a link is finished
(``surveys/answers.py``), attributed to profiles like any event:

- ``survey_score``, ``survey_category``, ``survey_last_answered_at``: the latest answer
  to any survey (its score, its category: promoter / passive / detractor, satisfied /
  neutral / dissatisfied, easy / neutral / difficult);
- ``survey_nps_category``: the category of the latest NPS answer;
- ``survey_open_complaint``: the latest answer is a complaint (a detractor, a
  dissatisfied or a difficult answer) and no ``Complaint Resolved`` event came after it
  (the service desk's follow-up journey, or a call, sends one).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import events_beside_profiles
from omnichannel.warehouse import Warehouse

ANSWERED = "Survey Answered"
RESOLVED = "Complaint Resolved"


def survey_traits(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    e = events_beside_profiles(wh, rules)
    mine = e.filter(e.event.isin([ANSWERED, RESOLVED]))
    facts = mine.select(
        profile_id=mine.user_profile.coalesce(mine.anon_profile),
        ts=mine.timestamp.coalesce(mine.original_timestamp, mine.received_at),
        event=mine.event,
        props=mine.properties.cast("json"),
    )
    facts = facts.filter(facts.profile_id.notnull(), facts.ts.notnull())
    answers = facts.filter(facts.event == ANSWERED).select(
        "profile_id",
        "ts",
        score=facts.props["score"].float,
        category=facts.props["category"].str,
        kind=facts.props["survey_kind"].str,
        complaint=facts.props["complaint"].bool.coalesce(False),
    )
    order = [ibis.desc(answers.ts)]
    ranked = answers.mutate(_n=ibis.row_number().over(group_by="profile_id", order_by=order))
    latest = ranked.filter(ranked._n == 0)
    nps = answers.filter(answers.kind == "nps")
    nps_ranked = nps.mutate(
        _n=ibis.row_number().over(group_by="profile_id", order_by=[ibis.desc(nps.ts)])
    )
    nps_latest = nps_ranked.filter(nps_ranked._n == 0).select(
        nps_id="profile_id", nps_category="category"
    )
    resolved = (
        facts.filter(facts.event == RESOLVED).group_by("profile_id").agg(resolved_at=facts.ts.max())
    )
    resolved = resolved.rename(resolved_id="profile_id")
    joined = latest.left_join(nps_latest, latest.profile_id == nps_latest.nps_id).left_join(
        resolved, latest.profile_id == resolved.resolved_id
    )
    open_complaint = joined.complaint & (
        joined.resolved_at.isnull() | (joined.resolved_at < joined.ts)
    )
    return joined.select(
        "profile_id",
        survey_score=joined.score,
        survey_category=joined.category,
        survey_nps_category=joined.nps_category,
        survey_last_answered_at=joined.ts,
        survey_open_complaint=open_complaint,
    )
