"""A send to more people than OMNI_LARGE_SEND_THRESHOLD goes out only after a second
person approves it: nothing reaches the (real, aiosmtpd) mail server before, and each
member's message exactly once after, even when the campaign is sent and approved again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from omnichannel.access.permissions import AccessDenied
from omnichannel.api.app import create_app
from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.errors import ConflictError, ValidationError
from omnichannel.opstore.models import LargeSend
from omnichannel.platform import Platform
from tests.channels.conftest import wait_for
from tests.channels.servers.smtp import SmtpServer, smtp_server
from tests.support.homes import audience_home

pytestmark = pytest.mark.slow(seconds=10)
PASSWORD = "correct horse battery"
SALE = {"subject": "Summer sale", "text": "Up to 30% off.\nStop these: {{ unsubscribe_url }}"}
# In the audience home, ann and bob may get email: cy, dee and fay unsubscribed, eve has none.
REACHABLE = {"john.smith@gmail.com", "bob@mail.cn"}


@pytest.fixture
def live(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path / "home"
    audience_home(tmp_path_factory, home)
    settings = Settings(home=home, large_send_threshold=3)  # the 6 buyers are "large"
    with smtp_server() as smtp, TestClient(create_app(settings)) as client:
        platform: Platform = client.app.state.services.platform  # type: ignore[attr-defined]
        platform.messages.use_config(
            parse_channels_config(
                "public_base_url: https://shop.example\n"
                f"email:\n  host: {smtp.host}\n  port: {smtp.port}\n"
                "  from_address: news@shop.example\n  timeout: 5\n"
            )
        )
        platform.segments.create(
            {"name": "buyers", "condition": {"event": {"name": "Order Completed"}}},
            created_by="test",
        )
        platform.templates.save("sale", channel="email", content=SALE, created_by="test")
        tokens = {}
        for email, role in (
            ("ada@shop.example", "admin"),
            ("mia@shop.example", "marketer"),
            ("max@shop.example", "marketer"),
            ("li@shop.example", "approver"),
        ):
            platform.users.create(email, role=role, password=PASSWORD, actor="test")
            made = platform.users.create_token(email, name="t", actor="test")
            tokens[email] = {"Authorization": f"Bearer {made['token']}"}
        platform.channels.start(["email"], poll_seconds=0.05)
        yield client, platform, smtp, tokens


def _inbox(smtp: SmtpServer) -> list[str]:
    return sorted(r for m in smtp.handler.messages for r in m.recipients)


def test_a_large_send_waits_for_a_second_persons_approval_then_each_message_goes_once(
    live: Any,
) -> None:
    client, platform, smtp, tokens = live
    body = {"segment": "buyers", "channel": "email", "template": "sale", "campaign": "summer"}
    asked = client.post("/api/messages/segment", json=body, headers=tokens["ada@shop.example"])
    assert asked.status_code == 200, asked.text
    held = asked.json()
    assert held["pending_approval"] is True and held["members"] == 6 and held["threshold"] == 3
    assert held["by_status"] == {}
    send_id = held["send_id"]
    # Nothing is queued, so nothing can leave: the outbox is empty and so is the mailbox.
    assert platform.messages.list() == [] and _inbox(smtp) == []
    pending = platform.messages.sends(status="pending_approval")
    assert [(s["id"], s["requested_by"], s["audience"]) for s in pending] == [
        (send_id, "ada@shop.example", 6)
    ]

    # Not by its author (an admin, who may approve others' sends), not by a marketer.
    with pytest.raises(ValidationError, match=r"someone other than ada@shop\.example"):
        platform.messages.approve_send(send_id, actor="ada@shop.example")
    with pytest.raises(AccessDenied, match="messages:approve"):
        platform.messages.approve_send(send_id, actor="max@shop.example")
    refused = client.post(
        f"/api/messages/sends/{send_id}/approve", headers=tokens["max@shop.example"]
    )
    assert refused.status_code == 403 and "messages:approve" in refused.text
    assert platform.messages.list() == []

    approved = client.post(
        f"/api/messages/sends/{send_id}/approve",
        json={"note": "checked the offer"},
        headers=tokens["li@shop.example"],
    )
    assert approved.status_code == 200, approved.text
    sent = approved.json()
    assert (sent["status"], sent["decided_by"]) == ("sent", "li@shop.example")
    assert sent["result"]["by_status"] == {"queued": 2, "dropped": 4}
    wait_for(lambda: len(_inbox(smtp)) == 2, timeout=60, what="the two messages")
    assert set(_inbox(smtp)) == REACHABLE
    again = client.post(f"/api/messages/sends/{send_id}/approve", headers=tokens["li@shop.example"])
    assert again.status_code == 409 and "is sent" in again.text
    # A send whose process stopped mid-way is left `sending`; its approver sends it again
    # and the messages already queued are not queued twice.
    with platform.opstore.session() as session:
        session.execute(update(LargeSend).where(LargeSend.id == send_id).values(status="sending"))
    with pytest.raises(ConflictError, match="is sending"):
        platform.messages.approve_send(send_id, actor="ada@shop.example")
    resumed = platform.messages.approve_send(send_id, actor="li@shop.example")
    assert resumed["status"] == "sent" and resumed["result"]["by_status"] == {"duplicate": 6}

    # The same campaign asked for and approved again reaches nobody a second time.
    second = platform.messages.send_segment(
        "buyers", channel="email", template="sale", campaign="summer", actor="mia@shop.example"
    )
    assert second["pending_approval"] is True
    result = platform.messages.approve_send(second["send_id"], actor="li@shop.example")["result"]
    assert result["by_status"] == {"duplicate": 6}
    with pytest.raises(ConflictError):
        platform.messages.reject_send(second["send_id"], actor="li@shop.example")
    assert len(platform.messages.list()) == 6  # 2 queued then sent, 4 dropped: once each
    wait_for(
        lambda: {m["status"] for m in platform.messages.list()} == {"sent", "dropped"},
        timeout=60,
        what="the messages settled",
    )
    assert sorted(_inbox(smtp)) == sorted(REACHABLE)
    actions = [e["action"] for e in platform.access.audit(target=f"send:{send_id}")]
    assert actions == ["send.resume", "send.approve", "send.request"]


def test_a_small_send_goes_at_once_and_a_rejected_one_never(live: Any) -> None:
    client, platform, _smtp, tokens = live
    small = platform.messages.send_segment(
        "buyers", channel="email", template="sale", campaign="vip", limit=2, actor="mia"
    )
    assert small["pending_approval"] is False and sum(small["by_status"].values()) == 2
    held = platform.messages.send_segment(
        "buyers", channel="email", template="sale", campaign="later", actor="mia@shop.example"
    )
    rejected = client.post(
        f"/api/messages/sends/{held['send_id']}/reject",
        json={"note": "wrong week"},
        headers=tokens["li@shop.example"],
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert [m["campaign"] for m in platform.messages.list()] == ["vip", "vip"]
    with pytest.raises(ConflictError, match="rejected"):
        platform.messages.approve_send(held["send_id"], actor="li@shop.example")
