"""Best send time on the demo retailer, scored on its hidden hour-by-hour truth.

Run: ``.venv/bin/python evaluations/send_time_demo.py [--people 5000] [--days 90] [--seed 7]``
(or ``--home H`` for a home ``omni demo`` made: identities resolved, truth in H/truth).

The model is fitted on the first two thirds of the period (``build(until=...)``); every
person the demo generated and the warehouse has a profile for is then scored on
``truth/people.parquet``'s ``hour_profile``: the person's true probability of acting in
each local hour (UTC+8, the same every day of the week). How likely a message is to be
opened when sent at hour ``h`` is read from it two ways:

- **active at the send hour**: response ∝ ``hour_profile[h]`` (the demo's own meaning:
  someone is reached when they are active);
- **inbox decay**: the message waits for the person's next active hour and its chance
  halves every 3 hours it waits, response ∝ ``Σ_k hour_profile[(h + k) % 24] · 0.5^(k/3)``.

The expected open rate of a policy is the mean over people of their response at the hour
it picks, relative to the mean over hours (1.0 = a random hour). Policies: one fixed
time for everyone (10:00 local, when the demo itself sent), the channel's audience peak,
the raw argmax of each person's own active hours by hour of day (the audience peak without
any), this model, and the
truth's own best hour (the ceiling). Uplift = policy / fixed 10:00 - 1, and / audience peak - 1.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.demo.evaluation import evaluation_home
from omnichannel.demo.truth import profiles_of_people
from omnichannel.platform import Platform
from omnichannel.sendtime.evidence import ACTIVITY

FIXED_HOUR = 10
DECAY_HALF_HOURS = 3.0
CHANNEL = "email"


def _stored(platform: Platform, channel: str) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Each profile's chosen hour of week, and its own counts by local hour of day."""
    with platform.warehouse.reader() as wh:
        st = wh.table("send_times")
        chosen = st.filter(st.channel == channel).select("profile_id", "hour_of_week")
        picked = {r["profile_id"]: r["hour_of_week"] for r in chosen.to_pyarrow().to_pylist()}
        h = wh.table("send_time_hours")
        counts = h.filter(h.channel.isin([ACTIVITY, channel])).to_pyarrow()
    own: dict[str, np.ndarray] = {}
    for row in counts.to_pylist():
        vector = own.setdefault(row["profile_id"], np.zeros(24))
        # the raw argmax weighs nothing: every observation once (responses are among them)
        if row["channel"] == ACTIVITY:
            vector[row["hour_of_week"] % 24] += row["observations"]
    return picked, own


def _responses(hour_profile: np.ndarray) -> dict[str, np.ndarray]:
    """Per person and send hour, the response under each reading, 1.0 = a random hour."""
    active = hour_profile * 24
    k = np.arange(24)
    weights = 0.5 ** (k / DECAY_HALF_HOURS)
    shifted = np.stack([np.roll(hour_profile, -h, axis=1) for h in range(24)], axis=1)
    decay = (shifted * weights).sum(axis=2)
    decay = decay / decay.mean(axis=1, keepdims=True)
    return {"active at the send hour": active, "inbox decay (half-life 3 h)": decay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="an existing `omni demo` home")
    parser.add_argument("--channel", default=CHANNEL)
    args = parser.parse_args()
    console = Console(width=150)
    load = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        started = time.perf_counter()
        if args.home is None:
            config = evaluation_home(home, people=args.people, days=args.days, seed=args.seed)
            start, days = config.start, config.days
        else:
            readme = (home / "truth" / "README.md").read_text()
            days = int(readme.split(" days from ")[0].rsplit(", ", 1)[1])
            start = np.datetime64(readme.split(" days from ")[1][:10]).astype(object)
        generated = time.perf_counter() - started
        until = np.datetime64(start) + np.timedelta64(days * 2 // 3, "D")
        until_dt = until.astype("datetime64[s]").astype(object)
        with Platform.open(home) as platform:
            started = time.perf_counter()
            report = platform.send_times.build(until=until_dt)
            fitted = time.perf_counter() - started
            profile_of = profiles_of_people(platform, home / "truth")
            picked, own = _stored(platform, args.channel)
            peak = report.channels[args.channel]["peak_hour_of_week"] % 24
            strength = report.channels[args.channel]["prior_strength"]
        truth = pq.read_table(
            home / "truth" / "people.parquet", columns=["person_id", "hour_profile"]
        )

    people = truth.column("person_id").to_pylist()
    hour_profile = np.asarray(
        pa.array(truth.column("hour_profile").combine_chunks().flatten()).to_numpy()
    ).reshape(len(people), 24)
    scored = [i for i, p in enumerate(people) if p in profile_of]
    profiles = [profile_of[people[i]] for i in scored]
    truth_rows = hour_profile[scored]
    fallback = report.channels[args.channel]["peak_hour_of_week"]
    model = np.array([picked.get(p, fallback) % 24 for p in profiles])
    raw = np.array([int(np.argmax(own[p])) if p in own else peak for p in profiles])
    evidence = np.array([own[p].sum() if p in own else 0 for p in profiles])
    policies = {
        f"fixed {FIXED_HOUR:02d}:00 for everyone": np.full(len(scored), FIXED_HOUR),
        f"audience peak ({peak:02d}:00)": np.full(len(scored), peak),
        "raw argmax of own hours": raw,
        "this model (empirical Bayes)": model,
        "truth's best hour (ceiling)": np.argmax(truth_rows, axis=1),
    }
    console.print(
        f"{len(people):,} people, {len(scored):,} with a profile; fitted on "
        f"{days * 2 // 3} of {days} days (until {until_dt:%Y-%m-%d}); channel {args.channel}; "
        f"prior strength {strength:.1f}; load average {load:.1f}; demo {generated:.0f} s, "
        f"build {fitted:.1f} s ({report.profiles:,} profiles)"
    )
    for reading, response in _responses(truth_rows).items():
        table = Table(title=f"expected open rate, {reading} (1.00 = a random hour)")
        for column in ("policy", "all", "< 5 obs", "5-19 obs", "20+ obs", "vs fixed", "vs peak"):
            table.add_column(column)
        rates = {name: response[np.arange(len(scored)), hours] for name, hours in policies.items()}
        fixed = rates[f"fixed {FIXED_HOUR:02d}:00 for everyone"].mean()
        at_peak = rates[f"audience peak ({peak:02d}:00)"].mean()
        buckets = [evidence < 5, (evidence >= 5) & (evidence < 20), evidence >= 20]
        for name, rate in rates.items():
            table.add_row(
                name,
                f"{rate.mean():.3f}",
                *[f"{rate[b].mean():.3f} ({int(b.sum())})" if b.any() else "-" for b in buckets],
                f"{100 * (rate.mean() / fixed - 1):+.1f} %",
                f"{100 * (rate.mean() / at_peak - 1):+.1f} %",
            )
        console.print(table)


if __name__ == "__main__":
    main()
