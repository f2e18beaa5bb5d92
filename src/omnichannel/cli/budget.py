"""``omni budget``: split a budget across channels for a goal, compare scenarios, shift a
channel's daily budget across its campaigns, and keep plans against their outcomes.

Each command calls ``platform.budget`` (``budget/service.py``), or, while ``omni serve``
owns the home, ``/api/budget``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table
from omnichannel.textfiles import read_utf8

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Budget: the best split across channels for a goal, scenarios, bandit, plans."
)
ACTOR = "cli"
GOAL_HELP = "conversions (most), revenue (most), cpa (lowest, at --volume) or roas (--target-roas)."
MODEL_HELP = "Curves to use (JSON, docs/budget.md); default: the home's, or the latest fit."


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _model(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from omnichannel.budget.spec import model_to_dict, read_model

    return model_to_dict(read_model(path))


def _limits(
    total: float,
    goal: str,
    minimum: list[str],
    maximum: list[str],
    max_change: float | None,
    volume: float | None,
    target_roas: float | None,
    model: Path | None,
) -> dict[str, Any]:
    from omnichannel.budget.allocate import check_goal
    from omnichannel.budget.spec import parse_pairs

    check_goal(goal, total, volume, target_roas)  # before a model file is read or looked up
    return {
        "total": total,
        "goal": goal,
        "min": parse_pairs("min", minimum),
        "max": parse_pairs("max", maximum),
        "max_change": max_change,
        "volume": volume,
        "target_roas": target_roas,
        "model": _model(model),
    }


def _library(body: dict[str, Any]) -> dict[str, Any]:
    """The HTTP body's names as ``platform.budget``'s keywords."""
    out = dict(body)
    out["minimum"], out["maximum"] = out.pop("min"), out.pop("max")
    return out


TOTAL = typer.Option(..., "--total", help="Budget per period (the model's day or week).")
GOAL = typer.Option("conversions", "--goal", "-g", help=GOAL_HELP)
MIN = typer.Option([], "--min", help="CHANNEL=AMOUNT, the least a channel gets (repeatable).")
MAX = typer.Option([], "--max", help="CHANNEL=AMOUNT, the most a channel gets (repeatable).")
CHANGE = typer.Option(None, "--max-change", help="Largest change from current spend, e.g. 0.3.")
VOLUME = typer.Option(None, "--volume", help="cpa: the effect per period to reach at least.")
ROAS = typer.Option(None, "--target-roas", help="roas: the revenue / spend to keep.")
MODEL = typer.Option(None, "--model", help=MODEL_HELP)
AS_JSON = typer.Option(False, "--json", help=JSON_OPTION_HELP)


@app.command("optimise")
def optimise(
    ctx: typer.Context,
    total: float = TOTAL,
    goal: str = GOAL,
    minimum: list[str] = MIN,
    maximum: list[str] = MAX,
    max_change: float | None = CHANGE,
    volume: float | None = VOLUME,
    target_roas: float | None = ROAS,
    model: Path | None = MODEL,
    as_json: bool = AS_JSON,
) -> None:
    """The best split of a total per period for a goal, with the expected outcome."""
    body = _limits(total, goal, minimum, maximum, max_change, volume, target_roas, model)

    def local(platform: Platform) -> dict[str, Any]:
        return platform.budget.optimise(**_library(body))

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post("/api/budget/optimise", json=body)
        return answer

    result = _run(ctx, local, remote)
    emit_json(result) if as_json else _print_allocation(result)


@app.command("scenarios")
def scenarios(
    ctx: typer.Context,
    total: list[float] = typer.Option([], "--total", help="A total to compare (repeatable)."),
    goal: list[str] = typer.Option([], "--goal", "-g", help="A goal to compare (repeatable)."),
    file: Path | None = typer.Option(
        None, "--file", help="A JSON list of scenarios: name, total, goal, min, max, ..."
    ),
    max_change: float | None = CHANGE,
    model: Path | None = MODEL,
    as_json: bool = AS_JSON,
) -> None:
    """Several totals and goals (every pair) or a file of scenarios, side by side."""
    from omnichannel.errors import ValidationError

    listed: list[dict[str, Any]] = []
    if file is not None:
        try:
            listed = json.loads(read_utf8(file))
        except FileNotFoundError:
            raise ValidationError("--file", str(file), "an existing JSON file") from None
        except OSError as exc:
            accepted = f"a JSON list of scenarios ({exc.strerror})"
            raise ValidationError("--file", str(file), accepted) from None
        except json.JSONDecodeError as exc:
            accepted = f"a JSON list of scenarios ({exc.msg} at line {exc.lineno})"
            raise ValidationError("--file", str(file), accepted) from None
        if not isinstance(listed, list):
            raise ValidationError("--file", str(file), "a JSON list of scenarios")
    for amount in total:
        for aim in goal or ["conversions"]:
            listed.append(
                {
                    "name": f"{aim} {amount:g}",
                    "total": amount,
                    "goal": aim,
                    "max_change": max_change,
                }
            )
    if not listed:
        raise ValidationError("--total", None, "one --total or more, or --file")
    curves = _model(model)
    body = {"scenarios": listed, "model": curves}

    def local(platform: Platform) -> dict[str, Any]:
        return platform.budget.scenarios(listed, model=curves)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post("/api/budget/scenarios", json=body)
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    _print_scenarios(result)


@app.command("model")
def model_(
    ctx: typer.Context,
    set_file: Path | None = typer.Option(None, "--set", help="Keep these curves in the home."),
    clear: bool = typer.Option(False, "--clear", help="Forget the home's curves."),
    actor: str = typer.Option(ACTOR, "--actor", help="Who does it (the audit log)."),
    as_json: bool = AS_JSON,
) -> None:
    """The response model budget uses, and where it comes from; --set or --clear it."""
    document = _model(set_file)
    changing = set_file is not None or clear

    def local(platform: Platform) -> Any:
        if changing:
            return platform.budget.use_model(document, actor=actor)
        return platform.budget.model()

    def remote(server: ServerClient) -> Any:
        if changing:
            return server.post("/api/budget/model", json={"model": document, "actor": actor})
        return server.get("/api/budget/model")

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    if result is None:
        console.print(Text("the home's curves are forgotten"))
        return
    console.print(
        rows_table(
            f"{result['target']} per {result['period']} ({result['source']}, "
            f"{result['draws']} draws)",
            ["channel", "decay", "half", "shape", "top"],
            [[c["channel"], c["decay"], c["half"], c["shape"], c["top"]] for c in result["curves"]],
        )
    )


@app.command("bandit")
def bandit(
    ctx: typer.Context,
    channel: str = typer.Option(..., "--channel", "-c", help="The channel whose campaigns."),
    budget: float | None = typer.Option(
        None, "--budget", help="Tomorrow's daily budget (default: the last day's spend)."
    ),
    days: int = typer.Option(28, "--days", help="Days of spend and conversions to learn from."),
    until: str | None = typer.Option(None, "--until", help="The window's end (default: today)."),
    floor: float = typer.Option(0.05, "--floor", help="Each campaign's least share (exploring)."),
    max_change: float | None = typer.Option(None, "--max-change", help="Largest share change."),
    as_json: bool = AS_JSON,
) -> None:
    """Tomorrow's budget across a channel's campaigns by Thompson sampling (Gamma-Poisson)."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.budget.bandit(
            channel, budget=budget, days=days, until=until, floor=floor, max_change=max_change
        )

    def remote(server: ServerClient) -> dict[str, Any]:
        params: dict[str, Any] = {"channel": channel, "days": days, "floor": floor}
        for key, value in (("budget", budget), ("until", until), ("max_change", max_change)):
            if value is not None:
                params[key] = value
        answer: dict[str, Any] = server.get("/api/budget/bandit", **params)
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            f"{result['channel']}: {result['budget']:,.2f} tomorrow "
            f"(from {result['since']} to {result['until']})",
            ["campaign", "name", "spend", "conversions", "P(best)", "share", "budget"],
            [
                [
                    r["arm"],
                    r["label"],
                    f"{r['spend']:,.2f}",
                    r["conversions"],
                    f"{r['p_best']:.1%}",
                    f"{r['share']:.1%}",
                    f"{r['budget']:,.2f}",
                ]
                for r in result["campaigns"]
            ],
        )
    )


@app.command("plan")
def plan(
    ctx: typer.Context,
    starts: str = typer.Option(..., "--starts", help="The plan's first day (ISO date)."),
    ends: str = typer.Option(..., "--ends", help="The day after its last (ISO date)."),
    total: float = TOTAL,
    goal: str = GOAL,
    name: str = typer.Option("", "--name", help="What to call it."),
    minimum: list[str] = MIN,
    maximum: list[str] = MAX,
    max_change: float | None = CHANGE,
    volume: float | None = VOLUME,
    target_roas: float | None = ROAS,
    model: Path | None = MODEL,
    actor: str = typer.Option(ACTOR, "--actor", help="Who plans it (the audit log)."),
    as_json: bool = AS_JSON,
) -> None:
    """Allocate a total and store it as the plan for a period, with its prediction."""
    body = _limits(total, goal, minimum, maximum, max_change, volume, target_roas, model)
    body.update(starts=starts, ends=ends, name=name)

    def local(platform: Platform) -> dict[str, Any]:
        return platform.budget.plan(**_library(body), actor=actor)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post("/api/budget/plans", json={**body, "actor": actor})
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"plan {result['id']} stored for [{result['starts']}, {result['ends']})"))
    _print_plan(result)


@app.command("plans")
def plans(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """Stored plans, newest period first."""

    def remote(server: ServerClient) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = server.get("/api/budget/plans")
        return answer

    result = _run(ctx, lambda p: p.budget.plans(), remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            "budget plans",
            ["id", "name", "from", "to", "goal", "total", "predicted", "status"],
            [
                [
                    r["id"],
                    r["name"],
                    r["starts"],
                    r["ends"],
                    r["goal"],
                    f"{r['total']:,.2f}",
                    _fmt(r["predicted"].get("total")),
                    r["status"],
                ]
                for r in result
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    plan_id: int = typer.Argument(..., help="The plan's id (omni budget plans)."),
    as_json: bool = AS_JSON,
) -> None:
    """One plan: its split, prediction and, once evaluated, its outcomes."""

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get(f"/api/budget/plans/{plan_id}")
        return answer

    result = _run(ctx, lambda p: p.budget.show_plan(plan_id), remote)
    emit_json(result) if as_json else _print_plan(result)


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    plan_id: int = typer.Argument(..., help="The plan's id (omni budget plans)."),
    actor: str = typer.Option(ACTOR, "--actor", help="Who evaluates it (the audit log)."),
    as_json: bool = AS_JSON,
) -> None:
    """Read a plan's period from the warehouse: actual against predicted per channel."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.budget.evaluate(plan_id, actor=actor)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post(
            f"/api/budget/plans/{plan_id}/evaluate", json={"actor": actor}
        )
        return answer

    result = _run(ctx, local, remote)
    emit_json(result) if as_json else _print_plan(result)


@app.command("outcomes")
def outcomes(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """Every evaluated plan's predicted against actual, per channel: the loop's history."""

    def remote(server: ServerClient) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = server.get("/api/budget/outcomes")
        return answer

    result = _run(ctx, lambda p: p.budget.outcomes(), remote)
    if as_json:
        emit_json(result)
        return
    _print_outcomes("outcomes", result)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _print_allocation(result: dict[str, Any]) -> None:
    out = result["outcome"]
    console.print(
        rows_table(
            f"{result['goal']}: {result['total']:,.2f} per {result['period']} "
            f"({result['target']}, model: {result.get('model_source', 'given')})",
            ["channel", "current", "recommended", "effect", "interval", "marginal", "held"],
            [
                [
                    r["channel"],
                    _fmt(r["current"]),
                    _fmt(r["recommended"]),
                    _fmt(r["effect"]),
                    ""
                    if r["effect_low"] is None
                    else f"{r['effect_low']:,.2f} - {r['effect_high']:,.2f}",
                    f"{r['marginal']:.5f}",
                    r["held"],
                ]
                for r in result["channels"]
            ],
        )
    )
    interval = (
        ""
        if out["effect_low"] is None
        else f" ({out['effect_low']:,.2f} - {out['effect_high']:,.2f})"
    )
    console.print(
        Text(
            f"expected effect {out['effect']:,.2f}{interval} per {result['period']} on "
            f"{out['spend']:,.2f} spent; CPA {_fmt(out['cpa'])}, ROAS {_fmt(out['roas'])}"
            + (f"; {out['uplift']:+,.2f} against current" if "uplift" in out else "")
        )
    )


def _print_scenarios(result: dict[str, Any]) -> None:
    good = [row for row in result["rows"] if not row.get("error")]
    console.print(
        rows_table(
            "scenarios",
            ["scenario", "goal", "total", "spend", "effect", "interval", "CPA", "ROAS"],
            [
                [
                    row["name"],
                    row["goal"],
                    _fmt(row["total"]),
                    _fmt(row["spend"]),
                    _fmt(row["effect"]),
                    ""
                    if row["effect_low"] is None
                    else f"{row['effect_low']:,.2f} - {row['effect_high']:,.2f}",
                    _fmt(row["cpa"]),
                    _fmt(row["roas"]),
                ]
                for row in good
            ],
        )
    )
    channels = [c.removeprefix("spend:") for c in result["columns"] if c.startswith("spend:")]
    console.print(
        rows_table(
            "spend per channel",
            ["channel", *[row["name"] for row in good]],
            [[c, *[_fmt(row[f"spend:{c}"]) for row in good]] for c in channels],
        )
    )
    for row in result["rows"]:
        if row.get("error"):
            console.print(Text(f"{row['name']}: {row['error']}"))


def _print_plan(result: dict[str, Any]) -> None:
    console.print(
        rows_table(
            f"plan {result['id']} {result['name']}: {result['goal']}, "
            f"[{result['starts']}, {result['ends']}), {result['status']}",
            ["channel", "recommended per period", "effect per period", "marginal"],
            [
                [r["channel"], _fmt(r["recommended"]), _fmt(r["effect"]), f"{r['marginal']:.5f}"]
                for r in result["channels"]
            ],
        )
    )
    if result.get("outcomes"):
        _print_outcomes("outcome", result["outcomes"])


def _print_outcomes(title: str, rows: list[dict[str, Any]]) -> None:
    console.print(
        rows_table(
            title,
            ["plan", "channel", "planned", "spent", "predicted", "interval", "actual", "tagged"],
            [
                [
                    str(r.get("plan", r["plan_id"])),
                    r["channel"],
                    _fmt(r["planned_spend"]),
                    _fmt(r["actual_spend"]),
                    _fmt(r["predicted"]),
                    ""
                    if r["predicted_low"] is None
                    else f"{r['predicted_low']:,.2f} - {r['predicted_high']:,.2f}",
                    _fmt(r["actual"]),
                    str(r["actual_orders"]),
                ]
                for r in rows
            ],
        )
    )
