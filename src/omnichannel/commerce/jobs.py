"""The commerce jobs the scheduler runs (registered in ``jobs/builtin.py``).

- ``reservations-expire`` (every minute): every hold past its expiry released, ledger
  ``expire:<key>``, published as ``Inventory Changed``. Reserving and routing sweep a
  SKU's expired holds when they would otherwise refuse, but a hold nobody competes for
  would keep its units out of available-to-promise, the dashboard and the channels'
  feeds until then; the job gives them back within a minute.
- ``price-check`` (hourly): the price book's consistency check, each conflict an alert
  of rule ``price_consistency`` opened once, resolved when gone, notified to the book's
  ``notify`` targets. Promotions start and end by the day, so an hour is soon enough.

Both take option ``as_of`` (ISO time): the moment to judge, for a replay or a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from omnichannel.jobs.registry import JobOutcome, Progress

if TYPE_CHECKING:
    from omnichannel.platform import Platform

EXPIRE_EVERY = timedelta(minutes=1)
PRICE_CHECK_EVERY = timedelta(hours=1)


def _as_of(options: Mapping[str, Any]) -> datetime | None:
    from omnichannel.jobs.builtin import aware_as_of

    return aware_as_of(options)


def expire_reservations(
    platform: Platform, progress: Progress, options: Mapping[str, Any]
) -> JobOutcome:
    """Release every reservation past its expiry, then publish the ledger's events."""
    inventory = platform.commerce.inventory
    expired = inventory.stock.expire_due(now=_as_of(options))
    published = inventory.publish() if expired else 0
    return JobOutcome(rows=expired, detail={"expired": expired, "events": published})


def check_prices(platform: Platform, progress: Progress, options: Mapping[str, Any]) -> JobOutcome:
    """The price book's check; its conflicts opened, resolved and notified as alerts."""
    report = platform.commerce.prices.check(at=_as_of(options))
    detail = {
        "conflicts": [c["subject"] for c in report["conflicts"]],
        "opened": [a["subject"] for a in report["opened"]],
        "resolved": [a["subject"] for a in report["resolved"]],
    }
    return JobOutcome(rows=len(report["opened"]) + len(report["resolved"]), detail=detail)
