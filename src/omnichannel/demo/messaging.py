"""Owned channels: messages sent (deliveries), opened, clicked, and the visits they bring.

How many clicks an owned channel yields per day is the campaign plan's Hill-of-adstock
expectation, so sending more has diminishing returns and a blast keeps bringing clicks
for days afterwards (people open yesterday's email today).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from omnichannel.demo.behaviour import (
    EMAIL_CLICKED,
    EMAIL_OPENED,
    FRAME_FIELDS,
    P_APP,
    P_EMAIL,
    P_PUSH,
    P_SMS,
    P_WEB,
    P_WECHAT,
    P_WECHAT_OA,
    PUSH_TAPPED,
    SMS_CLICKED,
    WECHAT_CLICKED,
    Sessions,
    logged_in,
    pick_platform_ids,
    usable_platform,
)
from omnichannel.demo.campaigns import CHANNELS, CampaignPlan
from omnichannel.demo.codes import hex_tokens
from omnichannel.demo.identities import Identities
from omnichannel.demo.model import DemoConfig, to_timestamp
from omnichannel.demo.orders import APP, WEB, WECHAT, PlannedOrders, local_hours, placed_orders
from omnichannel.demo.people import People

# channel name -> (platform of the message event, click event kind, platform of the visit)
OWNED = {
    "email": (P_EMAIL, EMAIL_CLICKED, P_WEB),
    "sms": (P_SMS, SMS_CLICKED, P_WEB),
    "wechat": (P_WECHAT_OA, WECHAT_CLICKED, P_WECHAT),
    "app_push": (P_PUSH, PUSH_TAPPED, P_APP),
}
SEND_HOUR_LOCAL = 10


@dataclass
class Messaging:
    deliveries: pa.Table
    events: dict[str, np.ndarray]
    sessions: Sessions
    orders: PlannedOrders


def audiences(people: People, ids: Identities) -> dict[str, np.ndarray]:
    """Who each owned channel can reach (members with consent, app users, followers)."""
    member = np.array([u is not None for u in ids.user_id])
    has_device = ids.device_ptr[1:] > ids.device_ptr[:-1]
    return {
        "email": np.flatnonzero(member & people.has["crm"]),
        "sms": np.flatnonzero(member & people.has["crm"]),
        "wechat": np.flatnonzero(member & people.has["wechat"]),
        "app_push": np.flatnonzero(member & has_device),
    }


def build_messaging(
    rng: np.random.Generator,
    config: DemoConfig,
    people: People,
    ids: Identities,
    plan: CampaignPlan,
    reach: dict[str, np.ndarray],
) -> Messaging:
    deliveries: list[dict[str, object]] = []
    events: list[dict[str, np.ndarray]] = []
    sessions: list[Sessions] = []
    orders: list[PlannedOrders] = []
    for c, ch in enumerate(CHANNELS):
        if not ch.owned:
            continue
        msg_platform, click_kind, visit_platform = OWNED[ch.name]
        audience = reach[ch.name]
        send_person, send_day, send_campaign = [], [], []
        for blast in np.flatnonzero(plan.send_days[c]).tolist():
            n = min(len(audience), round(plan.spend[c, blast] / (ch.cpm / 1000.0)))
            send_person.append(rng.choice(audience, size=n, replace=False))
            send_day.append(np.full(n, blast))
            send_campaign.append(np.full(n, plan.on_air[c, blast]))
        person = np.concatenate(send_person or [np.zeros(0, np.int64)]).astype(np.int64)
        day = np.concatenate(send_day or [np.zeros(0, np.int64)]).astype(np.int64)
        campaign = np.concatenate(send_campaign or [np.zeros(0, np.int64)]).astype(np.int64)
        sent = day * 86_400 + (SEND_HOUR_LOCAL - 8) * 3_600 + rng.integers(0, 1_800, len(day))
        status = np.where(
            rng.random(len(day)) < 0.965,
            "delivered",
            np.where(rng.random(len(day)) < 0.7, "bounced", "failed"),
        )
        deliveries.append(
            _delivery_rows(rng, config, ch.name, person, campaign, sent, status, people, ids, plan)
        )
        delivered = status == "delivered"
        if ch.name == "email":
            opened = delivered & (rng.random(len(day)) < people.open_propensity[person])
            delay = rng.exponential(5 * 3_600, size=int(opened.sum())).astype(np.int64)
            events.append(
                _message_events(
                    person[opened],
                    sent[opened] + 60 + delay,
                    EMAIL_OPENED,
                    msg_platform,
                    campaign[opened],
                    ids,
                    np.flatnonzero(opened) + _offset(deliveries[:-1]),
                )
            )
        # Clicks per day follow the true Hill-of-adstock curve, landing on recent sends.
        clicks = rng.poisson(plan.visits[c])
        click_day = np.repeat(np.arange(config.days), clicks)
        ok = np.flatnonzero(delivered)
        if len(ok) == 0 or len(click_day) == 0:
            continue
        recent = np.searchsorted(day[ok], click_day, side="right")
        start = np.searchsorted(day[ok], click_day - 10, side="left")
        has = recent > start
        click_day = click_day[has]
        pick = ok[start[has] + (rng.random(has.sum()) * (recent[has] - start[has])).astype(int)]
        who = person[pick]
        at = click_day * 86_400 + local_hours(rng, people, who) - 8 * 3_600
        at = np.maximum(at, sent[pick] + 300)
        events.append(
            _message_events(
                who,
                at,
                click_kind,
                msg_platform,
                campaign[pick],
                ids,
                pick + _offset(deliveries[:-1]),
            )
        )
        platform = np.full(len(who), visit_platform)
        have = np.stack(
            [
                ids.cookie_ptr[1:] > ids.cookie_ptr[:-1],
                ids.device_ptr[1:] > ids.device_ptr[:-1],
                ids.openid_anon >= 0,
            ],
            1,
        )
        platform = np.where(have[who, platform], platform, usable_platform(rng, people, who))
        anon, device = pick_platform_ids(rng, ids, who, platform)
        sessions.append(
            Sessions(
                who,
                at + 20,
                platform,
                anon,
                device,
                logged_in(rng, people, ids, who, platform),
                campaign[pick],
                np.full(len(who), -1),
            )
        )
        converts = rng.random(len(who)) < ch.conversion
        local = (at[converts] + 8 * 3_600) % 86_400 + 600
        orders.append(
            placed_orders(
                rng,
                config,
                people,
                who[converts],
                (at[converts] + 8 * 3_600) // 86_400,
                local,
                np.array([WEB, APP, WECHAT])[platform[converts]],
                campaign[pick][converts],
            )
        )
    table = (
        pa.Table.from_pylist([])
        if not deliveries
        # A channel with no sends this run has all-null columns; promotion gives them types.
        else pa.concat_tables([pa.table(d) for d in deliveries], promote_options="default")
    )
    frame = (
        {k: np.concatenate([e[k] for e in events]) for k in FRAME_FIELDS}
        if events
        else {k: np.zeros(0, np.int64) for k in FRAME_FIELDS}
    )
    return Messaging(table, frame, Sessions.concat(sessions), PlannedOrders.concat(orders))


def _offset(done: list[dict[str, object]]) -> int:
    """Row of the first delivery of the next channel in the concatenated table."""
    total = 0
    for rows in done:
        ids = rows["delivery_id"]
        assert isinstance(ids, pa.Array)
        total += len(ids)
    return total


def _message_events(
    person: np.ndarray,
    at: np.ndarray,
    kind: int,
    platform: int,
    campaign: np.ndarray,
    ids: Identities,
    delivery: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(person)
    none = np.full(n, -1, dtype=np.int64)
    anon, device = none.copy(), none.copy()
    if platform == P_PUSH:
        first_device = ids.device_idx[ids.device_ptr[person]]
        device, anon = first_device, ids.device_anon[first_device]
    elif platform == P_WECHAT_OA:
        anon = ids.openid_anon[person]
    return {
        "person": person,
        "ts": at,
        "kind": np.full(n, kind),
        "platform": np.full(n, platform),
        "anon": anon,
        "user": person,
        "device": device,
        "campaign": campaign,
        "product": none,
        "content": none,
        "order": none,
        "page": none,
        "query": none,
        "delivery": delivery,
    }


def _delivery_rows(
    rng: np.random.Generator,
    config: DemoConfig,
    channel: str,
    person: np.ndarray,
    campaign: np.ndarray,
    sent: np.ndarray,
    status: np.ndarray,
    people: People,
    ids: Identities,
    plan: CampaignPlan,
) -> dict[str, object]:
    n = len(person)
    if channel == "email":
        recipient = [people.email[p] for p in person]
    elif channel == "sms":
        recipient = [people.phone[p] for p in person]
    elif channel == "wechat":
        recipient = ids.anon_values.take(pa.array(ids.openid_anon[person])).to_pylist()
    else:
        recipient = ids.device_values.take(
            pa.array(ids.device_idx[ids.device_ptr[person]])
        ).to_pylist()
    ok = status == "delivered"
    return {
        "delivery_id": hex_tokens(rng, n, 8, prefix="dlv_"),
        "channel": [channel] * n,
        "campaign_id": [plan.campaign_ids[k] for k in campaign],
        "recipient": recipient,
        "template": [f"{channel}_{plan.campaign_ids[k].lower()}" for k in campaign],
        "status": status.tolist(),
        "error": [None if s else "mailbox unavailable" for s in ok],
        "provider_message_id": hex_tokens(rng, n, 10),
        "queued_at": pa.array(to_timestamp(config, sent - 120)),
        "sent_at": pa.array(to_timestamp(config, sent)),
    }
