"""Campaigns, their daily spend, and the true effect of that spend on visits and orders.

The true effect per channel ``c`` and day ``t`` is the standard marketing-mix form:

    adstock[c, t] = spend[c, t] + decay[c] * adstock[c, t - 1]          (carry-over)
    visits[c, t]  = max_visits[c] * a^k / (a^k + half[c]^k), a = adstock  (saturation, Hill)
    orders[c, t]  = visits[c, t] * conversion[c]

Behaviour realises these expectations as sessions and orders; the truth files keep them
so a marketing-mix model can be scored on how well it recovers decay, half and max.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from omnichannel.demo.model import CURRENCY, DemoConfig, child_rng
from omnichannel.demo.money import decimal_array


@dataclass(frozen=True)
class Channel:
    name: str
    medium: str  # utm_medium
    source: str  # utm_source
    decay: float
    half_spend: float  # CNY of adstock at which the effect is half its maximum (default scale)
    max_visits: float  # incremental visits per day at saturation (default scale)
    conversion: float  # orders per incremental visit
    cpm: float  # CNY per thousand impressions (or per thousand messages)
    daily_budget: float  # typical CNY per flight day (default scale)
    owned: bool  # messages to known people rather than bought media


CHANNELS: tuple[Channel, ...] = (
    Channel("search", "cpc", "baidu", 0.30, 9000, 260, 0.060, 45.0, 6000, False),
    Channel("social", "paid_social", "douyin", 0.50, 7000, 200, 0.030, 28.0, 5000, False),
    Channel("display", "display", "tencent_ads", 0.60, 5000, 90, 0.015, 9.0, 3500, False),
    Channel("video", "video", "bilibili", 0.75, 10000, 160, 0.020, 35.0, 6000, False),
    Channel("offline_flyer", "offline", "flyer", 0.70, 4000, 50, 0.350, 250.0, 2500, False),
    Channel("email", "email", "newsletter", 0.40, 200, 160, 0.040, 30.0, 120, True),
    Channel("sms", "sms", "sms", 0.20, 400, 80, 0.050, 50.0, 250, True),
    Channel("wechat", "wechat", "wechat_oa", 0.40, 60, 130, 0.050, 10.0, 45, True),
    Channel("app_push", "push", "app_push", 0.20, 7, 110, 0.040, 1.0, 5, True),
)
HILL_SHAPE = 1.2
# Named retail moments; a flight overlapping one takes its name.
MOMENTS = (
    (1, 1, "New Year"),
    (2, 10, "Chinese New Year"),
    (3, 8, "Goddess Day"),
    (4, 5, "Qingming Spring"),
    (5, 1, "May Day"),
    (5, 20, "520"),
    (6, 18, "618"),
    (8, 19, "Qixi"),
    (9, 25, "Mid-Autumn"),
    (10, 1, "Golden Week"),
    (11, 11, "Double 11"),
    (12, 12, "Double 12"),
)


@dataclass
class CampaignPlan:
    """Campaign rows, daily spend, and expected incremental effect per channel and day."""

    campaigns: pa.Table
    ad_spend: pa.Table
    campaign_ids: list[str]
    campaign_names: list[str]
    campaign_channel: np.ndarray
    spend: np.ndarray  # [channel, day] CNY
    adstock: np.ndarray
    visits: np.ndarray  # expected incremental visits [channel, day]
    orders: np.ndarray
    on_air: np.ndarray  # [channel, day] campaign index with spend that day, -1 none
    last_campaign: np.ndarray  # [channel, day] most recent campaign index, -1 none
    send_days: np.ndarray  # [channel, day] bool, for owned channels


def hill(adstock: np.ndarray, half: float, top: float) -> np.ndarray:
    a = np.power(np.maximum(adstock, 0.0), HILL_SHAPE)
    return np.asarray(top * a / (a + half**HILL_SHAPE))


def geometric_adstock(spend: np.ndarray, decay: float) -> np.ndarray:
    out = np.empty_like(spend)
    carry = 0.0
    for t, s in enumerate(spend):
        carry = s + decay * carry
        out[t] = carry
    return out


def build_campaigns(config: DemoConfig, audience: dict[str, int]) -> CampaignPlan:
    """Flights per channel; an owned channel never sends more messages than its audience."""
    rng = child_rng(config, "campaigns")
    days = config.days
    dates = config.day_dates()
    weekday = np.array([d.weekday() for d in dates])
    n_ch = len(CHANNELS)
    spend = np.zeros((n_ch, days))
    on_air = np.full((n_ch, days), -1, dtype=np.int64)
    send = np.zeros((n_ch, days), dtype=bool)
    ids: list[str] = []
    names: list[str] = []
    channel_of: list[int] = []
    starts: list[date] = []
    ends: list[date] = []
    budgets: list[float] = []

    for c, ch in enumerate(CHANNELS):
        day = int(rng.integers(0, 10))
        while day < days:
            length = int(rng.integers(7, 22)) if not ch.owned else int(rng.integers(5, 12))
            end = min(days - 1, day + length - 1)
            k = len(ids)
            ids.append(f"CMP-{k + 1:04d}")
            names.append(f"{_moment(dates[day], dates[end])} - {ch.name} - {dates[day]:%b %d}")
            channel_of.append(c)
            starts.append(dates[day])
            ends.append(dates[end])
            level = ch.daily_budget * config.scale * rng.uniform(0.5, 1.8)
            flight = np.arange(day, end + 1)
            if ch.owned:
                # Messages go out in a few blasts, not every day of the campaign.
                blasts = np.unique(rng.choice(flight, size=min(len(flight), 2), replace=False))
                cap = audience.get(ch.name, 0) * ch.cpm / 1000.0 * 0.95
                spend[c, blasts] = np.minimum(level * rng.uniform(1.5, 2.5, size=len(blasts)), cap)
                send[c, blasts] = True
            else:
                jitter = rng.uniform(0.8, 1.2, size=len(flight))
                weekend = np.where(weekday[flight] >= 5, 1.15, 1.0)
                spend[c, flight] = level * jitter * weekend
            on_air[c, flight] = k
            budgets.append(float(spend[c, flight].sum()))
            gap = int(rng.integers(6, 25)) if ch.name != "search" else int(rng.integers(2, 8))
            day = end + 1 + gap
    spend = np.round(spend, 2)

    adstock = np.vstack([geometric_adstock(spend[c], ch.decay) for c, ch in enumerate(CHANNELS)])
    visits = np.vstack(
        [
            hill(adstock[c], ch.half_spend * config.scale, ch.max_visits * config.scale)
            for c, ch in enumerate(CHANNELS)
        ]
    )
    orders = visits * np.array([ch.conversion for ch in CHANNELS])[:, None]
    last = np.maximum.accumulate(np.where(on_air >= 0, on_air, -1), axis=1)

    campaigns = pa.table(
        {
            "campaign_id": ids,
            "name": names,
            "channel": [CHANNELS[c].name for c in channel_of],
            "objective": ["retention" if CHANNELS[c].owned else "acquisition" for c in channel_of],
            "start_date": pa.array(starts, pa.date32()),
            "end_date": pa.array(ends, pa.date32()),
            "budget": decimal_array(np.round(np.array(budgets) * 100).astype(np.int64)),
            "currency": [CURRENCY] * len(ids),
        }
    )
    ad_spend = _ad_spend(rng, config, spend, on_air, visits, ids, names)
    return CampaignPlan(
        campaigns=campaigns,
        ad_spend=ad_spend,
        campaign_ids=ids,
        campaign_names=names,
        campaign_channel=np.array(channel_of),
        spend=spend,
        adstock=adstock,
        visits=visits,
        orders=orders,
        on_air=on_air,
        last_campaign=last,
        send_days=send,
    )


def _moment(first: date, last: date) -> str:
    for month, day, name in MOMENTS:
        for year in (first.year, last.year):
            when = date(year, month, day)
            if first - timedelta(days=3) <= when <= last + timedelta(days=3):
                return name
    seasons = ("Winter", "Spring", "Summer", "Autumn")
    return f"{seasons[(first.month % 12) // 3]} Collection"


def _ad_spend(
    rng: np.random.Generator,
    config: DemoConfig,
    spend: np.ndarray,
    on_air: np.ndarray,
    visits: np.ndarray,
    ids: list[str],
    names: list[str],
) -> pa.Table:
    """What the ad platforms report: spend, impressions (spend / CPM) and clicks."""
    ch_idx, day_idx = np.nonzero(spend > 0)
    cpm = np.array([CHANNELS[c].cpm for c in ch_idx])
    money = spend[ch_idx, day_idx]
    impressions = rng.poisson(money / cpm * 1000.0)
    # Reported clicks exceed landed visits: some clickers leave before the page loads.
    clicks = np.minimum(rng.poisson(visits[ch_idx, day_idx] * 1.18), impressions)
    clicks = np.where(np.array([CHANNELS[c].name == "offline_flyer" for c in ch_idx]), 0, clicks)
    camp = on_air[ch_idx, day_idx]
    dates = config.day_dates()
    return pa.table(
        {
            "date": pa.array([dates[d] for d in day_idx], pa.date32()),
            "channel": [CHANNELS[c].name for c in ch_idx],
            "campaign_id": [ids[k] for k in camp],
            "campaign_name": [names[k] for k in camp],
            "spend": decimal_array(np.round(money * 100).astype(np.int64)),
            "currency": [CURRENCY] * len(ch_idx),
            "impressions": pa.array(impressions, pa.int64()),
            "clicks": pa.array(clicks, pa.int64()),
        }
    )
