"""``platform.send_times``: build the model, and ask it when to send.

Example::

    with Platform.open("omni-home") as platform:
        platform.send_times.build()
        when = platform.send_times.next_best(["p_1", "p_2"], "email",
                                             after=datetime(2026, 6, 1, 8, 0))
        platform.send_times.of("email:ann@example.com")["channels"]["email"]["label"]
        platform.send_times.peaks("sms")[:3]

Journeys call ``next_best`` for hundreds of people at once: it reads their rows of
``send_times`` and ``send_time_hours`` in one query and computes each person's best hour
inside the window from the stored counts (``schedule.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.sendtime.evidence import ACTIVITY, CHANNELS, HOURS_PER_WEEK
from omnichannel.sendtime.labels import hour_label
from omnichannel.sendtime.model import combine, posterior
from omnichannel.sendtime.reads import Row, evidence_rows, peak_rows
from omnichannel.sendtime.schedule import (
    best_moments,
    checked_within,
    naive_utc,
    window_slots,
    zone_or,
)

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]


def known_channel(channel: str) -> str:
    """A channel the model covers, or one the send path has (webhook: no model, so
    ``next_best`` answers ``after``); anything else is refused naming them."""
    from omnichannel.channels.registry import CHANNELS as SENDABLE

    if channel not in CHANNELS and channel not in SENDABLE:
        names = ", ".join(dict.fromkeys([*CHANNELS, *SENDABLE]))
        raise ValidationError("channel", channel, f"one of {names}")
    return channel


class ChannelModel:
    """One channel's population profile and prior strength, as the last build stored them."""

    def __init__(self, channel: str, population: np.ndarray, prior_strength: float) -> None:
        self.channel = channel
        self.population = population
        self.prior_strength = prior_strength

    def profiles(self, activity: np.ndarray, responses: np.ndarray) -> np.ndarray:
        """Posterior shares per row, from counts of active hours and of those with a response."""
        return posterior(combine(activity, responses), self.population, self.prior_strength)


class SendTimesCapability:
    """Best send time per person and channel, and each channel's peak hours (C9)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def build(self, *, until: datetime | None = None, progress: Progress | None = None) -> Any:
        """Fit the model on events before ``until`` (default: all) and swap its tables in."""
        from omnichannel.sendtime.build import build_send_times

        platform = self._platform
        until = naive_utc(until, "until") if until is not None else None
        with platform.warehouse.reader() as wh:
            return build_send_times(
                wh,
                rules=platform.config.rules,
                timezone=platform.config.timezone,
                until=until,
                progress=progress,
            )

    def next_best(
        self,
        profile_ids: Sequence[str],
        channel: str,
        *,
        after: datetime,
        within: timedelta = timedelta(hours=24),
    ) -> dict[str, datetime]:
        """For each profile, the first moment in ``[after, after + within)`` in its best
        hour (naive UTC). No row: the channel's peak; no model built: ``after``."""
        known_channel(channel)
        after = naive_utc(after)
        within = checked_within(within)
        ids = list(dict.fromkeys(str(p) for p in profile_ids))
        if not ids:
            return {}
        fallback = ZoneInfo(self._platform.config.timezone)  # checked when the config loaded
        with self._platform.warehouse.reader() as wh:
            model = self._models(wh, channel).get(channel)
            if model is None:
                return dict.fromkeys(ids, after)
            found = self._evidence(wh, ids, channel)
        activity, responses, zones = _dense(ids, found, channel)
        shares = model.profiles(activity, responses)
        answer: dict[str, datetime] = {}
        for name in sorted({z or "" for z in zones}):
            rows = [i for i, z in enumerate(zones) if (z or "") == name]
            slots = window_slots(after, within, zone_or(name, fallback))
            for i, moment in zip(rows, best_moments(shares[rows], slots), strict=True):
                answer[ids[i]] = moment
        return {pid: answer[pid] for pid in ids}

    def of(self, identifier: str) -> dict[str, Any]:
        """Per channel: best hour, its local label, evidence, own or population, 168 shares."""
        with self._platform.warehouse.reader() as wh:
            models = self._models(wh, None)
            if not models:
                raise NotFoundError(
                    "no send-time model is built yet: run `omni send-times build` "
                    "(or POST /api/send-times/build)"
                )
            profile_id = self._profile_of(wh, identifier)
            st = wh.table("send_times")
            stored = {
                r["channel"]: r
                for r in st.filter(st.profile_id == profile_id).to_pyarrow().to_pylist()
            }
            found = self._evidence(wh, [profile_id], None)
        timezone = next((r["timezone"] for r in stored.values() if r["timezone"]), None)
        channels: dict[str, Any] = {}
        for channel, model in models.items():
            activity, responses, _ = _dense([profile_id], found, channel)
            shares = model.profiles(activity, responses)[0]
            best = int(np.argmax(shares))
            row = stored.get(channel)
            channels[channel] = {
                "hour_of_week": best,
                "label": hour_label(best),
                "evidence": int(row["evidence"]) if row else 0,
                "engagements": int(row["engagements"]) if row else 0,
                "weight_own": round(float(row["weight_own"]), 4) if row else 0.0,
                "source": row["source"] if row else "population",
                "profile": [round(float(s), 5) for s in shares],
            }
        return {
            "profile_id": profile_id,
            "timezone": timezone or self._platform.config.timezone,
            "timezone_known": timezone is not None,
            "channels": channels,
        }

    def peaks(self, channel: str, *, top: int | None = None) -> list[dict[str, Any]]:
        """The channel's hours of week by the population's share of responses, highest first."""
        known_channel(channel)
        with self._platform.warehouse.reader() as wh:
            model = self._models(wh, channel).get(channel)
        if model is None:
            raise NotFoundError(
                f"no send-time model is built yet for channel={channel!r}: run "
                "`omni send-times build`"
            )
        order = np.argsort(-model.population, kind="stable")
        chosen = order if top is None else order[: max(0, int(top))]
        return [
            {
                "hour_of_week": int(h),
                "label": hour_label(int(h)),
                "share": round(float(model.population[h]), 6),
            }
            for h in chosen
        ]

    def prior_strengths(self) -> dict[str, float]:
        """Each channel's fitted prior strength (observations), as the last build stored it."""
        with self._platform.warehouse.reader() as wh:
            return {c: m.prior_strength for c, m in self._models(wh, None).items()}

    # --- reading the stored model -------------------------------------------------------

    def _models(self, wh: Warehouse, channel: str | None) -> dict[str, ChannelModel]:
        rows = peak_rows(wh, channel)
        models: dict[str, ChannelModel] = {}
        for start in range(0, len(rows), HOURS_PER_WEEK):
            week = rows[start : start + HOURS_PER_WEEK]
            name = week[0]["channel"]
            population = np.array([r["share"] for r in week], dtype=np.float64)
            models[name] = ChannelModel(name, population, float(week[0]["prior_strength"]))
        return models

    def _evidence(self, wh: Warehouse, ids: list[str], channel: str | None) -> list[Row]:
        """One query: each profile's stored row (its zone) and the counts it was fitted on."""
        return evidence_rows(wh, ids, channel)

    def _profile_of(self, wh: Warehouse, identifier: str) -> str:
        """A profile id as given, else the profile holding ``type:value``; 404 when none."""
        from omnichannel.profiles.lookup import ProfileNotFoundError

        text = str(identifier).strip()
        rp = wh.table("record_profiles")
        if int(rp.filter(rp.profile_id == text).count().to_pyarrow().as_py()):
            return text
        if ":" not in text:
            raise NotFoundError(
                f"identifier={text!r} is neither a profile id nor TYPE:VALUE "
                "(such as email:ann@example.com or user_id:42)"
            )
        try:
            return self._platform.lookup.find(wh, text).profile_id
        except ProfileNotFoundError as exc:
            raise NotFoundError(str(exc)) from None


def _dense(
    ids: list[str], found: list[Row], channel: str
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Activity and response counts per profile (rows in ``ids`` order) and each zone."""
    position = {pid: i for i, pid in enumerate(ids)}
    activity = np.zeros((len(ids), HOURS_PER_WEEK))
    responses = np.zeros((len(ids), HOURS_PER_WEEK))
    zones: list[str | None] = [None] * len(ids)
    for row in found:
        i = position[row["profile_id"]]
        zones[i] = row["timezone"]
        if row["channel"] == ACTIVITY:
            activity[i, row["hour_of_week"]] += row["observations"]
        elif row["channel"] == channel:
            responses[i, row["hour_of_week"]] += row["observations"]
    return activity, responses, zones
