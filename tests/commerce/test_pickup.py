"""Buy online, pick up in store: the order is held at the store and the customer's
pick-up notice arrives by email through the send path, once."""

from __future__ import annotations

from omnichannel.channels.settings import parse_channels_config
from omnichannel.platform import Platform
from tests.channels.conftest import wait_for
from tests.channels.servers.smtp import smtp_server


def test_the_pickup_notice_arrives_at_the_smtp_sink_once(platform: Platform) -> None:
    orders = platform.commerce.orders
    orders.create(
        "APP-7",
        channel="app",
        lines=[{"sku": "LP-B", "quantity": 2}],
        fulfilment="pickup",
        pickup_location="st-nanjing",
        email="ann@mail.cn",
    )
    assert orders.route("APP-7")["parts"][0]["method"] == "pickup_in_store"
    with smtp_server() as smtp:
        platform.messages.use_config(
            parse_channels_config(
                f"email:\n  host: {smtp.host}\n  port: {smtp.port}\n"
                "  from_address: shop@example.com\n  starttls: false\n  timeout: 5\n"
            )
        )
        platform.channels.start(["email"], poll_seconds=0.05)
        ready = orders.set_status("APP-7", "ready_for_pickup", actor="clerk@shop")
        wait_for(lambda: smtp.handler.messages, timeout=60, what="the pick-up notice")
        platform.channels.stop()
    [mail] = smtp.handler.messages
    assert mail.recipients == ["ann@mail.cn"]
    assert mail.message["Subject"] == "Your order APP-7 is ready to pick up at Nanjing Road"
    assert "2 x LP-B" in mail.part("plain")
    assert [h["status"] for h in ready["history"]] == ["received", "routed", "ready_for_pickup"]
    # Picked up: the held units leave the shelf.
    orders.set_status("APP-7", "picked_up")
    level = platform.commerce.inventory.level("st-nanjing", "LP-B")
    assert (level["on_hand"], level["reserved"]) == (0, 0)
