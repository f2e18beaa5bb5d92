"""A message logged step by step by the send path touches its person once, when sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from omnichannel.channels.deliveries import DeliveryEvent
from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, T0, add_identities, profiles_by_user


def test_only_the_send_of_a_stepwise_logged_message_is_a_campaign_touch(tmp_path: Path) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path / 'wh.duckdb'}") as wh:
        add_identities(wh, ["sent", "held", "imported"])
        resolve(wh, full=True)
        pid = {user: row["profile_id"] for user, row in profiles_by_user_ids(wh).items()}
        steps = [
            # Queued, sent a minute later, opened two days later: one touch, at the send.
            DeliveryEvent(1, "queued", "email", pid["sent"], campaign="SPRING", at=day(10)),
            DeliveryEvent(1, "sent", "email", pid["sent"], campaign="SPRING", at=day(10, 1)),
            DeliveryEvent(1, "opened", "email", pid["sent"], campaign="SPRING", at=day(12)),
            # Held for quiet hours and never sent (yet): no touch.
            DeliveryEvent(2, "queued", "sms", pid["held"], campaign="SUMMER", at=day(20)),
            DeliveryEvent(2, "held", "sms", pid["held"], campaign="SUMMER", at=day(20)),
        ]
        rows = [step.row() for step in steps]
        # An imported log: one row per message, no outbox id; delivered counts.
        imported = DeliveryEvent(None, "delivered", "email", pid["imported"], campaign="AUTUMN")
        rows.append({**imported.row(), "sent_at": day(30).replace(tzinfo=None)})
        wh.append("deliveries", pa.Table.from_pylist(rows))
        build_profiles(wh, as_of=AS_OF)
        built = profiles_by_user(wh)

    sent = built["sent"]
    assert (sent["last_campaign_id"], sent["last_campaign_via"]) == ("SPRING", "delivery")
    assert sent["last_campaign_at"] == day(10, 1).replace(tzinfo=None)
    assert built["held"]["last_campaign_id"] is None
    assert built["imported"]["last_campaign_id"] == "AUTUMN"


def day(n: int, minutes: int = 0) -> datetime:
    return (T0 + timedelta(days=n, minutes=minutes)).replace(tzinfo=UTC)


def profiles_by_user_ids(wh: Warehouse) -> dict[str, dict[str, str]]:
    pi = wh.table("profile_identifiers")
    users = pi.filter(pi.id_type == "user_id").select("profile_id", user="id_value")
    return {r["user"]: r for r in users.to_pyarrow().to_pylist()}
