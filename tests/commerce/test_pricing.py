"""One price book: the checker finds prices and promotions that disagree across channels,
and each finding is an alert that reaches the webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnichannel.channels.settings import parse_channels_config
from omnichannel.errors import ValidationError
from omnichannel.platform import Platform
from tests.channels.conftest import wait_for
from tests.channels.servers.webhook_receiver import SECRET, WebhookReceiver

LISTINGS = (
    "sku,channel,channel_sku,listed,title,price,colour,size\n"
    "LP-A,web,W-A,yes,Oolong,88.00,,\n"
    "LP-A,tmall,TM-A,yes,Oolong,90.00,,\n"
    "LP-A,jd,JD-A,yes,Oolong,70.00,,\n"
    "LP-B,web,W-B,yes,Jasmine,,,\n"
    "LP-B,tmall,TM-B,yes,Jasmine,,,\n"
)
BOOK = """
tolerance: 0.05
rules: [{channel: tmall, markup: 0.03}]
promotions:
  - {name: double-11, channels: [tmall, jd], skus: [LP-B], discount: 0.2,
     starts: 2026-11-10, ends: 2026-11-12}
  - {name: tea-week, channels: [tmall], category: tea, discount: 0.1,
     starts: 2026-11-11, ends: 2026-11-18}
notify: {webhook: [ops]}
"""
DOUBLE_11 = datetime(2026, 11, 11, 4, 0, tzinfo=UTC)


@pytest.fixture
def priced(platform: Platform, tmp_path: Path) -> Platform:
    path = tmp_path / "listings.csv"
    path.write_text(LISTINGS, encoding="utf-8")
    platform.commerce.catalogue.load(path, source="erp")
    platform.commerce.prices.save(BOOK)
    return platform


def test_the_checker_names_each_conflict_and_its_prices(priced: Platform) -> None:
    found = {c["subject"]: c for c in priced.commerce.prices.conflicts(at=DOUBLE_11)}
    assert set(found) == {
        "price_mismatch:LP-A",  # jd 70 against tmall's promoted 81
        "off_book:LP-A:jd",  # 70 where the book says 88
        "price_mismatch:LP-B",  # 20 % off on tmall during double-11, full price on the web
        "promotion_overlap:double-11:tea-week",
    }
    assert found["off_book:LP-A:jd"]["message"] == (
        "LP-A on jd is priced 70.00; the price book says 88.00 (20.5% off)"
    )
    overlap = found["promotion_overlap:double-11:tea-week"]
    assert overlap["contradicting"] is True and overlap["channels"] == ["tmall"]
    assert overlap["skus"] == ["LP-B"]
    prices = priced.commerce.prices.prices("LP-B", at=DOUBLE_11)["channels"]
    assert prices["tmall"] == {
        "expected": 90.64,
        "override": None,
        "promotion": "double-11",
        "effective": 72.51,
    }
    after = {
        c["subject"]
        for c in priced.commerce.prices.conflicts(at=datetime(2026, 11, 20, tzinfo=UTC))
    }
    assert after == {
        "price_mismatch:LP-A",
        "off_book:LP-A:jd",
        "promotion_overlap:double-11:tea-week",
    }


def test_a_bad_price_book_names_the_field(priced: Platform) -> None:
    with pytest.raises(ValidationError, match=r"promotions\.0\.discount"):
        priced.commerce.prices.save(
            "promotions: [{name: x, channels: [web], skus: [LP-A], "
            "discount: 1.5, starts: 2026-01-01, ends: 2026-01-02}]"
        )
    with pytest.raises(ValidationError, match="not one of"):
        priced.commerce.prices.save("rules: [{channel: ebay, markup: 0.1}]")


def test_conflicts_open_alerts_once_and_reach_the_webhook(priced: Platform) -> None:
    with WebhookReceiver().running() as receiver:
        priced.messages.use_config(
            parse_channels_config(
                f"webhook:\n  endpoints:\n    ops: {{url: '{receiver.base_url}/ok/hook', "
                f"secret: '{SECRET}'}}\n"
            )
        )
        priced.channels.start(["webhook"], poll_seconds=0.05)
        first = priced.commerce.prices.check(at=DOUBLE_11)
        again = priced.commerce.prices.check(at=DOUBLE_11)
        wait_for(lambda: len(receiver.received("/ok")) >= 4, timeout=60, what="4 webhooks")
        priced.channels.stop()
    assert len(first["opened"]) == 4 and again["opened"] == []
    bodies = [r.json() for r in receiver.received("/ok")]
    assert {b["event"] for b in bodies} == {"alert.opened"}
    assert {b["data"]["alert"]["rule"] for b in bodies} == {"price_consistency"}
    listed = priced.alerts.list(state="open", rule="price_consistency")
    assert len(listed) == 4
    resolved = priced.commerce.prices.check(at=datetime(2026, 11, 20, tzinfo=UTC), notify=False)
    assert [a["subject"] for a in resolved["resolved"]] == ["price_mismatch:LP-B"]
