"""Budget over HTTP: thin calls into ``platform.budget`` (``budget/``).

``omni budget ...`` calls these while a server owns the home. An allocation or a scenario
table is a read with a body (``analytics:read``); storing curves, a plan or an evaluation
changes state (``analytics:run``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/budget", tags=["budget"])

# Endpoints that POST a question, not a change: the router's gate lets readers ask them.
READS = {"optimise_budget": "analytics:read", "compare_budget_scenarios": "analytics:read"}

ModelField = Field(
    None, description="Curves to use (docs/budget.md); default: the home's, or the latest fit."
)


class Limits(BaseModel):
    total: float = Field(description="Budget per period (the model's day or week).")
    goal: str = Field("conversions", description="conversions, revenue, cpa or roas.")
    min: dict[str, float] = Field(default_factory=dict, description="Channel -> minimum spend.")
    max: dict[str, float] = Field(default_factory=dict, description="Channel -> maximum spend.")
    max_change: float | None = Field(None, description="Largest change from current, a share.")
    volume: float | None = Field(None, description="cpa: the effect per period to reach.")
    target_roas: float | None = Field(None, description="roas: revenue / spend to keep.")
    current: dict[str, float] | None = Field(
        None, description="Current spend per period; default: the warehouse's last 4 weeks."
    )
    model: dict[str, Any] | None = ModelField


class Scenarios(BaseModel):
    scenarios: list[dict[str, Any]] = Field(
        description="Each: name, total, goal, min, max, max_change, volume, target_roas."
    )
    current: dict[str, float] | None = None
    model: dict[str, Any] | None = ModelField


class PlanCreate(Limits):
    starts: date = Field(description="The plan's first day.")
    ends: date = Field(description="The day after its last.")
    name: str = ""
    actor: str = Field("api", description="Who plans it (audited; a user is always themselves).")


class ModelSet(BaseModel):
    model: dict[str, Any] | None = Field(description="The curves to keep; null forgets them.")
    actor: str = "api"


class Actor(BaseModel):
    actor: str = "api"


def _limits(body: Limits) -> dict[str, Any]:
    return {
        "total": body.total,
        "goal": body.goal,
        "minimum": body.min,
        "maximum": body.max,
        "max_change": body.max_change,
        "volume": body.volume,
        "target_roas": body.target_roas,
        "current": body.current,
        "model": body.model,
    }


@router.get("/model", summary="The response model in use and where it comes from")
async def budget_model(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.model))


@router.post("/model", summary="Keep curves from elsewhere in the home (null: forget them)")
async def set_budget_model(body: ModelSet, platform: PlatformDep, who: PrincipalDep) -> Any:
    actor = acting(who, body.actor)
    return jsonable(await run_in_threadpool(platform.budget.use_model, body.model, actor=actor))


@router.get("/current", summary="Average spend per period and channel, last weeks")
async def current_spend(
    platform: PlatformDep,
    period: Annotated[str, Query(pattern="^(day|week)$")] = "day",
    days: Annotated[int, Query(ge=1, le=3660)] = 28,
) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.current, period=period, days=days))


@router.post("/optimise", summary="The best split of a total for a goal, within limits")
async def optimise_budget(body: Limits, platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(lambda: platform.budget.optimise(**_limits(body))))


@router.post("/scenarios", summary="Several totals, goals and limits side by side")
async def compare_budget_scenarios(body: Scenarios, platform: PlatformDep) -> Any:
    result = await run_in_threadpool(
        platform.budget.scenarios, body.scenarios, current=body.current, model=body.model
    )
    return jsonable(result)


@router.get("/curves", summary="Response and marginal return per channel, with intervals")
async def budget_curves(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.curves))


@router.get("/contributions", summary="The latest fit's contribution per channel over time")
async def budget_contributions(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.contributions))


@router.get("/bandit", summary="Tomorrow's budget across a channel's campaigns (Thompson)")
async def budget_bandit(
    platform: PlatformDep,
    channel: Annotated[str, Query(min_length=1)],
    budget: float | None = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 28,
    until: date | None = None,
    floor: float = 0.05,
    max_change: float | None = None,
) -> Any:
    result = await run_in_threadpool(
        lambda: platform.budget.bandit(
            channel, budget=budget, days=days, until=until, floor=floor, max_change=max_change
        )
    )
    return jsonable(result)


@router.get("/plans", summary="Stored plans, newest period first")
async def budget_plans(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.plans))


@router.post("/plans", summary="Allocate and store the plan for a period", status_code=201)
async def create_budget_plan(body: PlanCreate, platform: PlatformDep, who: PrincipalDep) -> Any:
    actor = acting(who, body.actor)
    result = await run_in_threadpool(
        lambda: platform.budget.plan(
            **_limits(body), starts=body.starts, ends=body.ends, name=body.name, actor=actor
        )
    )
    return jsonable(result)


@router.get("/plans/{plan_id}", summary="One plan with its outcomes")
async def budget_plan(plan_id: int, platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.show_plan, plan_id))


@router.post("/plans/{plan_id}/evaluate", summary="Actual against predicted for the period")
async def evaluate_budget_plan(
    plan_id: int, platform: PlatformDep, who: PrincipalDep, body: Actor | None = None
) -> Any:
    actor = acting(who, (body or Actor()).actor)
    return jsonable(await run_in_threadpool(platform.budget.evaluate, plan_id, actor=actor))


@router.get("/outcomes", summary="Every plan's predicted against actual, per channel")
async def budget_outcomes(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.budget.outcomes))
