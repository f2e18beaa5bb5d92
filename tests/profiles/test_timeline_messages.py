"""A message is one touch of a conversion path, at the furthest step it reached.

The channels log one ``deliveries`` row per step of a message (sent, delivered, opened,
clicked...) and the tracking links add ``Email Opened`` / ``Email Link Clicked`` events
naming it (``properties.outbox_id``, campaign source ``omnichannel``). Counted as they
come, one opened email was three touches before an order; attribution then gave its
campaign three times the credit of a message that was only sent. Checked on the stored
timeline (after a build, and for steps logged after it) and on the raw tables, on each
engine; and a warehouse whose stored timeline predates ``outbox_id`` gets the column.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa

from omnichannel.channels.deliveries import DeliveryEvent
from omnichannel.identity import resolve
from omnichannel.identity.rules import load_rules
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.timeline import conversion_paths
from omnichannel.profiles.timeline_store import current_coverage
from omnichannel.warehouse import Warehouse, dialect
from omnichannel.warehouse.versioning import write_version
from tests.profiles.support import AS_OF, T0, add_orders

RULES = load_rules()


def _steps(wh: Warehouse, profile_id: str, steps: list[tuple[int, str, float]]) -> None:
    """Delivery-log rows ``(outbox_id, step, day)`` of ann's spring emails."""
    rows = [
        DeliveryEvent(
            outbox_id=outbox_id,
            event=step,
            channel="email",
            profile_id=profile_id,
            address="ann@example.com",
            campaign="spring",
            template="spring",
            at=T0 + timedelta(days=day),
        ).row()
        for outbox_id, step, day in steps
    ]
    wh.append("deliveries", pa.Table.from_pylist(rows))


def _opened_event(wh: Warehouse, outbox_id: int, day: float) -> None:
    """The ``Email Opened`` event the open pixel records (channels/engagement.py)."""
    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"omni-open-{outbox_id}"],
                "type": ["track"],
                "event": ["Email Opened"],
                "user_id": ["a"],
                "timestamp": [T0 + timedelta(days=day)],
                "source": ["email"],
                "channel": ["email"],
                "context_campaign_name": ["spring"],
                "context_campaign_source": ["omnichannel"],
                "context_campaign_medium": ["email"],
                "properties": [json.dumps({"outbox_id": outbox_id, "campaign": "spring"})],
                "loaded_at": [T0 + timedelta(days=day)],
            }
        ),
    )


def _ann(wh: Warehouse) -> str:
    wh.append(
        "identifiers",
        pa.table(
            {
                "source": ["crm"],
                "record_id": ["c-a"],
                "id_type": ["user_id"],
                "id_value": ["a"],
                "observed_at": [T0],
            }
        ),
    )
    add_orders(wh, [{"id": "o1", "user": "a", "day": 6, "total": 10, "channel": "web"}])
    resolve(wh, full=True)
    pi = wh.table("profile_identifiers")
    return str(pi.filter(pi.id_value == "a").profile_id.to_pyarrow().to_pylist()[0])


def _touches(wh: Warehouse, profile_id: str, stored: object) -> list[tuple[int | None, str]]:
    (path,) = conversion_paths(wh, profile_id, rules=RULES, stored=stored)  # type: ignore[arg-type]
    return [(t["outbox_id"], t["step"]) for t in path["touchpoints"]]


def test_an_opened_email_is_one_touch_at_its_furthest_step(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        ann = _ann(wh)
        # Email 7: sent, delivered, opened (the log's row and the pixel's event). Email 8:
        # sent only, so far.
        _steps(wh, ann, [(7, "sent", 2), (7, "delivered", 2.1), (7, "opened", 3), (8, "sent", 4)])
        _opened_event(wh, 7, 3)
        build_profiles(wh, as_of=AS_OF)
        coverage = current_coverage(wh)
        assert coverage is not None
        assert _touches(wh, ann, coverage) == [(7, "opened"), (8, "sent")]
        assert _touches(wh, ann, None) == [(7, "opened"), (8, "sent")]

        # Email 8 clicked after the build (a step the stored rows do not have yet).
        _steps(wh, ann, [(8, "clicked", 5)])
        assert _touches(wh, ann, coverage) == [(7, "opened"), (8, "clicked")]
        assert _touches(wh, ann, None) == [(7, "opened"), (8, "clicked")]


def test_a_stored_timeline_from_before_outbox_id_gets_the_column(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        ann = _ann(wh)
        _steps(wh, ann, [(7, "sent", 2), (7, "opened", 3)])
        build_profiles(wh, as_of=AS_OF)
        # As schema version 3 left it: a stored timeline without the column.
        dialect.execute(wh.con, 'ALTER TABLE "profile_timeline" DROP COLUMN "outbox_id"')
        write_version(wh.con, 3)
    with Warehouse.open(warehouse_url) as wh:
        assert "outbox_id" in wh.con.get_schema("profile_timeline")
        coverage = current_coverage(wh)
        # Until the next build its rows name no message: each step its own touch.
        assert _touches(wh, ann, coverage) == [(None, "sent"), (None, "opened")]
        build_profiles(wh, as_of=AS_OF, force=True)
        assert _touches(wh, ann, current_coverage(wh)) == [(7, "opened")]
