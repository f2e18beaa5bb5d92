"""``resolve``: the deterministic identity graph, full or incremental, into warehouse tables.

Steps (each a set operation in Ibis, so DuckDB, PostgreSQL and Spark run the same code):

1. read every identifier observation (``observations``); drop blocked values;
2. refuse over-shared identifiers (``limits.over_shared``);
3. connected components of records joined by the remaining identifiers: *clusters*;
4. clusters that break a limit are split type by type (``limits.enforce_limits``);
5. each resulting group is a profile, named after its oldest record, hashed, so the id
   stays the same while the person does.

An incremental run re-resolves only the clusters new observations touch (plus new
records): rules act inside a cluster and never across two, so the answer equals a full
rebuild's, without recomputing the rest of the graph.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from time import perf_counter

import ibis
import ibis.expr.types as ir

from omnichannel.identity import outputs
from omnichannel.identity.components import Progress, Scratch, connected_components
from omnichannel.identity.limits import enforce_limits, over_shared, violations
from omnichannel.identity.observations import blocked_reason, observations
from omnichannel.identity.rules import IdentityRules, load_rules
from omnichannel.warehouse import Warehouse

KEY = ["source", "record_id", "id_type", "id_value"]
VALUE = ["id_type", "id_value"]
RECORD = ["source", "record_id"]


@dataclass
class ResolveReport:
    """What one run did."""

    mode: str = "full"
    observations: int = 0
    new_observations: int = 0
    records_resolved: int = 0
    clusters_over_limit: int = 0
    profiles: int = 0
    records: int = 0
    merges: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def resolve(
    wh: Warehouse,
    *,
    rules: IdentityRules | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> ResolveReport:
    """Resolve identities into ``record_profiles``, ``profile_identifiers``, merges, refusals.

    Example::

        with open_warehouse(url) as wh:
            report = resolve(wh)            # incremental after the first run
            report = resolve(wh, full=True) # rebuild everything
    """
    started = perf_counter()
    rules = rules or load_rules()
    report_progress: Progress = progress or (lambda stage, done, total: None)
    scratch = Scratch(wh.con)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    try:
        report_progress("observations", 0, 1)
        current = scratch.keep(_typed(observations(wh, rules), rules))
        state = wh.table("identity_observations")
        incremental = not full and scratch.rows(state.limit(1)) > 0
        if incremental and scratch.rows(state.anti_join(current, KEY).limit(1)) > 0:
            # An identifier seen before is gone (a newer version of a record dropped it):
            # links may have to come apart, which only a full run can decide.
            incremental = False
        report = ResolveReport(mode="incremental" if incremental else "full")
        report.observations = scratch.rows(current)
        if incremental:
            new = scratch.keep(current.anti_join(state, KEY))
            report.new_observations = scratch.rows(new)
            if not report.new_observations:
                report_progress("observations", 1, 1)
                return _finish(wh, report, started)
            scope, quarantine_obs = _incremental_scope(wh, scratch, current, new)
        else:
            new = current
            report.new_observations = report.observations
            scope, quarantine_obs = current, current
        report_progress("observations", 1, 1)
        result = _resolve_scope(
            scratch, scope, quarantine_obs, now, report_progress, rules.linkage_exempt_limits
        )
        report.records_resolved = result.records_resolved
        report.clusters_over_limit = result.clusters_over_limit
        report_progress("writing", 0, 1)

        def written(table: str) -> None:  # each output table written aside, not yet swapped
            report_progress("writing", 0, 1)

        if incremental:
            outputs.replace(wh, scratch, scope, result, written=written)
        else:
            outputs.rewrite(wh, result, written=written)
        outputs.remember(wh, new, now)
        report_progress("writing", 1, 1)
        return _finish(wh, report, started)
    finally:
        scratch.close()


def _finish(wh: Warehouse, report: ResolveReport, started: float) -> ResolveReport:
    rp = wh.table("record_profiles")
    report.records = int(rp.count().to_pyarrow().as_py())
    report.profiles = int(rp.profile_id.nunique().to_pyarrow().as_py())
    report.merges = int(wh.table("identity_merges").count().to_pyarrow().as_py())
    refusals = wh.table("identity_refusals")
    rows = refusals.group_by("rule").agg(n=refusals.count()).to_pyarrow().to_pylist()
    report.refusals = {r["rule"]: int(r["n"]) for r in sorted(rows, key=lambda r: r["rule"])}
    report.seconds = round(perf_counter() - started, 2)
    return report


def _typed(obs: ir.Table, rules: IdentityRules) -> ir.Table:
    """Observations with their type's priority and limit, and why a value is blocked."""
    known = rules.ordered()
    table = ibis.memtable(
        {
            "rule_type": [r.id_type for r in known],
            "rule_priority": [r.priority for r in known],
            "rule_limit": [r.limit for r in known],
        },
        schema={"rule_type": "string", "rule_priority": "int64", "rule_limit": "int64"},
    )
    joined = obs.left_join(table, obs.id_type == table.rule_type)
    return joined.select(
        *KEY,
        "observed_at",
        priority=joined.rule_priority.coalesce(ibis.literal(rules.default.priority, "int64")),
        lim=joined.rule_limit.coalesce(ibis.literal(rules.default.limit, "int64")),
        blocked=blocked_reason(joined, rules),
    )


def _incremental_scope(
    wh: Warehouse, scratch: Scratch, current: ir.Table, new: ir.Table
) -> tuple[ir.Table, ir.Table]:
    """Observations of every record whose profile new rows may change, and of its peers.

    Returns the scope to re-resolve and the observations the over-sharing test needs (all
    records carrying a value of the scope, even ones outside it, because a value already
    refused as over-shared joined nothing and so left its carriers in other clusters).
    """
    rp = wh.table("record_profiles")
    refused = wh.table("identity_refusals")
    # Values refused for good (blocked, over-shared) never link; they cannot widen a scope.
    settled = refused.filter(refused.rule != "limit").select(*VALUE)
    linking_new = new.filter(new.blocked.isnull()).select(*VALUE).distinct()
    linking_new = linking_new.anti_join(settled, VALUE)
    known = wh.table("identity_observations")
    via_values = known.semi_join(linking_new, VALUE).select(*RECORD)
    touched = ibis.union(new.select(*RECORD), via_values, distinct=True)
    clusters = rp.semi_join(touched, RECORD).select("cluster_id").distinct()
    members = rp.semi_join(clusters, "cluster_id").select(*RECORD)
    records = scratch.keep(ibis.union(touched, members, distinct=True))
    scope = scratch.keep(current.semi_join(records, RECORD))
    values = scope.select(*VALUE).distinct()
    carriers = current.semi_join(values, VALUE).select(*RECORD).distinct()
    quarantine_obs = scratch.keep(current.semi_join(carriers, RECORD))
    return scope, quarantine_obs


@dataclass
class ScopeResult:
    """Expressions (over scratch tables) of one resolution's outputs."""

    record_profiles: ir.Table
    profile_identifiers: ir.Table
    merges: ir.Table
    refusals: ir.Table
    records_resolved: int
    clusters_over_limit: int


def _resolve_scope(
    scratch: Scratch,
    scope: ir.Table,
    quarantine_obs: ir.Table,
    now: datetime,
    progress: Progress,
    exempt: frozenset[str],
) -> ScopeResult:
    recs = scratch.keep(
        scope.group_by(RECORD)
        .agg(first_seen=scope.observed_at.min())
        .mutate(rid=ibis.row_number().cast("int64"))
    )
    vals = scratch.keep(
        scope.select(*VALUE).distinct().mutate(vid=-(ibis.row_number().cast("int64") + 1))
    )
    obs = scratch.keep(scope.join(recs.select(*RECORD, "rid"), RECORD).join(vals, VALUE))

    admissible = quarantine_obs.filter(quarantine_obs.blocked.isnull())
    blocked = _blocked_refusals(obs)
    crowded = scratch.keep(over_shared(admissible, exempt).semi_join(vals, VALUE))
    link = scratch.keep(obs.filter(obs.blocked.isnull()).anti_join(crowded, VALUE))

    clusters = connected_components(scratch, link.select(a=link.rid, b=link.vid), progress)
    joined = recs.left_join(clusters, recs.rid == clusters.node)
    rec_cluster = scratch.keep(joined.select("rid", cluster=joined.label.coalesce(joined.rid)))
    bad_clusters = scratch.keep(
        violations(link, rec_cluster.rename(key="cluster"), "key").select(cluster="key")
    )
    over = scratch.rows(bad_clusters)
    if over:
        conflicted = link.semi_join(
            rec_cluster.semi_join(bad_clusters, "cluster").select("rid"), "rid"
        )
        split, limit_refusals = enforce_limits(scratch, conflicted, progress, exempt)
        limit_refusals = scratch.keep(limit_refusals)
        link = scratch.keep(link.anti_join(limit_refusals.select("vid"), "vid"))
        with_split = rec_cluster.left_join(split, "rid")
        groups = with_split.select(
            "rid", "cluster", group=with_split.comp.coalesce(with_split.cluster)
        )
        refusal_parts = [blocked, crowded, limit_refusals.drop("vid")]
    else:
        groups = rec_cluster.mutate(group=rec_cluster.cluster)
        refusal_parts = [blocked, crowded]
    groups = scratch.keep(groups.join(recs, "rid"))
    named = scratch.keep(_named(groups))
    refusals = scratch.keep(
        ibis.union(*refusal_parts, distinct=False).mutate(refused_at=ibis.literal(now))
    )
    return ScopeResult(
        record_profiles=named.select(
            *RECORD, "profile_id", "cluster_id", "first_seen", resolved_at=ibis.literal(now)
        ),
        profile_identifiers=outputs.profile_identifiers(obs, named, refusals),
        merges=outputs.merges(link, named),
        refusals=refusals,
        records_resolved=scratch.rows(recs),
        clusters_over_limit=over,
    )


def _blocked_refusals(obs: ir.Table) -> ir.Table:
    hit = obs.filter(obs.blocked.notnull())
    grouped = hit.group_by([*VALUE, "blocked"]).agg(records=hit.rid.nunique())
    return grouped.select(
        *VALUE,
        rule=grouped.blocked,
        detail=ibis.literal("value is on the rules' blocked list"),
        records=grouped.records.cast("int64"),
    )


@ibis.udf.scalar.builtin
def md5(value: str) -> str:  # type: ignore[empty-body]
    """The engine's own md5 (DuckDB, PostgreSQL, Spark, ClickHouse all have one)."""


def _oldest_key(t: ir.Table, by: str) -> ir.Table:
    """``by`` -> a short hash of its oldest record: stable while that record stays in it."""
    ranked = t.mutate(
        rank=ibis.row_number().over(
            group_by=t[by],
            order_by=[t.first_seen.isnull(), t.first_seen, t.source, t.record_id],
        )
    )
    first = ranked.filter(ranked.rank == 0)
    digest = md5(first.source + ibis.literal("\x1f") + first.record_id).substr(0, 16)
    return first.select(by, key=digest)


def _named(groups: ir.Table) -> ir.Table:
    profiles = _oldest_key(groups, "group").rename(profile_key="key")
    clusters = _oldest_key(groups, "cluster").rename(cluster_key="key")
    out = groups.join(profiles, "group").join(clusters, "cluster")
    return out.select(
        "rid",
        *RECORD,
        "first_seen",
        profile_id=ibis.literal("p_") + out.profile_key,
        cluster_id=ibis.literal("c_") + out.cluster_key,
    )
