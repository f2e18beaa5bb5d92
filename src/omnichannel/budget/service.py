"""``platform.budget``: allocation, scenarios, the bandit within a channel, and the closed
loop of plans and outcomes (C12, issue 15 items 3-5). The CLI (``omni budget``), the API
(``/api/budget``) and the ``/budget`` page call these and nothing else.

Example::

    with Platform.open("omni-home") as platform:
        platform.budget.optimise(total=10_000, goal="conversions", max_change=0.3)
        platform.budget.scenarios([{"total": 8000}, {"total": 12000, "goal": "revenue"}])
        platform.budget.bandit("search")              # tomorrow's split of its campaigns
        plan = platform.budget.plan(starts="2026-07-01", ends="2026-08-01", total=10_000)
        platform.budget.evaluate(plan["id"])          # after July: actual vs predicted
        platform.jobs.run("budget-loop")              # refit, then evaluate what is due

The response model is, first to last: the one a call passes (``model=``: a document of
``budget/spec.py``), the one stored in the home with ``use_model`` (curves from
elsewhere), the latest marketing-mix fit (``platform.mmm``, issue 15 items 1-2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from omnichannel.access.audit import record as audit_record
from omnichannel.budget import loop, reads
from omnichannel.budget.allocate import allocate, check_goal, compare
from omnichannel.budget.bandit import DEFAULT_FLOOR, Arm, split
from omnichannel.budget.spec import model_from_dict, model_to_dict
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.mmm.curves import ResponseModel

if TYPE_CHECKING:
    from omnichannel.mmm.result import MMMFit
    from omnichannel.platform import Platform

CURRENT_DAYS = 28  # "current" spend: the average per period over the last four weeks
BANDIT_DAYS = 28
CURVE_POINTS = 25


class BudgetCapability:
    """Budget allocation, reallocation within a channel and the plan/outcome loop."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- the response model --------------------------------------------------------

    @property
    def _model_file(self) -> Path:
        return Path(self._platform.settings.home) / "budget" / "model.json"

    def model(self, model: Mapping[str, Any] | ResponseModel | None = None) -> dict[str, Any]:
        """The model in use (curves, draws counted) and where it comes from."""
        found, source = self._resolve(model)
        return {**model_to_dict(found, draws=False), "draws": len(found.draws), "source": source}

    def response_model(self) -> tuple[ResponseModel, str]:
        """The model in use itself, and where it comes from (for several questions of it)."""
        return self._resolve(None)

    def use_model(self, document: Mapping[str, Any] | None, *, actor: str = "system") -> Any:
        """Store curves from elsewhere in the home (``None``: forget them), audited."""
        before = self._stored()
        if document is None:
            self._model_file.unlink(missing_ok=True)
            after = None
        else:
            parsed = model_from_dict(document)
            self._model_file.parent.mkdir(parents=True, exist_ok=True)
            self._model_file.write_text(json.dumps(model_to_dict(parsed)), encoding="utf-8")
            after = model_to_dict(parsed, draws=False)
        with self._platform.opstore.session() as session:
            audit_record(
                session,
                actor,
                "budget.model",
                "budget_model:home",
                None if before is None else model_to_dict(before, draws=False),
                after,
            )
        return None if after is None else self.model()

    def _stored(self) -> ResponseModel | None:
        if not self._model_file.exists():
            return None
        return model_from_dict(json.loads(self._model_file.read_text(encoding="utf-8")))

    def _resolve(
        self, model: Mapping[str, Any] | ResponseModel | None
    ) -> tuple[ResponseModel, str]:
        if isinstance(model, ResponseModel):
            return model, "given"
        if model is not None:
            return model_from_dict(model), "given"
        stored = self._stored()
        if stored is not None:
            return stored, "home"
        fitted = self._latest_fit()
        if fitted is not None:
            version, result = fitted
            return result.response_model(), f"mmm v{version}"
        raise NotFoundError(
            "no response model: fit one (omni mmm fit), or give curves "
            "(omni budget model --set FILE, or --model FILE on this command)"
        )

    def _latest_fit(self) -> tuple[int, MMMFit] | None:
        """The marketing-mix fit in use (``platform.mmm``), or None before the first."""
        return self._platform.mmm.latest()

    # --- allocation ----------------------------------------------------------------

    def current(self, *, period: str = "day", days: int = CURRENT_DAYS) -> dict[str, Any]:
        """Average spend per period and channel over the last ``days`` of ad spend."""
        with self._platform.warehouse.reader() as wh:
            spend, since, until = reads.current_spend(wh, period=period, days=days)
        return {"period": period, "since": since, "until": until, "spend": spend}

    def _current_for(self, found: ResponseModel, given: Mapping[str, float] | None) -> Any:
        if given is not None:
            return dict(given)
        spend = self.current(period=found.period)["spend"]
        return {c: float(spend.get(c, 0.0)) for c in found.channels}

    def optimise(
        self,
        *,
        total: float,
        goal: str = "conversions",
        minimum: Mapping[str, float] | None = None,
        maximum: Mapping[str, float] | None = None,
        max_change: float | None = None,
        volume: float | None = None,
        target_roas: float | None = None,
        current: Mapping[str, float] | None = None,
        model: Mapping[str, Any] | ResponseModel | None = None,
    ) -> dict[str, Any]:
        """The best split of ``total`` per period for ``goal`` (``budget/allocate.py``);
        ``current`` defaults to the warehouse's last four weeks of spend."""
        check_goal(goal, total, volume, target_roas)
        found, source = self._resolve(model)
        result = allocate(
            found,
            total=total,
            goal=goal,
            current=self._current_for(found, current),
            minimum=minimum,
            maximum=maximum,
            max_change=max_change,
            volume=volume,
            target_roas=target_roas,
        )
        return {**result, "model_source": source}

    def scenarios(
        self,
        scenarios: Sequence[Mapping[str, Any]],
        *,
        current: Mapping[str, float] | None = None,
        model: Mapping[str, Any] | ResponseModel | None = None,
    ) -> dict[str, Any]:
        """Several totals, goals and limits side by side, one row each."""
        found, source = self._resolve(model)
        now = self._current_for(found, current)
        filled = [{"current": now, **dict(s)} for s in scenarios]
        return {**compare(found, filled), "model_source": source}

    def curves(
        self,
        *,
        model: Mapping[str, Any] | ResponseModel | None = None,
        current: Mapping[str, float] | None = None,
        points: int = CURVE_POINTS,
    ) -> dict[str, Any]:
        """Each channel's steady-state response and marginal return from nothing to well
        past current spend, with the draws' interval: what the page charts."""
        found, source = self._resolve(model)
        now = self._current_for(found, current)
        out = []
        for i, curve in enumerate(found.curves):
            top = max(3 * now.get(curve.channel, 0.0), 2 * curve.half * (1 - curve.decay), 1.0)
            grid = np.linspace(0.0, top, points)
            row: dict[str, Any] = {
                "channel": curve.channel,
                "current": now.get(curve.channel, 0.0),
                "spend": [round(float(x), 2) for x in grid],
                "effect": [float(v) for v in curve.response(grid)],
                "marginal": [float(v) for v in curve.marginal(grid)],
                "low": None,
                "high": None,
            }
            if found.draws:
                drawn = np.array([draw[i].response(grid) for draw in found.draws])
                low, high = np.quantile(drawn, [0.05, 0.95], axis=0)
                row["low"], row["high"] = low.tolist(), high.tolist()
            out.append(row)
        return {"target": found.target, "period": found.period, "source": source, "curves": out}

    def contributions(self) -> dict[str, Any] | None:
        """The latest marketing-mix fit's contribution per channel over time, if any."""
        fitted = self._latest_fit()
        if fitted is None:
            return None
        version, result = fitted
        return {"version": version, **result.over_time()}

    # --- the bandit ----------------------------------------------------------------

    def bandit(
        self,
        channel: str,
        *,
        budget: float | None = None,
        days: int = BANDIT_DAYS,
        until: date | str | None = None,
        floor: float = DEFAULT_FLOOR,
        max_change: float | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Tomorrow's daily budget across ``channel``'s campaigns by Thompson sampling on
        their conversions per unit spent over the last ``days`` (``budget/bandit.py``)."""
        if days < 1:
            raise ValidationError("days", days, "a window of 1 day or more")
        with self._platform.warehouse.reader() as wh:
            end = loop.parse_day("until", until) if until is not None else None
            if end is None:
                last = reads.last_spend_date(wh)
                if last is None:
                    raise NotFoundError("no ad spend in the warehouse (ad_spend is empty)")
                end = last + timedelta(days=1)
            since = end - timedelta(days=days)
            rows = reads.campaign_arms(wh, channel, since, end)
            if not rows:
                known = sorted(reads.spend_by_channel(wh, date.min, date.max))
                raise ValidationError(
                    "channel",
                    channel,
                    f"a channel with ad spend in [{since}, {end}): {', '.join(known) or 'none'}",
                )
        arms = [
            Arm(r["campaign_id"], r["spend"], r["conversions"], r["name"] or "", r["yesterday"])
            for r in rows
        ]
        daily = budget if budget is not None else sum(a.yesterday or 0.0 for a in arms)
        if not daily:
            daily = sum(a.spend for a in arms) / days
        split_rows = split(arms, budget=daily, floor=floor, max_change=max_change, seed=seed)
        extra = {r["campaign_id"]: r for r in rows}
        for row in split_rows:
            source = extra[row["arm"]]
            row.update(
                clicks=source["clicks"],
                impressions=source["impressions"],
                revenue=source["revenue"],
            )
        return {
            "channel": channel,
            "since": since,
            "until": end,
            "budget": round(float(daily), 2),
            "model": "gamma-poisson: conversions per unit of currency",
            "floor": floor,
            "campaigns": split_rows,
        }

    # --- the closed loop -----------------------------------------------------------

    def plan(
        self,
        *,
        starts: date | str,
        ends: date | str,
        total: float,
        goal: str = "conversions",
        name: str = "",
        minimum: Mapping[str, float] | None = None,
        maximum: Mapping[str, float] | None = None,
        max_change: float | None = None,
        volume: float | None = None,
        target_roas: float | None = None,
        current: Mapping[str, float] | None = None,
        model: Mapping[str, Any] | ResponseModel | None = None,
        actor: str = "system",
    ) -> dict[str, Any]:
        """Allocate ``total`` per period and store it as the plan for ``[starts, ends)``."""
        first, last = loop.parse_day("starts", starts), loop.parse_day("ends", ends)
        check_goal(goal, total, volume, target_roas)
        found, source = self._resolve(model)
        allocation = self.optimise(
            total=total,
            goal=goal,
            minimum=minimum,
            maximum=maximum,
            max_change=max_change,
            volume=volume,
            target_roas=target_roas,
            current=current,
            model=found,
        )
        request = {
            "total": total,
            "goal": goal,
            "min": dict(minimum or {}),
            "max": dict(maximum or {}),
            "max_change": max_change,
            "volume": volume,
            "target_roas": target_roas,
        }
        return loop.store_plan(
            self._platform,
            name=name,
            starts=first,
            ends=last,
            allocation=allocation,
            model=found,
            source=source,
            request=request,
            actor=actor,
        )

    def plans(self) -> list[dict[str, Any]]:
        return loop.list_plans(self._platform)

    def show_plan(self, plan_id: int) -> dict[str, Any]:
        return loop.show_plan(self._platform, plan_id)

    def evaluate(self, plan_id: int, *, actor: str = "system") -> dict[str, Any]:
        """Actual against predicted for one plan's period, with the latest fit's
        contributions when it covers the period."""
        return loop.evaluate(
            self._platform, plan_id, contributions=self.contributions(), actor=actor
        )

    def outcomes(self) -> list[dict[str, Any]]:
        return loop.outcomes(self._platform)

    def close_loop(self, *, today: date | None = None, refit: bool = True) -> dict[str, Any]:
        """The ``budget-loop`` job: refit the marketing-mix model on the warehouse (which
        now holds the finished periods), then evaluate every plan whose period is over."""
        day = today or datetime.now(UTC).date()
        refitted = self._refit() if refit else {"refit": "skipped"}
        due = loop.due_plans(self._platform, day)
        evaluated = [self.evaluate(plan_id, actor="budget-loop")["id"] for plan_id in due]
        return {**refitted, "evaluated": evaluated, "today": day}

    def _refit(self) -> dict[str, Any]:
        """A new marketing-mix fit of the warehouse, kept as a version of ``mmm`` (in use
        unless its held-out error is worse than the one in use)."""
        answer = self._platform.mmm.fit(by="budget-loop")
        keep = ("version", "status", "promotion_refused", "holdout", "periods")
        return {"refit": "mmm", "fit": {k: answer[k] for k in keep if k in answer}}
