"""``/api/messages``, ``/api/channels``, ``/api/suppressions`` and the channel families of
``/metrics`` on a real ``omni serve``, whose webhook worker delivers to a real receiver;
and ``omni messages`` / ``omni channels`` through that server, as a user runs them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.channels.conftest import channels_yaml, wait_for
from tests.channels.servers.webhook_receiver import WebhookReceiver
from tests.cli.run import omni_in_process as omni
from tests.support.collector import bearer, make_admin_token, running_server

pytestmark = pytest.mark.slow

BODY = {"body": {"order": "{{ order_id }}"}}
PLAIN = {"body": {"n": 1}}


@pytest.fixture(scope="module")
def served(
    people_template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    source, ids = people_template
    home = tmp_path_factory.mktemp("messages_api") / "home"
    shutil.copytree(source, home)
    with WebhookReceiver().running() as receiver:
        (home / "channels.yaml").write_text(
            channels_yaml(receiver, extra="test_recipients: {webhook: [ok]}\n")
        )
        token = make_admin_token(home)
        with (
            running_server(home, timeout=120) as server,
            httpx.Client(base_url=server.url, headers=bearer(token), timeout=60) as http,
        ):
            yield {"http": http, "url": server.url, "ids": ids, "home": home, "receiver": receiver}
        receiver.release()


def _message(http: httpx.Client, outbox_id: int) -> dict[str, Any]:
    response = http.get(f"/api/messages/{outbox_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_message_sent_over_http_is_delivered_by_the_servers_worker(served):
    http, ids, receiver = served["http"], served["ids"], served["receiver"]
    response = http.post(
        "/api/messages",
        json={
            "channel": "webhook",
            "identifier": "phone:+8613800000001",
            "content": BODY,
            "data": {"order_id": "o-17"},
            "idempotency_key": "api:o-17",
        },
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "queued" and sent["profile_id"] == ids["ann"]
    wait_for(lambda: _message(http, sent["outbox_id"])["status"] == "sent", what="delivery")
    delivered = [r for r in receiver.received("/ok/") if r.delivery == "api:o-17"]
    assert len(delivered) == 1 and delivered[0].json()["data"] == {"order": "o-17"}
    history = wait_for(
        lambda: len(h := _message(http, sent["outbox_id"])["history"]) == 2 and h,
        what="the log rows",
    )
    assert [h["status"] for h in history] == ["queued", "sent"]
    listed = http.get("/api/messages", params={"status": "sent", "channel": "webhook"}).json()
    assert sent["outbox_id"] in [m["id"] for m in listed]
    status = http.get("/api/messages/status").json()
    assert status["channels"]["webhook"]["by_status"]["sent"] >= 1
    channels = {c["channel"]: c for c in http.get("/api/channels").json()}
    assert channels["webhook"]["worker"] == "running" and channels["webhook"]["breaker"] == "closed"
    metrics = httpx.get(f"{served['url']}/metrics").text
    assert 'omni_channel_worker_up{channel="webhook"} 1.0' in metrics
    assert 'omni_channel_breaker_state{channel="webhook",state="closed"} 1.0' in metrics
    assert 'omni_channel_queue_depth{channel="webhook",status="queued"}' in metrics
    assert 'omni_channel_messages_total{channel="webhook",outcome="sent"}' in metrics


def test_bad_requests_get_400_naming_the_field_and_no_token_gets_401(served):
    http = served["http"]
    unknown = http.post("/api/messages", json={"channel": "fax", "address": "x", "content": BODY})
    assert unknown.status_code == 400 and "fax" in unknown.text
    both = http.post("/api/messages", json={"channel": "webhook", "address": "ok"})
    assert both.status_code == 400 and "template" in both.text
    nobody = http.post(
        "/api/messages",
        json={"channel": "webhook", "identifier": "email:no@mail.cn", "content": PLAIN},
    )
    assert nobody.status_code == 404 and "email:no@mail.cn" in nobody.text
    stranger = http.post(
        "/api/messages/test", json={"channel": "webhook", "address": "fail", "content": PLAIN}
    )
    assert stranger.status_code == 400 and "test recipients of webhook" in stranger.text
    assert http.get("/api/messages/999999").status_code == 404
    assert httpx.get(f"{served['url']}/api/messages").status_code == 401
    batch = http.post(
        "/api/messages/batch",
        json={
            "messages": [
                {"channel": "webhook", "address": "ok", "content": {"body": "{{ nope }}"}},
                {"channel": "webhook", "address": "ok", "content": BODY, "data": {"order_id": 1}},
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    first, second = batch.json()
    assert "'nope' is undefined" in first["error"] and second["status"] == "queued"


def test_suppressions_over_http_stop_sends_until_lifted(served):
    http = served["http"]
    added = http.post("/api/suppressions", json={"channel": "webhook", "address": "flaky"})
    assert added.status_code == 201 and added.json()["reason"] == "manual"
    dropped = http.post(
        "/api/messages",
        json={"channel": "webhook", "address": "flaky", "content": BODY, "data": {"order_id": 2}},
    ).json()
    assert (dropped["status"], dropped["reason"]) == ("dropped", "suppression")
    listed = http.get("/api/suppressions", params={"channel": "webhook"}).json()
    assert [s["address"] for s in listed] == ["flaky"]
    assert http.delete("/api/suppressions/webhook/flaky").status_code == 200
    assert http.delete("/api/suppressions/webhook/flaky").status_code == 404


def test_the_cli_sends_and_reports_through_the_running_server(served):
    home = served["home"]
    sent = json.loads(
        omni(
            "messages",
            "send",
            "--channel",
            "webhook",
            "--address",
            "ok",
            "--content",
            json.dumps(PLAIN),
            "--key",
            "cli:1",
            "--json",
            home=home,
        ).stdout
    )
    assert sent["status"] == "queued"
    wait_for(
        lambda: _message(served["http"], sent["outbox_id"])["status"] == "sent", what="delivery"
    )
    shown = omni("messages", "show", str(sent["outbox_id"]), home=home).stdout
    assert "sent" in shown and "delivery log" in shown
    status = omni("channels", "status", home=home).stdout
    assert "webhook" in status and "running" in status and "closed" in status
    again = omni(
        "messages",
        "send",
        "--channel",
        "webhook",
        "--address",
        "ok",
        "--content",
        json.dumps(PLAIN),
        "--key",
        "cli:1",
        home=home,
    ).stdout
    assert "duplicate of an earlier request" in again
