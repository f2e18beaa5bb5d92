"""The closed loop (issue 15.5): a plan is stored for a period with what the response
model predicted of it; after the period its outcome is read from the warehouse beside
the prediction, per channel; the model is refitted on the data that now includes it.

Per channel an outcome keeps:

- ``planned_spend`` and ``actual_spend`` (``ad_spend`` over the period);
- ``predicted`` (the plan's effect over the period, with its interval) and
  ``predicted_at_actual`` (the same curve at what was really spent: a miss of plan is
  told apart from a miss of the model);
- ``actual``: the channel's effect over the period as the refitted marketing-mix model
  decomposes it (its contribution over those dates), when a fit covers them; ``None``
  otherwise, since no count in the warehouse is a channel's incremental effect;
- ``actual_orders`` / ``actual_revenue``: purchases tagged with the channel's campaigns
  (a lower bound of what it drove, shown for reference).

The ``(total)`` row compares the prediction with baseline (``baseline + effect``) against
the target counted in the warehouse: purchases, or their revenue for a revenue model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.access.audit import record as audit_record
from omnichannel.budget import reads
from omnichannel.budget.allocate import REVENUE_TARGETS
from omnichannel.budget.spec import model_from_dict, model_to_dict
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.mmm.curves import ChannelCurve, ResponseModel
from omnichannel.opstore.models import BudgetOutcome, BudgetPlan

if TYPE_CHECKING:
    from omnichannel.platform import Platform

TOTAL = "(total)"


def parse_day(field: str, value: date | str | None) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(field, value, "an ISO date, e.g. 2026-07-01") from None


def periods_between(starts: date, ends: date, period: str) -> float:
    return (ends - starts).days / reads.PERIOD_DAYS[period]


def plan_public(row: BudgetPlan, outcomes: list[BudgetOutcome] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "period": row.period,
        "starts": row.starts,
        "ends": row.ends,
        "goal": row.goal,
        "total": row.total,
        "target": row.target,
        "status": row.status,
        "request": row.request,
        "channels": row.channels,
        "predicted": row.predicted,
        "model_source": row.model.get("source"),
        "created_by": row.created_by,
        "created_at": row.created_at,
        "evaluated_at": row.evaluated_at,
    }
    if outcomes is not None:
        out["outcomes"] = [outcome_public(o) for o in outcomes]
    return out


def outcome_public(row: BudgetOutcome) -> dict[str, Any]:
    inside = None
    if row.actual is not None and row.predicted_low is not None and row.predicted_high is not None:
        inside = row.predicted_low <= row.actual <= row.predicted_high
    return {
        "plan_id": row.plan_id,
        "channel": row.channel,
        "planned_spend": row.planned_spend,
        "actual_spend": row.actual_spend,
        "predicted": row.predicted,
        "predicted_low": row.predicted_low,
        "predicted_high": row.predicted_high,
        "predicted_at_actual": row.predicted_at_actual,
        "actual": row.actual,
        "error": None if row.actual is None else row.actual - row.predicted,
        "within_interval": inside,
        "actual_orders": row.actual_orders,
        "actual_revenue": row.actual_revenue,
        "evaluated_at": row.evaluated_at,
    }


def store_plan(
    platform: Platform,
    *,
    name: str,
    starts: date,
    ends: date,
    allocation: Mapping[str, Any],
    model: ResponseModel,
    source: str,
    request: Mapping[str, Any],
    actor: str,
) -> dict[str, Any]:
    if ends <= starts:
        raise ValidationError("ends", ends.isoformat(), f"a date after starts {starts}")
    n = periods_between(starts, ends, model.period)
    out = allocation["outcome"]

    def over(value: float | None) -> float | None:
        return None if value is None else value * n

    predicted = {
        "periods": n,
        "spend": out["spend"] * n,
        "effect": over(out["effect"]),
        "effect_low": over(out["effect_low"]),
        "effect_high": over(out["effect_high"]),
        "baseline": over(out["baseline"]),
        "total": over(out["total"]),
        "per_period": dict(out),
    }
    document = {**model_to_dict(model, draws=False), "source": source}
    with platform.opstore.session() as session:
        row = BudgetPlan(
            name=name.strip() or f"plan {starts}",
            period=model.period,
            starts=starts.isoformat(),
            ends=ends.isoformat(),
            goal=str(allocation["goal"]),
            total=float(allocation["total"]),
            target=model.target,
            status="planned",
            request=dict(request),
            channels=list(allocation["channels"]),
            predicted=predicted,
            model=document,
            created_by=actor,
        )
        session.add(row)
        session.flush()
        after = plan_public(row)
        audit_record(session, actor, "budget.plan", f"budget_plan:{row.id}", None, after)
        return after


def list_plans(platform: Platform) -> list[dict[str, Any]]:
    with platform.opstore.session() as session:
        rows = session.scalars(select(BudgetPlan).order_by(BudgetPlan.starts.desc())).all()
        return [plan_public(r) for r in rows]


def show_plan(platform: Platform, plan_id: int) -> dict[str, Any]:
    with platform.opstore.session() as session:
        row = session.get(BudgetPlan, plan_id)
        if row is None:
            raise NotFoundError(f"no budget plan {plan_id} (omni budget plans lists them)")
        outcomes = session.scalars(
            select(BudgetOutcome).where(BudgetOutcome.plan_id == plan_id).order_by(BudgetOutcome.id)
        ).all()
        return plan_public(row, list(outcomes))


def outcomes(platform: Platform) -> list[dict[str, Any]]:
    """Every evaluated channel of every plan, newest plan first: the loop's history."""
    with platform.opstore.session() as session:
        rows = session.execute(
            select(BudgetOutcome, BudgetPlan)
            .join(BudgetPlan, BudgetPlan.id == BudgetOutcome.plan_id)
            .order_by(BudgetPlan.starts.desc(), BudgetOutcome.id)
        ).all()
        return [
            {
                "plan": plan.name,
                "starts": plan.starts,
                "ends": plan.ends,
                "goal": plan.goal,
                **outcome_public(outcome),
            }
            for outcome, plan in rows
        ]


def due_plans(platform: Platform, today: date) -> list[int]:
    """Plans whose period has ended and that are not evaluated yet."""
    with platform.opstore.session() as session:
        return list(
            session.scalars(
                select(BudgetPlan.id).where(
                    BudgetPlan.status == "planned", BudgetPlan.ends <= today.isoformat()
                )
            ).all()
        )


def evaluate(
    platform: Platform,
    plan_id: int,
    *,
    contributions: Mapping[str, Any] | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """Read the plan's period from the warehouse and store actual against predicted.

    ``contributions`` is a marketing-mix fit's ``over_time()`` (dates, channels); when it
    covers the period, each channel's ``actual`` is its contribution over those dates.
    Evaluating again replaces the outcome rows (a refit may decompose the period anew).
    """
    with platform.opstore.session() as session:
        row = session.get(BudgetPlan, plan_id)
        if row is None:
            raise NotFoundError(f"no budget plan {plan_id} (omni budget plans lists them)")
        starts, ends = date.fromisoformat(row.starts), date.fromisoformat(row.ends)
        document = dict(row.model)
        channels = list(row.channels)
        predicted = dict(row.predicted)
    with platform.warehouse.reader() as wh:
        seen = reads.actuals(wh, starts, ends)
    model = model_from_dict(document)
    n = float(predicted["periods"])
    effects = _contributions(contributions, starts, ends)
    revenue_model = model.target.lower() in REVENUE_TARGETS
    rows = []
    for planned in channels:
        channel = planned["channel"]
        spent = float(seen["spend"].get(channel, 0.0))
        curve: ChannelCurve = model.curve(channel)
        tagged = seen["by_channel"].get(channel, {"orders": 0, "revenue": 0.0})
        rows.append(
            BudgetOutcome(
                plan_id=plan_id,
                channel=channel,
                planned_spend=float(planned["recommended"]) * n,
                actual_spend=spent,
                predicted=float(planned["effect"]) * n,
                predicted_low=_times(planned.get("effect_low"), n),
                predicted_high=_times(planned.get("effect_high"), n),
                predicted_at_actual=float(curve.response(spent / n)) * n if n else 0.0,
                actual=None if effects is None else effects.get(channel),
                actual_orders=int(tagged["orders"]),
                actual_revenue=float(tagged["revenue"]),
            )
        )
    baseline = float(predicted.get("baseline") or 0.0)
    rows.append(
        BudgetOutcome(
            plan_id=plan_id,
            channel=TOTAL,
            planned_spend=float(predicted["spend"]),
            actual_spend=float(sum(seen["spend"].values())),
            predicted=float(predicted["total"]),
            predicted_low=_plus(predicted.get("effect_low"), baseline),
            predicted_high=_plus(predicted.get("effect_high"), baseline),
            predicted_at_actual=baseline
            + sum(
                float(model.curve(c).response(seen["spend"].get(c, 0.0) / n)) * n
                for c in model.channels
            ),
            actual=float(seen["revenue"] if revenue_model else seen["orders"]),
            actual_orders=int(seen["orders"]),
            actual_revenue=float(seen["revenue"]),
        )
    )
    with platform.opstore.session() as session:
        plan = session.get(BudgetPlan, plan_id)
        assert plan is not None
        before = plan_public(plan)
        for old in session.scalars(select(BudgetOutcome).where(BudgetOutcome.plan_id == plan_id)):
            session.delete(old)
        session.add_all(rows)
        plan.status, plan.evaluated_at = "evaluated", datetime.now(UTC)
        session.flush()
        after = plan_public(plan)
        audit_record(session, actor, "budget.evaluate", f"budget_plan:{plan_id}", before, after)
    return show_plan(platform, plan_id)


def _times(value: Any, n: float) -> float | None:
    return None if value is None else float(value) * n


def _plus(value: Any, base: float) -> float | None:
    return None if value is None else float(value) + base


def _contributions(
    over_time: Mapping[str, Any] | None, starts: date, ends: date
) -> dict[str, float] | None:
    """Each channel's contribution summed over the period's dates, if the fit covers them."""
    if not over_time:
        return None
    dates = [parse_day("dates", str(d)[:10]) for d in over_time.get("dates", [])]
    inside = [i for i, d in enumerate(dates) if starts <= d < ends]
    step = dates[1] - dates[0] if len(dates) > 1 else timedelta(days=1)
    if not inside or dates[-1] + step < ends:
        return None
    return {
        channel: float(sum(values[i] or 0.0 for i in inside))
        for channel, values in over_time.get("channels", {}).items()
    }
