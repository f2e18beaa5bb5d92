"""On the small demo home: current spend and the bandit read the warehouse's ad spend and
tagged orders; a plan's outcome counts the period's spend and purchases; the loop's job
evaluates what is due. One copy of the home for the module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest

from omnichannel.budget import loop
from omnichannel.budget.allocate import allocate
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.mmm.curves import ChannelCurve, ResponseModel, geometric_adstock, hill
from omnichannel.mmm.simulate import simulate
from omnichannel.platform import Platform
from tests.support.homes import small_demo_home

CURVES = [
    ("search", 0.3, 120, 1.0, 1.5),
    ("social", 0.4, 150, 1.2, 1.2),
    ("video", 0.5, 200, 2.0, 1.8),
]


def _curves(k: float) -> list[dict[str, Any]]:
    return [
        {"channel": c, "decay": d, "half": h * k, "shape": s, "top": t} for c, d, h, s, t in CURVES
    ]


pytestmark = pytest.mark.slow(seconds=10)  # the demo home's warehouse, opened

MODEL = {
    "target": "orders",
    "period": "day",
    "baseline_per_period": 2.0,
    "value_per_unit": 400.0,
    "curves": _curves(1.0),
    "draws": [_curves(k) for k in (0.8, 0.9, 1.0, 1.1, 1.2)],
}
JUNE, JULY = date(2026, 6, 1), date(2026, 7, 1)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("budget") / "home"
    small_demo_home(tmp_path_factory, home)
    with Platform.open(home) as opened:
        yield opened


def _spend(platform: Platform, channel: str, since: date, until: date) -> float:
    with platform.warehouse.reader() as wh:
        s = wh.table("ad_spend")
        s = s.filter((s.channel == channel) & (s.date >= since) & (s.date < until))
        return float(s.spend.sum().cast("float64").to_pyarrow().as_py() or 0.0)


def test_without_curves_it_says_how_to_get_some(platform: Platform) -> None:
    with pytest.raises(NotFoundError, match="omni mmm fit"):
        platform.budget.optimise(total=100)
    # A wrong goal is named as such, not hidden behind the missing model.
    with pytest.raises(ValidationError, match=r"goal='most'.*conversions, revenue, cpa, roas"):
        platform.budget.optimise(total=100, goal="most")


def test_current_spend_and_the_bandit_read_the_warehouse(platform: Platform) -> None:
    current = platform.budget.current()
    search = _spend(platform, "search", current["since"], current["until"])
    assert current["spend"]["search"] == pytest.approx(search / 28)
    answer = platform.budget.bandit("search", days=365)
    with platform.warehouse.reader() as wh:
        s, o = wh.table("ad_spend"), wh.table("orders")
        mine = s.filter(s.channel == "search").campaign_id
        bought = o.filter((o.status != "refunded") & o.campaign_id.isin(mine))
        counted = bought.group_by("campaign_id").agg(n=bought.count()).to_pyarrow().to_pylist()
    truth = {r["campaign_id"]: r["n"] for r in counted}
    seen = {r["arm"]: r["conversions"] for r in answer["campaigns"]}
    assert truth and {k: v for k, v in seen.items() if v} == truth
    assert sum(r["budget"] for r in answer["campaigns"]) == pytest.approx(answer["budget"], 0.01)
    with pytest.raises(ValidationError, match=r"channel='tv'.*search"):
        platform.budget.bandit("tv")


def test_a_plan_is_kept_evaluated_against_the_period_and_shown(platform: Platform) -> None:
    platform.budget.use_model(MODEL, actor="ana@shop.example")
    # 20% above the last four weeks' spend: within the change limit whatever the demo flew.
    now = platform.budget.current()["spend"]
    total = round(1.2 * sum(now[c] for c, *_ in CURVES), 2)
    plan = platform.budget.plan(
        starts=JUNE, ends=JULY, total=total, max_change=0.5, actor="ana@shop.example"
    )
    assert plan["status"] == "planned" and plan["model_source"] == "home"
    assert plan["predicted"]["spend"] == pytest.approx(total * 30)
    low, high = plan["predicted"]["effect_low"], plan["predicted"]["effect_high"]
    assert low < plan["predicted"]["effect"] < high
    run = platform.jobs.run("budget-loop", options={"refit": "false", "today": "2026-07-02"})
    assert run.status == "succeeded", run.error
    assert run.detail["evaluated"] == [plan["id"]]
    shown = platform.budget.show_plan(plan["id"])
    rows = {o["channel"]: o for o in shown["outcomes"]}
    with platform.warehouse.reader() as wh:
        o = wh.table("orders")
        start, end = datetime.combine(JUNE, time()), datetime.combine(JULY, time())
        period = o.filter((o.status != "refunded") & (o.ordered_at >= start) & (o.ordered_at < end))
        orders = period.count().to_pyarrow().as_py()
    assert rows["(total)"]["actual"] == orders
    assert rows["video"]["actual_spend"] == pytest.approx(_spend(platform, "video", JUNE, JULY))
    assert rows["video"]["planned_spend"] == pytest.approx(plan["channels"][2]["recommended"] * 30)
    assert [o["plan"] for o in platform.budget.outcomes()] == [shown["name"]] * 4
    assert platform.budget.plans()[0]["status"] == "evaluated"
    # With a fit that covers June, a channel's actual is its contribution over the month.
    june = [date(2026, 6, d).isoformat() for d in range(1, 31)]
    fit = {"dates": june, "channels": {"video": [0.5] * 30, "search": [0.1] * 30}}
    again = loop.evaluate(platform, plan["id"], contributions=fit)
    actual = {o["channel"]: o["actual"] for o in again["outcomes"]}
    assert actual["video"] == pytest.approx(15.0) and actual["search"] == pytest.approx(3.0)
    assert actual["social"] is None and len(again["outcomes"]) == 4


def test_a_real_fit_feeds_the_split_the_plan_and_the_loop(platform: Platform) -> None:
    """Fit -> response model -> optimise -> plan -> the budget-loop job, on simulated sales
    with known curves: the split is near the true optimum and the loop's actuals near
    what spend really added in the plan's month."""
    platform.budget.use_model(None, actor="ana@shop.example")  # the fit, not kept curves
    sim = simulate(days=400, channels=3, seed=2, start=date(2025, 6, 1))
    t = sim.truth
    channels = list(t["channels"])
    fitted = platform.mmm.fit(
        sim.frame, date_col="date", target_col="sales", spend_cols=channels, bootstrap=4
    )
    assert fitted["status"] == "active"
    true_model = ResponseModel(
        target="sales",
        period="day",
        curves=tuple(
            ChannelCurve(c, t["decay"][k], t["half"][k], t["shape"][k], t["top"][k])
            for k, c in enumerate(channels)
        ),
        baseline_per_period=0.0,
    )
    current = {c: float(sim.frame[c].mean()) for c in channels}
    total = sum(current.values())
    # The target is sales (money): the goal is revenue.
    best = allocate(true_model, total=total, goal="revenue", current=current)["outcome"]["effect"]
    now = true_model.outcome([current[c] for c in channels])

    plan = platform.budget.plan(
        starts=JUNE,
        ends=JULY,
        total=total,
        goal="revenue",
        current=current,
        name="fitted",
        actor="ana@shop.example",
    )
    assert plan["model_source"] == f"mmm v{fitted['version']}"
    split = [r["recommended"] for r in plan["channels"]]
    assert sum(split) == pytest.approx(total)
    # Under the true curves the fitted model's split buys most of what the best one does.
    assert true_model.outcome(split) >= now and true_model.outcome(split) >= 0.95 * best

    run = platform.jobs.run("budget-loop", options={"refit": "false", "today": "2026-07-02"})
    assert run.status == "succeeded", run.error
    assert plan["id"] in run.detail["evaluated"]
    actual = {o["channel"]: o["actual"] for o in platform.budget.show_plan(plan["id"])["outcomes"]}
    june = (sim.frame["date"] >= JUNE) & (sim.frame["date"] < JULY)
    for k, c in enumerate(channels):
        spend = sim.frame[c].to_numpy(dtype=float)
        effect = hill(
            geometric_adstock(spend, t["decay"][k]), t["half"][k], t["shape"][k], t["top"][k]
        )
        assert actual[c] == pytest.approx(float(effect[june.to_numpy()].sum()), rel=0.3), c
