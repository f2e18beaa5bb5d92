"""Ground truth of the demo business, written apart from the warehouse.

The platform never reads these files; evaluations do, to score identity resolution,
send-time, CLV and marketing-mix models against what was really generated.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omnichannel.demo.campaigns import CHANNELS, HILL_SHAPE, CampaignPlan
from omnichannel.demo.catalogue import CONTENT_TYPES
from omnichannel.demo.model import DemoConfig, ensure_dir
from omnichannel.demo.people import HOUR_TYPES, PURCHASE_CHANNELS, People

if TYPE_CHECKING:
    from omnichannel.platform import Platform

README = """# Ground truth of the demo business

Written by `omni demo` (seed {seed}, {people} people, {days} days from {start}).
The warehouse never contains these facts; use them to score what the platform infers.
All times in the warehouse are naive UTC; hours below are **local time (UTC+8)**.

- `records.parquet`, one row per customer record, identify event and order:
  `source`, `record_id`, `person_id`, `kind` (`customer_record`, `identify_event`,
  `order`), `is_linkage_record` (a record sharing no identifier with the person's
  others: only fuzzy name / birth date / postcode / address matching can join it).
- `identifiers.parquet`, one row per distinct identifier: `id_type`, `id_value`,
  `person_ids` (list), `n_people` (> 1 means a shared device, store kiosk or family
  phone: an over-merge trap). Includes cookies never seen on a record.
- `people.parquet`, one row per person: names, birth date, city, `household`,
  `hour_type`, `peak_hour` (local), `hour_profile` (24 probabilities, local hours
  0-23), `affinity_<content type>`, `browse_rate` (sessions/day), `purchase_rate`
  (orders/day while alive: BG/NBD lambda), `dropout` (BG/NBD p), `last_active_day`
  (day index of dropout, or the last day), `spend_level` (CNY, Gamma-Gamma mean
  basket), `preferred_channel`, `has_<system>` flags.
- `channel_effects.parquet`, one row per marketing channel: `decay` (geometric
  adstock), `half_spend` (CNY of adstock at half effect), `max_visits` (incremental
  visits/day at saturation), `conversion` (orders per visit), `hill_shape`, `owned`.
- `channel_daily.parquet`, one row per channel and day: `spend`, `adstock`,
  `incremental_visits`, `incremental_orders` (expected values; realised counts are
  Poisson around them).

Effect model: `adstock[t] = spend[t] + decay * adstock[t-1]`;
`visits[t] = max_visits * adstock^k / (adstock^k + half_spend^k)`, `k = hill_shape`;
`orders[t] = visits[t] * conversion`.
"""


def write_truth(
    truth_dir: Path,
    config: DemoConfig,
    people: People,
    plan: CampaignPlan,
    owned: list[tuple[str, str, int]],
    records: pa.Table,
    last_day: np.ndarray,
) -> dict[str, int]:
    """Write every truth file; returns row counts per file."""
    out = ensure_dir(truth_dir)
    pid = np.array(people.person_ids, dtype=object)
    counts: dict[str, int] = {}

    def write(name: str, table: pa.Table) -> None:
        pq.write_table(table, out / name, compression="zstd")
        counts[name] = table.num_rows

    write("records.parquet", records)
    write("identifiers.parquet", _identifier_owners(owned, pid))
    write("people.parquet", _people(people, last_day))
    write(
        "channel_effects.parquet",
        pa.table(
            {
                "channel": [c.name for c in CHANNELS],
                "utm_medium": [c.medium for c in CHANNELS],
                "decay": [c.decay for c in CHANNELS],
                "half_spend": [c.half_spend * config.scale for c in CHANNELS],
                "max_visits": [c.max_visits * config.scale for c in CHANNELS],
                "conversion": [c.conversion for c in CHANNELS],
                "hill_shape": [HILL_SHAPE] * len(CHANNELS),
                "owned": [c.owned for c in CHANNELS],
            }
        ),
    )
    days = config.day_dates()
    n_ch = len(CHANNELS)
    write(
        "channel_daily.parquet",
        pa.table(
            {
                "date": pa.array(days * n_ch, pa.date32()),
                "channel": np.repeat([c.name for c in CHANNELS], config.days).tolist(),
                "spend": plan.spend.ravel(),
                "adstock": plan.adstock.ravel(),
                "incremental_visits": plan.visits.ravel(),
                "incremental_orders": plan.orders.ravel(),
            }
        ),
    )
    (out / "README.md").write_text(
        README.format(seed=config.seed, people=config.people, days=config.days, start=config.start)
    )
    return counts


def _identifier_owners(owned: list[tuple[str, str, int]], pid: np.ndarray) -> pa.Table:
    by_id: dict[tuple[str, str], set[int]] = {}
    for id_type, value, person in owned:
        by_id.setdefault((id_type, value), set()).add(person)
    keys = sorted(by_id)
    owners = [sorted(by_id[k]) for k in keys]
    return pa.table(
        {
            "id_type": [k[0] for k in keys],
            "id_value": [k[1] for k in keys],
            "person_ids": pa.array([[pid[p] for p in o] for o in owners], pa.list_(pa.string())),
            "n_people": pa.array([len(o) for o in owners], pa.int32()),
        }
    )


def _people(people: People, last_day: np.ndarray) -> pa.Table:
    columns: dict[str, object] = {
        "person_id": people.person_ids,
        "first_name": people.first_name,
        "last_name": people.last_name,
        "birth_date": pa.array(people.birth_date, pa.date32()),
        "gender": np.where(people.gender == 0, "female", "male").tolist(),
        "city_index": people.city,
        "household": pa.array(people.household, mask=people.household < 0),
        "hour_type": [HOUR_TYPES[t][0] for t in people.hour_type],
        "peak_hour": pa.array(people.peak_hour, pa.int32()),
        "hour_profile": pa.FixedSizeListArray.from_arrays(
            pa.array(people.hour_profile.ravel()), 24
        ),
    }
    for k, name in enumerate(CONTENT_TYPES):
        columns[f"affinity_{name}"] = people.content_affinity[:, k]
    columns.update(
        {
            "browse_rate": people.browse_rate,
            "purchase_rate": people.purchase_rate,
            "dropout": people.dropout,
            "last_active_day": last_day,
            "spend_level": people.spend_level,
            "preferred_channel": [PURCHASE_CHANNELS[c] for c in people.preferred_channel],
        }
    )
    for name, flags in people.has.items():
        columns[f"has_{name}"] = flags
    return pa.table(columns)


def profiles_of_people(platform: Platform, truth: Path) -> dict[str, str]:
    """Truth person -> the profile holding most of their own (unshared) identifiers: how
    an evaluation scores what the platform found per profile against the demo's people."""
    owners = pq.read_table(truth / "identifiers.parquet").to_pylist()
    mine = {(o["id_type"], o["id_value"]): o["person_ids"][0] for o in owners if o["n_people"] == 1}
    with platform.warehouse.reader() as wh:
        pi = wh.table("profile_identifiers")
        rows = pi.filter(pi.status == "linked").select("id_type", "id_value", "profile_id")
        linked = rows.to_pyarrow().to_pylist()
    votes: dict[str, dict[str, int]] = {}
    for row in linked:
        person = mine.get((row["id_type"], row["id_value"]))
        if person is not None:
            tally = votes.setdefault(person, {})
            tally[row["profile_id"]] = tally.get(row["profile_id"], 0) + 1
    return {person: max(t, key=lambda p: t[p]) for person, t in votes.items()}
