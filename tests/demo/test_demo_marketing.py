"""What a marketer reads after ``omni demo``: the journeys' emails measured end to end.

On the shared 300-person demo home (``omni demo --people 300``, as a user runs it), the
journeys' day reads through the marketing funnel from exposure to purchase, the landing
visits carry the journeys' UTM campaigns, and the win-back's holdout reading has revenue.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from omnichannel.platform import Platform
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("demo-marketing") / "home"
    small_demo_home(tmp_path_factory, target)
    return target


def _journeys_day(platform: Platform) -> datetime:
    """When the demo's journeys began: the win-back's first entry."""
    page = platform.journeys.enrolments("win-back", limit=10_000)
    return min(datetime.fromisoformat(e["entered_at"]) for e in page["enrolments"])


def test_the_journeys_emails_read_from_exposure_to_purchase(home: Path) -> None:
    with Platform.open(home) as platform:
        since = _journeys_day(platform)
        funnel = platform.funnels.marketing(since=since.date().isoformat())
    exposure, click, visit, purchase = (s["entered"] for s in funnel["overall"]["steps"])
    # Sent emails, some clicked, the clickers landed on the site, and some of them bought.
    assert exposure > click >= visit > purchase > 0
    emails = [g for g in funnel["breakdown"] if g["values"]["channel"] == "email"]
    assert sum(g["steps"][3]["entered"] for g in emails) == purchase


def test_landing_visits_carry_the_journeys_campaigns(home: Path) -> None:
    with Platform.open(home) as platform:
        since = _journeys_day(platform)
        visits = platform.funnels.run(
            {
                "steps": [{"event": "Page Viewed"}, {"order": {}}],
                "window": "7d",
                "since": since.date().isoformat(),
                "by": ["campaign"],
            }
        )
    by_campaign = {g["values"]["campaign"]: g["steps"][0]["entered"] for g in visits["breakdown"]}
    assert by_campaign.get("win-back", 0) > 0  # utm_campaign of the offer's link


def test_the_win_back_holdout_reads_revenue_from_online_and_store_orders(home: Path) -> None:
    with Platform.open(home) as platform:
        reading = platform.experiments.analyse(journey="win-back")
    revenue = next(m for m in reading["metrics"] if m["kind"] == "revenue")
    test = revenue["comparisons"][0]["test"]
    assert test["control"]["n"] > 0 and test["treatment"]["n"] > test["control"]["n"]
    # The journeys' day's purchases are orders (the storefront's export, the tills'
    # tickets), so neither arm's 14-day revenue is the zero both read before: the
    # treated bought after the offer, and a held-out customer bought on their own.
    assert test["treatment"]["total"] > 0 and test["control"]["total"] > 0
