"""The delivery log and the person's time zone on DuckDB and PostgreSQL warehouses: the
two statements of the core that are written per engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnichannel.channels.addresses import timezones_of
from omnichannel.channels.deliveries import DeliveryEvent, DeliveryLog, read_log
from omnichannel.errors import ValidationError
from omnichannel.warehouse.access import WarehouseAccess
from tests.profiles.support import T0, add_events


@pytest.fixture
def access(warehouse_url):
    opened = WarehouseAccess.open(warehouse_url)
    yield opened
    opened.close()


def test_log_rows_are_written_in_order_and_read_back_per_message(access):
    log = DeliveryLog(access, flush_seconds=60)
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    log.record(
        [
            DeliveryEvent(7, "queued", "webhook", profile_id="p-1", campaign="c", at=at),
            DeliveryEvent(
                7,
                "retrying",
                "webhook",
                attempt=1,
                reason="retrying",
                detail="HTTP 500",
                at=at + timedelta(seconds=2),
            ),
            DeliveryEvent(8, "queued", "sms", at=at),
            DeliveryEvent(
                7,
                "sent",
                "webhook",
                attempt=2,
                provider_message_id="r-2",
                at=at + timedelta(seconds=5),
            ),
        ]
    )
    assert log.pending() == 4
    assert log.flush() == 4 and log.pending() == 0
    rows = read_log(access, 7)
    assert [(r["status"], r["attempt"], r["reason"]) for r in rows] == [
        ("queued", None, None),
        ("retrying", 1, "retrying"),
        ("sent", 2, None),
    ]
    assert rows[1]["error"] == "HTTP 500" and rows[2]["provider_message_id"] == "r-2"
    with access.reader() as wh:
        t = wh.table("deliveries")
        sent = wh.query(t.filter(t.status == "sent").select("sent_at", "queued_at", "campaign_id"))
    # Profiles read sent_at / queued_at: a send has its time in sent_at.
    assert sent.to_pylist()[0]["sent_at"] == datetime(2026, 12, 1, 9, 0, 5)
    with pytest.raises(ValidationError):
        DeliveryEvent(1, "teleported", "webhook")
    log.close()


def test_the_persons_zone_is_that_of_their_latest_event_that_said_one(access):
    with access.writer() as wh:
        add_events(
            wh,
            [
                {"user": "ann", "at": T0, "tz": "Europe/Paris"},
                {"user": "ann", "at": T0 + timedelta(days=1), "tz": "Asia/Shanghai"},
                {"user": "ann", "at": T0 + timedelta(days=2)},
                {"user": "bob", "at": T0, "tz": "America/New_York"},
            ],
        )
    with access.reader() as wh:
        zones = timezones_of(
            wh,
            {
                "p-ann": [("user_id", "ann")],
                "p-bob": [("user_id", "bob")],
                "p-cy": [("email", "c@x.cn")],
            },
        )
    assert zones == {"p-ann": "Asia/Shanghai", "p-bob": "America/New_York"}
