"""``platform.send_times.build()``: fit the send-time model and swap its tables in whole.

Evidence is counted in the engine (``evidence.py``), reaches numpy as one long table of
(profile, channel, hour of week, count), is fitted per channel (``model.py``), and the
results are written aside and swapped in one transaction (``Warehouse.replace_all``, as
the profile build does), so ``next_best`` reads the old model or the new one, never a
half-written table:

- ``send_times``: per profile and channel, the best local hour of week, the evidence,
  the weight of the person's own data and whether it is their own or the population's;
- ``send_time_hours``: the counts the model was fitted on (``next_best`` and ``of`` compute
  a person's 168-hour profile from them, so a window of a few hours gets the best hour
  *inside* it);
- ``send_time_peaks``: per channel, the population profile and the fitted prior strength.

Each build is recorded in ``send_time_builds`` (what it read up to, the report).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import scratch
from omnichannel.sendtime.evidence import ACTIVITY, CHANNELS, HOURS_PER_WEEK, collect
from omnichannel.sendtime.labels import hour_label
from omnichannel.sendtime.model import ChannelEstimate, Counts, estimate
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.replace import Replacement
from omnichannel.warehouse.tables import SEND_TIME_HOURS, SEND_TIME_PEAKS, SEND_TIMES

Progress = Callable[[str, int, int], None]
STAGES = 4
# Own data carries at least this share of the estimate: the person's own best hour.
OWN_THRESHOLD = 0.5


@dataclass
class SendTimeReport:
    """What one build did."""

    status: str
    profiles: int
    rows: int
    until: datetime | None
    timezone: str
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_send_times(
    wh: Warehouse,
    *,
    rules: IdentityRules,
    timezone: str,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> SendTimeReport:
    """Fit every profile's best send hour per channel from events before ``until``."""
    started = time.perf_counter()
    step = progress or (lambda stage, done, total: None)
    step("send-times", 0, STAGES)
    tmp = scratch(wh)
    try:
        evidence = collect(wh, tmp, rules, default_timezone=timezone, until=until)
        step("send-times", 1, STAGES)
        counts = evidence.hours.to_pyarrow()
        profile_ids, activity, responses = _arrays(counts)
        estimates = list(estimate(responses, activity, len(profile_ids)))
        step("send-times", 2, STAGES)
        built_at = datetime.now(UTC).replace(tzinfo=None)
        rows = _send_time_rows(profile_ids, estimates)
        with_zone = _with_zones(ibis.memtable(rows), evidence.zones, built_at)
        peaks = ibis.memtable(_peak_rows(estimates))
        wh.replace_all(
            [
                Replacement(
                    SEND_TIMES.name,
                    with_zone,
                    SEND_TIMES.schema,
                    order_by=("profile_id", "channel"),
                    # journeys read a few hundred profiles at a time by profile_id
                    index=("profile_id",),
                ),
                Replacement(
                    SEND_TIME_HOURS.name,
                    evidence.hours,
                    SEND_TIME_HOURS.schema,
                    order_by=("profile_id", "channel", "hour_of_week"),
                    index=("profile_id",),
                ),
                Replacement(
                    SEND_TIME_PEAKS.name,
                    peaks,
                    SEND_TIME_PEAKS.schema,
                    order_by=("channel", "hour_of_week"),
                ),
            ],
            written=lambda name: step("send-times", 3, STAGES),
        )
    finally:
        tmp.close()
    report = SendTimeReport(
        status="built",
        profiles=len(profile_ids),
        rows=rows.num_rows,
        until=until,
        timezone=timezone,
        channels={e.fit.channel: _channel_summary(e) for e in estimates},
    )
    report.seconds = round(time.perf_counter() - started, 2)
    _remember(wh, report, built_at)
    step("send-times", STAGES, STAGES)
    return report


def _arrays(counts: pa.Table) -> tuple[pa.Array, Counts, dict[str, Counts]]:
    """Profiles numbered 0..P-1 (``profile_ids[i]``); the counts as sparse arrays."""
    encoded = pc.dictionary_encode(counts.column("profile_id")).combine_chunks()
    profile_ids = encoded.dictionary
    rows = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    hours = counts.column("hour_of_week").to_numpy().astype(np.int64)
    values = counts.column("observations").to_numpy().astype(np.float64)
    channel = counts.column("channel").to_numpy(zero_copy_only=False)

    def part(name: str) -> Counts:
        mask = channel == name
        return Counts.of(rows[mask], hours[mask], values[mask])

    return profile_ids, part(ACTIVITY), {name: part(name) for name in CHANNELS}


def _send_time_rows(profile_ids: pa.Array, estimates: list[ChannelEstimate]) -> pa.Table:
    parts = []
    for e in estimates:
        parts.append(
            pa.table(
                {
                    "profile_id": profile_ids,
                    "channel": pa.array([e.fit.channel] * len(profile_ids), pa.string()),
                    "hour_of_week": pa.array(e.best_hour, pa.int32()),
                    "evidence": pa.array(e.evidence, pa.int64()),
                    "engagements": pa.array(e.engagements, pa.int64()),
                    "weight_own": pa.array(e.weight_own, pa.float64()),
                    "source": pa.array(
                        np.where(e.weight_own >= OWN_THRESHOLD, "own", "population"), pa.string()
                    ),
                }
            )
        )
    return pa.concat_tables(parts)


def _with_zones(rows: Any, zones: Any, built_at: datetime) -> Any:
    joined = rows.left_join(zones, rows.profile_id == zones.profile_id)
    return joined.select(
        *[rows[c] for c in rows.columns],
        timezone=joined.timezone,
        built_at=ibis.literal(built_at).cast("timestamp"),
    )


def _peak_rows(estimates: list[ChannelEstimate]) -> pa.Table:
    fits = [e.fit for e in estimates]
    return pa.table(
        {
            "channel": pa.array(np.repeat([f.channel for f in fits], HOURS_PER_WEEK), pa.string()),
            "hour_of_week": pa.array(np.tile(np.arange(HOURS_PER_WEEK), len(fits)), pa.int32()),
            "share": pa.array(np.concatenate([f.population for f in fits]), pa.float64()),
            "prior_strength": pa.array(
                np.repeat([f.prior_strength for f in fits], HOURS_PER_WEEK), pa.float64()
            ),
        }
    )


def _channel_summary(e: ChannelEstimate) -> dict[str, Any]:
    own = int((e.weight_own >= OWN_THRESHOLD).sum())
    return {
        "prior_strength": round(e.fit.prior_strength, 3),
        "engagements": e.fit.engagements,
        "peak_hour_of_week": e.fit.peak,
        "peak": hour_label(e.fit.peak),
        "own": own,
        "population": int(len(e.weight_own) - own),
    }


def _remember(wh: Warehouse, report: SendTimeReport, built_at: datetime) -> None:
    wh.append(
        "send_time_builds",
        pa.table(
            {
                "built_at": pa.array([built_at], pa.timestamp("us")),
                "until": pa.array([report.until], pa.timestamp("us")),
                "profiles": pa.array([report.profiles], pa.int64()),
                "seconds": pa.array([report.seconds], pa.float64()),
                "report": [json.dumps(report.as_dict(), default=str)],
            }
        ),
    )
