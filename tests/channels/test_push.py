"""The push adapter against a stand-in of FCM HTTP v1 and Google's OAuth token endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest

from omnichannel.channels.adapter import Rejected, RetryLater, Sent
from omnichannel.channels.push import PushAdapter, PushSettings
from omnichannel.config import Settings
from omnichannel.errors import ConfigError
from omnichannel.platform import Platform
from tests.channels.providers import context, delivery, send_all
from tests.channels.servers.fcm import PROJECT, FcmStandIn, service_account
from tests.profiles.support import T0


@pytest.fixture
def fcm() -> Iterator[FcmStandIn]:
    with FcmStandIn().running() as server:
        assert isinstance(server, FcmStandIn)
        yield server


def settings(fcm: FcmStandIn, **changes: object) -> PushSettings:
    values: dict[str, object] = {
        "base_url": fcm.base_url,
        "project_id": PROJECT,
        "service_account_json": json.dumps(service_account(fcm.base_url + "/token")),
        "timeout": 2,
    }
    values.update(changes)
    return PushSettings.model_validate(values)


def push(token: str, **content: object) -> object:
    parts = {"title": "Back in stock", "body": "The jacket you liked is back", **content}
    return delivery("push", token, parts)


def test_a_push_reaches_fcm_with_notification_and_string_data(fcm):
    adapter = PushAdapter(settings(fcm), context())
    (outcome,) = send_all(adapter, [push("tok-1", data={"sku": "J-1", "price": 399})])
    assert isinstance(outcome, Sent)
    assert outcome.provider_message_id.startswith(f"projects/{PROJECT}/messages/")
    (message,) = fcm.messages
    assert message["token"] == "tok-1"
    assert message["notification"] == {
        "title": "Back in stock",
        "body": "The jacket you liked is back",
    }
    assert message["data"] == {"sku": "J-1", "price": "399"}


def test_the_access_token_is_fetched_once_and_again_when_fcm_refuses_it(fcm):
    adapter = PushAdapter(settings(fcm), context())

    import asyncio

    async def run() -> list[object]:
        await adapter.open()
        first = [await adapter.send(push("tok-1")), await adapter.send(push("tok-2"))]
        fcm.revoke_tokens()
        later = await adapter.send(push("tok-3"))
        await adapter.close()
        return [*first, later]

    outcomes = asyncio.run(run())
    assert all(isinstance(o, Sent) for o in outcomes)
    assert adapter.tokens is not None and adapter.tokens.fetched == 2
    assert len(fcm.received("/token")) == 2


def test_dead_tokens_are_rejected_and_suppressed(fcm):
    fcm.unregistered.add("uninstalled")
    fcm.other_project.add("elsewhere")
    outcomes = send_all(
        PushAdapter(settings(fcm), context()),
        [push("uninstalled"), push("elsewhere"), push("not a token")],
    )
    assert [type(o) for o in outcomes] == [Rejected] * 3
    assert all(o.suppress for o in outcomes)
    assert [o.reason for o in outcomes] == ["unregistered", "unregistered", "invalid_address"]
    assert "UNREGISTERED" in outcomes[0].response


def test_a_message_fcm_refuses_is_rejected_but_the_token_kept(fcm):
    (outcome,) = send_all(PushAdapter(settings(fcm), context()), [push("tok-1", body="x" * 5000)])
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "invalid_message" and not outcome.suppress


def test_unavailable_is_retried_after_fcms_retry_after(fcm):
    fcm.unavailable = 1
    outcomes = send_all(PushAdapter(settings(fcm), context()), [push("t"), push("t")])
    assert isinstance(outcomes[0], RetryLater) and outcomes[0].retry_after == 3
    assert isinstance(outcomes[1], Sent)


def test_a_service_account_the_token_endpoint_refuses_is_retried_not_dead_lettered(fcm):
    fcm.known_accounts = {"someone-else@omni-test.iam.gserviceaccount.com"}
    (outcome,) = send_all(PushAdapter(settings(fcm), context()), [push("t")])
    assert isinstance(outcome, RetryLater)
    assert "refused the service account" in outcome.response and "invalid_grant" in outcome.response
    assert fcm.messages == []


def test_settings_need_exactly_one_key_and_a_readable_one(tmp_path):
    with pytest.raises(ValueError, match="exactly one of service_account_file"):
        PushSettings.model_validate({"project_id": PROJECT})
    missing = PushSettings.model_validate(
        {"project_id": PROJECT, "service_account_file": str(tmp_path / "nope.json")}
    )
    with pytest.raises(ConfigError, match=r"push.service_account_file .*nope.json"):
        missing.service_account()
    (tmp_path / "k.json").write_text('{"client_email": "a"}')
    partial = PushSettings.model_validate(
        {"project_id": PROJECT, "service_account_file": str(tmp_path / "k.json")}
    )
    with pytest.raises(ConfigError, match="missing private_key, token_uri"):
        partial.service_account()


def test_a_profiles_push_tokens_are_its_devices_latest_first(people_home):
    home, ids = people_home  # the channel tests' people (conftest.py), identity resolved
    with Platform(Settings(home=home)) as platform:
        with platform.warehouse.writer() as wh:
            # Ann's app cookie, so events that name only it are hers.
            wh.append(
                "identifiers",
                pa.table(
                    {
                        "source": ["crm"],
                        "record_id": ["c-ann"],
                        "id_type": ["anonymous_id"],
                        "id_value": ["ann-cookie"],
                        "observed_at": [T0],
                    }
                ),
            )
            rows = [
                ("ann", None, T0, {"device": {"token": "ann-old"}}),
                ("ann", None, T0 + timedelta(days=2), {"device": {"token": "ann-new"}}),
                ("ann", None, T0 + timedelta(days=3), {"device": {"type": "ios"}}),  # no token
                (None, "ann-cookie", T0 + timedelta(days=4), {"device": {"token": "ann-tab"}}),
                # Ann's cookie, but Cy's user id: Cy's device (the user id wins), though
                # Cy is not among the people looked up.
                ("cy", "ann-cookie", T0 + timedelta(days=5), {"device": {"token": "cy-tab"}}),
                ("bob", None, T0, {"device": {"token": "bob-1"}}),
                ("bob", None, T0 + timedelta(days=1), {"device": {"token": "  "}}),  # blank
                ("cy", None, T0, {"device": {"token": "cy-1"}}),
            ]
            wh.append(
                "events",
                pa.table(
                    {
                        "message_id": [f"tok{i}" for i in range(len(rows))],
                        "type": ["track"] * len(rows),
                        "event": ["Application Opened"] * len(rows),
                        "user_id": [r[0] for r in rows],
                        "anonymous_id": [r[1] for r in rows],
                        "timestamp": [r[2] for r in rows],
                        "source": ["app"] * len(rows),
                        "context": [json.dumps(r[3]) for r in rows],
                        "loaded_at": [r[2] for r in rows],
                    }
                ),
            )
        platform.identity.resolve()
        with platform.warehouse.reader() as wh:
            found = PushAdapter.lookup_addresses(wh, [ids["ann"], ids["bob"]])
            # The portable Ibis query (other engines) answers the same.
            from omnichannel.channels.push import _push_tokens_ibis
            from omnichannel.identity.rules import load_rules

            portable = _push_tokens_ibis(wh, sorted([ids["ann"], ids["bob"]]), load_rules())
    # Every device of the person, the one seen last first; a blank token is none.
    assert found == {ids["ann"]: ["ann-tab", "ann-new", "ann-old"], ids["bob"]: ["bob-1"]}
    assert portable == found


def test_push_tokens_read_the_same_on_each_warehouse_engine(warehouse_url):
    from omnichannel.channels.push import _push_tokens_ibis, push_tokens
    from omnichannel.identity.rules import load_rules
    from omnichannel.warehouse import Warehouse

    with Warehouse.open(warehouse_url) as wh:
        wh.append(
            "profile_identifiers",
            pa.table(
                {
                    "profile_id": ["p-ann", "p-ann", "p-bob"],
                    "id_type": ["user_id", "anonymous_id", "user_id"],
                    "id_value": ["ann", "ann-cookie", "bob"],
                    "status": ["linked"] * 3,
                }
            ),
        )
        tokens = [("ann", None, 1, "ann-phone"), (None, "ann-cookie", 2, "ann-tab")]
        tokens += [("bob", None, 1, "bob-1"), ("ann", None, 3, None)]
        wh.append(
            "events",
            pa.table(
                {
                    "message_id": [f"t{i}" for i in range(len(tokens))],
                    "type": ["track"] * len(tokens),
                    "user_id": [t[0] for t in tokens],
                    "anonymous_id": [t[1] for t in tokens],
                    "timestamp": [T0 + timedelta(days=t[2]) for t in tokens],
                    "source": ["app"] * len(tokens),
                    "context": [
                        json.dumps({"device": {"token": t[3]} if t[3] else {"type": "ios"}})
                        for t in tokens
                    ],
                    "loaded_at": [T0] * len(tokens),
                }
            ),
        )
        found = push_tokens(wh, ["p-ann", "p-bob", "p-nobody"])
        assert found == {"p-ann": ["ann-tab", "ann-phone"], "p-bob": ["bob-1"]}
        assert _push_tokens_ibis(wh, ["p-ann", "p-bob", "p-nobody"], load_rules()) == found


def test_urgency_follows_the_kind_and_a_ttl_and_link_reach_every_platform(fcm):
    from omnichannel.opstore.models import MessageKind

    adapter = PushAdapter(settings(fcm, ttl=3600), context())
    receipt = delivery(
        "push", "t1", {"title": "Paid", "body": "Order 1"}, kind=MessageKind.TRANSACTIONAL
    )
    offer = push("t2", link="https://shop.example/sale")
    assert all(isinstance(o, Sent) for o in send_all(adapter, [receipt, offer]))
    urgent, normal = fcm.messages
    assert urgent["android"] == {"priority": "HIGH", "ttl": "3600s"}
    assert urgent["apns"]["headers"]["apns-priority"] == "10"
    assert normal["android"]["priority"] == "NORMAL"
    assert normal["apns"]["headers"]["apns-priority"] == "5"
    assert int(normal["apns"]["headers"]["apns-expiration"]) > 0
    assert normal["webpush"] == {
        "headers": {"Urgency": "normal", "TTL": "3600"},
        "fcm_options": {"link": "https://shop.example/sale"},
    }
    assert normal["data"] == {"link": "https://shop.example/sale"}
