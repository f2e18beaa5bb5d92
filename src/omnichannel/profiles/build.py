"""``omni profiles build``: one row per person with identifiers, presence, traits, CLV and tags.

Example::

    from omnichannel.profiles.build import build_profiles
    with open_warehouse(url) as wh:
        report = build_profiles(wh)            # skips the work if no input changed
        wh.table("profiles").filter(lambda t: t.rfm_segment == "champions").count()

Data flow: facts are attributed to profiles once (``traits.base``, temporary tables),
each trait module turns them into a per-profile Ibis table, and the traits are joined
onto the list of profiles (``record_profiles``) and written, with the rule tags computed
in the same statement. Every group-by runs in the engine; only the CLV fit runs in numpy
on the per-profile purchase summary.

Incremental: the build fingerprints its inputs (row counts and high-water marks of every
table it reads, the consent rows, the tag rules, the time zone and the as-of time). An
unchanged fingerprint skips the build. Any change rebuilds every profile: RFM quintiles,
``top_percent`` tags and the CLV fit are population-wide, so one new order can move
other people's scores.

Atomic: the new tables are written aside and swapped in with one transaction
(``Warehouse.replace_all``), so a reader sees the old profiles or the new ones, never an
empty or half-written table. The build also writes ``profile_timeline``
(``profiles.timeline_store``), every fact keyed by its profile, which the Profile API's
timelines read, and ``profile_devices`` (``traits.devices``), every device combination
a person's events came from, which segment device conditions read.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.identity.rules import IdentityRules, load_rules
from omnichannel.profiles.lookup import identity_stamp
from omnichannel.profiles.tags import TagSet, called_tags, load_tags, tag_column
from omnichannel.profiles.timeline_store import SCHEMA as TIMELINE_SCHEMA
from omnichannel.profiles.timeline_store import TIMELINE_TABLE, coverage_now, timeline_rows
from omnichannel.profiles.traits import (
    affinities,
    campaigns,
    channels,
    clv_traits,
    consent,
    devices,
    hours,
    presence,
    propensity,
    rfm,
    surveys,
)
from omnichannel.profiles.traits.base import (
    Members,
    Progress,
    attributed_deliveries,
    attributed_events,
    attributed_orders,
    event_groups,
    scratch,
)
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.replace import Replacement
from omnichannel.warehouse.tables import BY_NAME, PROFILES

OUTPUT_TABLES = (
    "profiles",
    "profile_hours",
    "profile_affinities",
    TIMELINE_TABLE,
    devices.DEVICES_TABLE,
)
# (table, timestamp column for a high-water mark or None)
INPUTS: tuple[tuple[str, str | None], ...] = (
    ("events", "loaded_at"),
    ("orders", "ordered_at"),
    ("order_lines", None),
    ("products", None),
    ("content_items", None),
    ("campaigns", None),
    ("deliveries", "sent_at"),
    ("record_profiles", "resolved_at"),
    ("profile_identifiers", "last_seen"),
    ("propensity_scores", "scored_at"),
)
STAGES = 7
ZERO_COLUMNS = ("events", "orders", "orders_online", "orders_offline")
ZERO_MONEY = ("revenue", "revenue_online", "revenue_offline")


@dataclass
class BuildReport:
    """What a build did; ``status`` is ``built`` or ``unchanged`` (nothing to do)."""

    status: str
    profiles: int
    as_of: datetime | None
    timezone: str
    tags: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    clv: dict[str, Any] = field(default_factory=dict)
    consent_rows: int = 0
    fingerprint: str = ""
    seconds: float = 0.0
    # What ``profile_timeline`` covers (``timeline_store.StoredTimeline.as_dict``).
    timeline: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_profiles(
    wh: Warehouse,
    *,
    tags: TagSet | None = None,
    consents: pa.Table | None = None,
    rules: IdentityRules | None = None,
    timezone: str = hours.DEFAULT_TIMEZONE,
    as_of: datetime | None = None,
    force: bool = False,
    clv_horizon_weeks: float = 52,
    progress: Progress | None = None,
) -> BuildReport:
    """Build (or skip, when nothing changed) the ``profiles`` table and its long forms.

    ``tags``, ``rules``, ``consents`` and ``timezone`` are the installation's
    (``InstallationConfig.build_options()``); left out, the shipped defaults apply.
    """
    started = time.perf_counter()
    hours.zone(timezone)  # a bad --timezone fails before any work
    tags = tags or load_tags()
    rules = rules or load_rules()
    consents = consents if consents is not None else consent.consent_table([])
    step = progress or (lambda stage, done, total: None)
    step("profiles", 0, STAGES)
    inputs = _fingerprint(wh, tags, consents, rules, timezone, as_of)
    # A warehouse built before profile_timeline or profile_devices existed rebuilds once
    # to get them.
    tables = set(wh.con.list_tables())
    has_outputs = {TIMELINE_TABLE, devices.DEVICES_TABLE} <= tables
    if not force and has_outputs and _last_fingerprint(wh) == inputs:
        count = int(wh.table("profiles").count().to_pyarrow().as_py())
        step("profiles", STAGES, STAGES)
        report = BuildReport("unchanged", count, as_of, timezone, fingerprint=inputs)
        report.seconds = round(time.perf_counter() - started, 2)
        return report

    coverage = coverage_now(wh, identity_stamp(wh))
    tmp = scratch(wh)
    try:
        members = _members(wh, tmp, rules, timezone, as_of)
        step("profiles", 1, STAGES)
        hour_table = tmp.keep(hours.hour_counts(members))
        weights = tmp.keep(affinities.affinity_weights(wh, members))
        step("profiles", 2, STAGES)
        purchases = tmp.keep(rfm.purchase_traits(members))
        clv = clv_traits.clv_traits(members, horizon_weeks=clv_horizon_weeks)
        step("profiles", 3, STAGES)
        traits = [
            presence.identifier_traits(wh),
            presence.seen_traits(wh, members),
            presence.source_traits(wh, members),
            consent.consent_traits(wh, consents),
            purchases,
            rfm.rfm_scores(purchases),
            channels.engagement_channel(members),
            channels.purchase_channel(members),
            hours.hour_traits(hour_table),
            devices.device_traits(members),
            affinities.affinity_traits(weights),
            campaigns.campaign_traits(wh, members),
            surveys.survey_traits(wh, rules),
            clv.table,
            propensity.propensity_traits(wh),
        ]
        assembled = tmp.keep(_assemble(members.profiles, [t for t in traits if t is not None]))
        step("profiles", 5, STAGES)
        built_at = datetime.now(UTC).replace(tzinfo=None)
        final = assembled.mutate(
            tags=tag_column(assembled, tags, called_tags(wh, rules)),
            built_at=ibis.literal(built_at).cast("timestamp"),
        )
        wh.replace_all(
            [
                Replacement(
                    "profiles",
                    final,
                    PROFILES.schema,
                    order_by=("profile_id",),
                    # The Profile API reads one row by profile_id on every traits call.
                    index=("profile_id",),
                    index_engines=("duckdb", "postgres"),
                ),
                _replacement("profile_hours", hour_table, ("profile_id", "hour_of_week")),
                _replacement("profile_affinities", weights, ("profile_id", "kind", "value")),
                Replacement(
                    TIMELINE_TABLE,
                    timeline_rows(wh, rules),
                    TIMELINE_SCHEMA,
                    order_by=("profile_id", "ts", "uid"),
                    index=("profile_id", "ts"),
                ),
                # Covers the same events as the timeline (the same coverage marks).
                Replacement(
                    devices.DEVICES_TABLE,
                    devices.device_summary(members),
                    devices.SCHEMA,
                    order_by=("profile_id", *devices.DEVICE_FIELDS),
                    index=("profile_id",),
                ),
            ],
            written=lambda name: step("profiles", 6, STAGES),
        )
        report = BuildReport(
            "built",
            int(wh.table("profiles").count().to_pyarrow().as_py()),
            members.as_of,
            timezone,
            tags=_tag_counts(wh, tags),
            segments=_segment_counts(wh),
            clv={
                "customers": clv.customers,
                "repeat_buyers": clv.repeat_buyers,
                "error": clv.error,
                "params": clv.params,
            },
            consent_rows=consents.num_rows,
            fingerprint=inputs,
            timeline=coverage.as_dict(),
        )
    finally:
        tmp.close()
    report.seconds = round(time.perf_counter() - started, 2)
    _remember(wh, report, built_at)
    step("profiles", STAGES, STAGES)
    return report


def _members(
    wh: Warehouse, tmp: Any, rules: IdentityRules, timezone: str, as_of: datetime | None
) -> Members:
    events = tmp.keep(attributed_events(wh, rules))
    orders = tmp.keep(attributed_orders(wh))
    deliveries = tmp.keep(attributed_deliveries(wh))
    rp = wh.table("record_profiles")
    profiles = tmp.keep(rp.select("profile_id").distinct())
    return Members(
        profiles=profiles,
        events=events,
        orders=orders,
        deliveries=deliveries,
        event_groups=tmp.keep(event_groups(events)),
        as_of=as_of or _data_end(events, orders),
        default_timezone=timezone,
    )


# "Now" never moves past this much after the real clock: an order dated 2099 that got
# in before connectors checked dates must not age every customer by 70 years.
PLAUSIBLE_FUTURE = timedelta(days=1)


def _data_end(events: ir.Table, orders: ir.Table) -> datetime:
    """The latest event or order: "now" for a warehouse's data, so a demo ages the same.

    Capped at the real clock plus ``PLAUSIBLE_FUTURE`` (the collector's default bound).
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    latest = [events.ts.max().to_pyarrow().as_py(), orders.ordered_at.max().to_pyarrow().as_py()]
    found = [t for t in latest if t is not None]
    return min(max(found), now + PLAUSIBLE_FUTURE) if found else now


def _assemble(base: ir.Table, traits: list[ir.Table]) -> ir.Table:
    """Left-join every trait onto the profile list; counts and money default to zero."""
    out = base
    for trait in traits:
        joined = out.left_join(trait, out.profile_id == trait.profile_id)
        out = joined.select(
            *[out[c] for c in out.columns],
            *[trait[c] for c in trait.columns if c != "profile_id"],
        )
    # A trait with nothing to say (no consent rows, a CLV fit that failed) is NULL, typed,
    # so tag rules on it still compile.
    spec = PROFILES.schema
    missing = [c for c in spec.names if c not in out.columns and c not in ("tags", "built_at")]
    out = out.mutate(**{c: ibis.null(spec[c]) for c in missing})
    zero_money = ibis.literal(0).cast("decimal(18, 2)")
    return out.mutate(
        **{c: out[c].coalesce(0) for c in ZERO_COLUMNS},
        **{c: out[c].coalesce(zero_money) for c in ZERO_MONEY},
        rfm_segment=out.rfm_segment.coalesce(rfm.PROSPECT),
    )


def _replacement(
    name: str, rows: ir.Table, order_by: tuple[str, ...], index: tuple[str, ...] = ()
) -> Replacement:
    return Replacement(name, rows, BY_NAME[name].schema, order_by=order_by, index=index)


def _fingerprint(
    wh: Warehouse,
    tags: TagSet,
    consents: pa.Table,
    rules: IdentityRules,
    timezone: str,
    as_of: datetime | None,
) -> str:
    """A digest of everything the profiles depend on: counts and high-water marks."""
    marks: dict[str, Any] = {}
    for name, column in INPUTS:
        t = wh.table(name)
        metrics = {"n": t.count()}
        if column is not None:
            metrics["hi"] = t[column].max().cast("string")
        marks[name] = t.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    consent_rows = sorted(json.dumps(r, default=str) for r in consents.to_pylist())
    marks["consents"] = hashlib.sha256("\n".join(consent_rows).encode()).hexdigest()
    marks["tags"] = hashlib.sha256(tags.text.encode()).hexdigest()
    marks["source_id_types"] = rules.source_id_types
    marks["timezone"] = timezone
    marks["as_of"] = as_of.isoformat() if as_of else None
    text = json.dumps(marks, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _last_fingerprint(wh: Warehouse) -> str | None:
    b = wh.table("profile_builds")
    last = b.filter(b.status == "built").order_by(ibis.desc(b.built_at)).limit(1)
    rows = last.fingerprint.to_pyarrow().to_pylist()
    return str(rows[0]) if rows else None


def _remember(wh: Warehouse, report: BuildReport, built_at: datetime) -> None:
    wh.append(
        "profile_builds",
        pa.table(
            {
                "built_at": [built_at],
                "fingerprint": [report.fingerprint],
                "status": [report.status],
                "profiles": [report.profiles],
                "seconds": [report.seconds],
                "report": [json.dumps(report.as_dict(), default=str)],
            }
        ),
    )


def _tag_counts(wh: Warehouse, tags: TagSet) -> dict[str, int]:
    p = wh.table("profiles")
    if not tags.tags:
        return {}
    needles = {
        tag.name: '"' + tag.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for tag in tags.tags
    }
    counts = (
        p.aggregate(
            **{
                f"t{i}": p.tags.contains(needle).ifelse(1, 0).sum()
                for i, needle in enumerate(needles.values())
            }
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {name: int(counts[f"t{i}"] or 0) for i, name in enumerate(needles)}


def _segment_counts(wh: Warehouse) -> dict[str, int]:
    p = wh.table("profiles")
    rows = p.group_by("rfm_segment").agg(n=p.count()).to_pyarrow().to_pylist()
    return {str(r["rfm_segment"]): int(r["n"]) for r in sorted(rows, key=lambda r: -r["n"])}
