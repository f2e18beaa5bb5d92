"""Budget (``/budget``): response curves per channel, the latest marketing-mix fit's
contribution over time, current against recommended split for a total and goal, a
scenario comparison, and the plans kept against their outcomes. Everything comes from
``platform.budget``, what ``omni budget`` and ``/api/budget`` call; saving a plan needs
``analytics:run`` (the access layer's area for ``/budget``) and is audited by the library.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.budget.allocate import GOALS
from omnichannel.errors import NotFoundError, OmniError, ValidationError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.render import csv_response, form_of, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

SPLIT_COLUMNS = ["channel", "current", "recommended", "change", "effect", "effect_low"]
SPLIT_COLUMNS += ["effect_high", "marginal", "roi", "held"]
CURVE_COLUMNS = ["channel", "spend", "effect", "marginal", "low", "high"]
PLAN_COLUMNS = ["id", "name", "starts", "ends", "goal", "total", "status", "created_by"]
OUTCOME_COLUMNS = ["plan", "starts", "ends", "channel", "planned_spend", "actual_spend"]
OUTCOME_COLUMNS += ["predicted", "predicted_low", "predicted_high", "predicted_at_actual"]
OUTCOME_COLUMNS += ["actual", "within_interval", "actual_orders", "actual_revenue"]
SCENARIO_SLOTS = 3


def _words_in_templates() -> None:
    """Goals and limits as the library names them, for ``pybabel extract``."""
    _("conversions"), _("revenue"), _("cpa"), _("roas")
    _("free"), _("min"), _("max"), _("planned"), _("evaluated")


def _number(name: str, text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationError(name, text, "a number") from None


def _error(request: Request, exc: Exception) -> str:
    with speaking(pick(request)):
        return str(exc)


def _curves_chart(curves: dict[str, Any]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [c["channel"] for c in curves["curves"]]},
        "xAxis": {"type": "value", "name": _("Spend per period")},
        # The target is a word too ("orders"); a CSV column the catalogue lacks stays as is.
        "yAxis": {"type": "value", "name": _(curves["target"])},
        "series": [
            {
                "name": c["channel"],
                "type": "line",
                "showSymbol": False,
                "data": [[x, round(y, 4)] for x, y in zip(c["spend"], c["effect"], strict=True)],
                "markPoint": {
                    "symbolSize": 8,
                    "data": [{"coord": [c["current"], _at(c, c["current"])], "value": ""}],
                },
            }
            for c in curves["curves"]
        ],
    }


def _at(curve: dict[str, Any], spend: float) -> float:
    """The charted effect nearest ``spend`` (the marker of current spend)."""
    nearest = min(range(len(curve["spend"])), key=lambda i: abs(curve["spend"][i] - spend))
    return round(float(curve["effect"][nearest]), 4)


def _contribution_chart(over_time: dict[str, Any]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("Baseline"), *over_time["channels"]]},
        "xAxis": {"type": "category", "data": over_time["dates"]},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _("Baseline"),
                "type": "line",
                "stack": "all",
                "areaStyle": {},
                "showSymbol": False,
                "data": over_time["baseline"],
            },
            *[
                {
                    "name": channel,
                    "type": "line",
                    "stack": "all",
                    "areaStyle": {},
                    "showSymbol": False,
                    "data": values,
                }
                for channel, values in over_time["channels"].items()
            ],
        ],
    }


def _split_chart(allocation: dict[str, Any]) -> dict[str, Any]:
    rows = allocation["channels"]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("Current"), _("Recommended")]},
        "xAxis": {"type": "category", "data": [r["channel"] for r in rows]},
        "yAxis": {"type": "value"},
        "series": [
            {"name": _("Current"), "type": "bar", "data": [r["current"] or 0 for r in rows]},
            {"name": _("Recommended"), "type": "bar", "data": [r["recommended"] for r in rows]},
        ],
    }


def _scenarios_asked(request: Request, max_change: float | None) -> list[dict[str, Any]]:
    q = request.query_params
    asked = []
    for i in range(1, SCENARIO_SLOTS + 1):
        total = _number(f"total_{i}", q.get(f"total_{i}"))
        if total is None:
            continue
        goal = q.get(f"goal_{i}") or "conversions"
        extra: dict[str, Any] = {}
        if goal == "cpa":
            extra["volume"] = _number(f"volume_{i}", q.get(f"volume_{i}")) or 0.0
        if goal == "roas":
            extra["target_roas"] = _number(f"target_roas_{i}", q.get(f"target_roas_{i}"))
        name = f"{_(goal)} {total:g}"
        asked.append(
            {"name": name, "total": total, "goal": goal, "max_change": max_change, **extra}
        )
    return asked


def _page_data(request: Request, services: ServicesDep) -> dict[str, Any]:
    budget = services.platform.budget
    q = request.query_params
    data: dict[str, Any] = {"errors": {}}
    try:
        model, source = budget.response_model()
    except NotFoundError as exc:
        data["model"] = None
        data["errors"]["model"] = _error(request, exc)
        return data
    data["model"] = budget.model(model) | {"source": source}
    now = budget.current(period=model.period)["spend"]
    current = {c: float(now.get(c, 0.0)) for c in model.channels}
    data["curves"] = budget.curves(model=model, current=current)
    data["contributions"] = budget.contributions()
    default_total = round(sum(current.values()), 2) or 1.0
    goal = q.get("goal") or "conversions"
    form = {
        "total": q.get("total") or f"{default_total:g}",
        "goal": goal,
        "max_change": q.get("max_change", ""),
        "volume": q.get("volume", ""),
        "target_roas": q.get("target_roas", ""),
    }
    data["form"] = form
    try:
        max_change = _number("max_change", form["max_change"])
        data["allocation"] = budget.optimise(
            model=model,
            current=current,
            total=_number("total", form["total"]) or default_total,
            goal=goal,
            max_change=max_change,
            volume=_number("volume", form["volume"]),
            target_roas=_number("target_roas", form["target_roas"]),
        )
    except OmniError as exc:
        data["allocation"] = None
        data["errors"]["allocation"] = _error(request, exc)
        max_change = None
    try:
        asked = _scenarios_asked(request, max_change)
        data["scenarios"] = budget.scenarios(asked, model=model, current=current) if asked else None
        columns = data["scenarios"]["columns"] if data["scenarios"] else []
        data["scenario_spend_columns"] = [c for c in columns if c.startswith("spend:")]
    except OmniError as exc:
        data["scenarios"] = None
        data["errors"]["scenarios"] = _error(request, exc)
    data["scenario_form"] = [
        {"total": q.get(f"total_{i}", ""), "goal": q.get(f"goal_{i}", "conversions")}
        for i in range(1, SCENARIO_SLOTS + 1)
    ]
    return data


@router.get("/budget")
async def budget_page(request: Request, services: ServicesDep) -> Response:
    data = await run_in_threadpool(_page_data, request, services)
    budget = services.platform.budget
    plans = await run_in_threadpool(budget.plans)
    outcomes = await run_in_threadpool(budget.outcomes)
    if wants_csv(request):
        return _csv(request, data, plans, outcomes)
    user = request.state.principal
    context = {
        **data,
        "title": _("Budget"),
        "goals": GOALS,
        "plans": plans,
        "outcomes": outcomes,
        "can_plan": user.can("analytics:run"),
        "charts": {
            "curves": _curves_chart(data["curves"]) if data.get("curves") else None,
            "contributions": _contribution_chart(data["contributions"])
            if data.get("contributions")
            else None,
            "split": _split_chart(data["allocation"]) if data.get("allocation") else None,
        },
        "plan_error": request.query_params.get("plan_error"),
    }
    return render(request, "budget.html", context)


def _csv(
    request: Request, data: dict[str, Any], plans: list[dict[str, Any]], outcomes: Any
) -> Response:
    table = table_of(request, "split")
    if table == "curves":
        rows = [
            {
                "channel": c["channel"],
                "spend": x,
                "effect": c["effect"][i],
                "marginal": c["marginal"][i],
                "low": None if c["low"] is None else c["low"][i],
                "high": None if c["high"] is None else c["high"][i],
            }
            for c in (data.get("curves") or {"curves": []})["curves"]
            for i, x in enumerate(c["spend"])
        ]
        return csv_response(rows, CURVE_COLUMNS, "budget-curves")
    if table == "scenarios":
        answer = data.get("scenarios") or {"rows": [], "columns": ["name"]}
        return csv_response(answer["rows"], answer["columns"], "budget-scenarios")
    if table == "plans":
        return csv_response(plans, PLAN_COLUMNS, "budget-plans")
    if table == "outcomes":
        return csv_response(outcomes, OUTCOME_COLUMNS, "budget-outcomes")
    rows = (data.get("allocation") or {"channels": []})["channels"]
    return csv_response(rows, SPLIT_COLUMNS, "budget-split")


@router.post("/budget/plans")
async def save_plan(request: Request, services: ServicesDep) -> Response:
    """The form's split stored as the plan for a period, as the signed-in user."""
    form = await form_of(request)
    principal = request.state.principal
    try:
        plan = await run_in_threadpool(
            lambda: services.platform.budget.plan(
                starts=form.get("starts", ""),
                ends=form.get("ends", ""),
                total=_number("total", form.get("total")) or 0.0,
                goal=form.get("goal") or "conversions",
                name=form.get("name", ""),
                max_change=_number("max_change", form.get("max_change")),
                volume=_number("volume", form.get("volume")),
                target_roas=_number("target_roas", form.get("target_roas")),
                actor=principal.actor,
            )
        )
    except OmniError as exc:
        from urllib.parse import quote

        return RedirectResponse(f"/budget?plan_error={quote(_error(request, exc))}", 303)
    return RedirectResponse(f"/budget?plan={plan['id']}#plans", status_code=303)
