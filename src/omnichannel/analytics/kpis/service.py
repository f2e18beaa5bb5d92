"""``platform.kpis``: the library face of KPIs that the CLI, the API and alerts call.

Example::

    with Platform.open("omni-home") as platform:
        result = platform.kpis.run(["ctr", "deal_rate", "roas"], by=["channel"], period="week")
        for row in result["rows"]:
            print(row["group"], row["period"], row["kpis"]["ctr"]["value"])
        change = platform.kpis.compare(since=date(2026, 6, 1), until=date(2026, 7, 1))
        platform.kpis.channel_coverage()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from omnichannel.analytics.kpis import stats
from omnichannel.analytics.kpis.catalogue import (
    CATALOGUE,
    DEFAULT_KPIS,
    DIMENSIONS,
    MEASURES,
    PERIODS,
    Kpi,
    Totals,
)
from omnichannel.analytics.kpis.facts import Query
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

AUDIENCE_COVERAGE = "audience_coverage"
EXPOSED = ("send", "impression", "reach")
ACROSS = ("channel", "campaign")


def as_datetime(value: datetime | date | str | None, field_name: str) -> datetime | None:
    """Naive UTC (the warehouse's times) from a date, a time or ISO text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(field_name, value, "an ISO 8601 date or time") from None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


def kpi_names(kpis: Iterable[str] | str | None) -> list[str]:
    """The asked KPIs, checked: names (a list or comma-separated), default all."""
    if kpis is None:
        return list(DEFAULT_KPIS)
    names = [k.strip() for k in (kpis.split(",") if isinstance(kpis, str) else kpis)]
    names = [k for k in names if k]
    for name in names:
        if name not in CATALOGUE and name != AUDIENCE_COVERAGE:
            raise ValidationError(
                "kpis", name, f"KPI names among {', '.join((*CATALOGUE, AUDIENCE_COVERAGE))}"
            )
    return names or list(DEFAULT_KPIS)


@dataclass
class KpiQuery:
    """One KPI set: ``validate()``, ``to_expression(wh)`` (Ibis), ``run(wh)`` (PostHog's
    query-runner shape)."""

    kpis: list[str] = field(default_factory=lambda: list(DEFAULT_KPIS))
    query: Query = field(default_factory=Query)
    # Measures read besides the KPIs' own (a comparison's choice of baseline needs some).
    also: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        kpis: Iterable[str] | str | None = None,
        *,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        by: Sequence[str] | str | None = None,
        period: str | None = None,
        channel: str | None = None,
        campaign: str | None = None,
        segment: str | None = None,
    ) -> KpiQuery:
        dims = [d.strip() for d in (by.split(",") if isinstance(by, str) else by or [])]
        made = cls(
            kpis=kpi_names(kpis),
            query=Query(
                since=as_datetime(since, "since"),
                until=as_datetime(until, "until"),
                by=tuple(d for d in dims if d),
                period=period or None,
                channel=channel or None,
                campaign=campaign or None,
                segment=segment or None,
            ),
        )
        made.validate()
        return made

    def validate(self) -> None:
        q = self.query
        for d in q.by:
            if d not in DIMENSIONS:
                raise ValidationError("by", d, f"dimensions among {', '.join(DIMENSIONS)}")
        if len(set(q.by)) != len(q.by):
            raise ValidationError("by", ",".join(q.by), "each dimension once")
        if q.period is not None and q.period not in PERIODS:
            raise ValidationError("period", q.period, f"one of {', '.join(PERIODS)}")
        if q.since is not None and q.until is not None and q.since >= q.until:
            raise ValidationError("since", q.since.isoformat(), f"a time before until ({q.until})")
        if AUDIENCE_COVERAGE in self.kpis and q.segment is None:
            raise ValidationError(
                "segment", None, f"a segment name: {AUDIENCE_COVERAGE} is reached / segment size"
            )

    def members(self, wh: Warehouse) -> ir.Table | None:
        if self.query.segment is None:
            return None
        m = wh.table("segment_memberships")
        return (
            m.filter(m.segment == self.query.segment, m.exited_at.isnull())
            .select("profile_id")
            .distinct()
        )

    def measures(self) -> set[str]:
        """The base measures the asked KPIs read (only those are built and run)."""
        needed: set[str] = set(self.also)
        for name in self.kpis:
            if name == AUDIENCE_COVERAGE:
                needed.add("reach")
            else:
                needed |= {*CATALOGUE[name].inputs, *CATALOGUE[name].needs}
        return needed

    def to_expression(self, wh: Warehouse, rules: Any) -> ir.Table:
        from omnichannel.analytics.kpis.facts import measure_rows

        members = self.members(wh)
        return measure_rows(wh, rules, self.query, members=members, measures=self.measures())

    def run(self, wh: Warehouse, rules: Any) -> dict[str, Any]:
        table = self.to_expression(wh, rules).to_pyarrow().to_pylist()
        size = None
        members = self.members(wh)
        if members is not None:
            size = int(members.count().to_pyarrow().as_py())
        return answer(self, table, segment_size=size)


def _key(row: dict[str, Any], query: Query) -> tuple[Any, ...]:
    return tuple(row.get(d) for d in query.by) + ((row.get("period"),) if query.period else ())


def group_totals(
    rows: Sequence[dict[str, Any]], query: Query
) -> dict[tuple[Any, ...], dict[str, dict[str, float]]]:
    """``{group key: {measure: {n, people, value, sq}}}`` from ``measure_rows``' rows."""
    groups: dict[tuple[Any, ...], dict[str, dict[str, float]]] = defaultdict(dict)
    for row in rows:
        groups[_key(row, query)][row["measure"]] = {
            "n": float(row["n"] or 0),
            "people": float(row["people"] or 0),
            "value": float(row["value"] or 0),
            "sq": float(row["sq"] or 0),
        }
    return groups


def evaluate(kpi: Kpi, totals: Totals) -> dict[str, Any]:
    """One KPI's value in one group: ``value, numerator, denominator, status``."""
    numerator = kpi.numerator.of(totals)
    if kpi.compute is not None:
        value = kpi.compute(totals)
        return _cell(value, numerator, None, "ok" if value is not None else "undefined")
    if kpi.denominator is None:
        return _cell(numerator, numerator, None, "ok")
    denominator = kpi.denominator.of(totals)
    if denominator <= 0:
        return _cell(None, numerator, denominator, "undefined")
    return _cell(numerator / denominator, numerator, denominator, "ok")


def _cell(value: float | None, num: float, den: float | None, status: str) -> dict[str, Any]:
    return {
        "value": None if value is None else round(value, 6),
        "numerator": round(num, 6),
        "denominator": None if den is None else round(den, 6),
        "status": status,
    }


def no_data_reasons(kpis: Sequence[str], present: set[str]) -> dict[str, str]:
    """For each KPI whose inputs have no data in the result: why."""
    reasons: dict[str, str] = {}
    for name in kpis:
        if name == AUDIENCE_COVERAGE:
            continue
        missing = CATALOGUE[name].missing(present)
        if missing:
            reasons[name] = "no data for " + "; ".join(f"{m}: {MEASURES[m]}" for m in missing)
    return reasons


def answer(
    runner: KpiQuery, rows: Sequence[dict[str, Any]], *, segment_size: int | None = None
) -> dict[str, Any]:
    """What every face gives: parameters, per group and period each KPI, and the no-data list."""
    query = runner.query
    groups = group_totals(rows, query)
    present = {r["measure"] for r in rows if (r["n"] or 0) > 0 or (r["value"] or 0) > 0}
    missing = no_data_reasons(runner.kpis, present)
    if AUDIENCE_COVERAGE in runner.kpis and not segment_size:
        missing[AUDIENCE_COVERAGE] = (
            f"segment {query.segment!r} has no members (unknown, or not refreshed yet)"
        )
    out_rows: list[dict[str, Any]] = []
    for key in sorted(groups, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        totals = groups[key]
        cells: dict[str, Any] = {}
        for name in runner.kpis:
            if name in missing:
                cells[name] = _cell(None, 0, None, "no_data")
            elif name == AUDIENCE_COVERAGE:
                reached = totals.get("reach_in_segment", {}).get("people", 0.0)
                cells[name] = _cell(reached / float(segment_size or 1), reached, segment_size, "ok")
            else:
                cells[name] = evaluate(CATALOGUE[name], totals)
        group = {d: key[i] for i, d in enumerate(query.by)}
        period = key[-1] if query.period else None
        out_rows.append(
            {
                "group": group,
                "period": period.date().isoformat() if isinstance(period, datetime) else period,
                "kpis": cells,
            }
        )
    return {
        "parameters": {
            "since": query.since,
            "until": query.until,
            "by": list(query.by),
            "period": query.period,
            "channel": query.channel,
            "campaign": query.campaign,
            "segment": query.segment,
            "segment_size": segment_size,
        },
        "kpis": list(runner.kpis),
        "rows": out_rows,
        "no_data": missing,
    }


def catalogue() -> list[dict[str, Any]]:
    """Every KPI: name, kind, formula and the measures it reads (with their sources)."""
    out = [
        {
            "name": k.name,
            "kind": k.kind,
            "formula": k.formula,
            "inputs": {m: MEASURES[m] for m in k.inputs},
        }
        for k in CATALOGUE.values()
    ]
    out.append(
        {
            "name": AUDIENCE_COVERAGE,
            "kind": "rate",
            "formula": "members reached / segment members (needs segment)",
            "inputs": {"reach": MEASURES["reach"], "segment": "segment_memberships (open stays)"},
        }
    )
    return out


class KpisCapability:
    """KPIs per channel, campaign, content and period; comparisons; channel coverage."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def catalogue(self) -> list[dict[str, Any]]:
        return catalogue()

    def run(
        self,
        kpis: Iterable[str] | str | None = None,
        *,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        by: Sequence[str] | str | None = None,
        period: str | None = None,
        channel: str | None = None,
        campaign: str | None = None,
        segment: str | None = None,
    ) -> dict[str, Any]:
        """The KPIs over ``[since, until)``, one row per group of ``by`` and ``period``."""
        runner = KpiQuery.of(
            kpis,
            since=since,
            until=until,
            by=by,
            period=period,
            channel=channel,
            campaign=campaign,
            segment=segment,
        )
        with self._platform.warehouse.reader() as wh:
            return runner.run(wh, self._platform.config.rules)

    def channel_coverage(self) -> dict[str, Any]:
        """Per channel, the share of profiles it can reach (address and consent)."""
        from sqlalchemy import select

        from omnichannel.analytics.kpis.coverage import channel_coverage, consent_table
        from omnichannel.opstore.models import Consent

        with self._platform.opstore.session() as session:
            consents = list(session.scalars(select(Consent)))
            table = consent_table(consents)
        opt_in = list(self._platform.messages.config.consent.require_opt_in)
        with self._platform.warehouse.reader() as wh:
            rows = channel_coverage(wh, table, opt_in)
        return {"channels": rows, "require_opt_in": opt_in}

    def compare(
        self,
        kpis: Iterable[str] | str | None = None,
        *,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        against_since: datetime | date | str | None = None,
        against_until: datetime | date | str | None = None,
        by: Sequence[str] | str | None = None,
        across: str | None = None,
        baseline: str | None = None,
        channel: str | None = None,
        campaign: str | None = None,
        alpha: float = stats.ALPHA,
    ) -> dict[str, Any]:
        """This period against another (default: the one just before, as long), or, with
        ``across`` (channel or campaign), each group against ``baseline`` in one period."""
        if not 0 < alpha < 1:
            raise ValidationError("alpha", alpha, "a significance level between 0 and 1")
        names = [k for k in kpi_names(kpis) if k != AUDIENCE_COVERAGE]
        start, end = as_datetime(since, "since"), as_datetime(until, "until")
        if end is None:
            end = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        if start is None:
            start = end - timedelta(days=7)
        base = KpiQuery.of(names, since=start, until=end, by=by, channel=channel, campaign=campaign)
        rules = self._platform.config.rules
        if across is not None:
            if across not in ACROSS:
                raise ValidationError("across", across, f"one of {', '.join(ACROSS)}")
            if across in base.query.by:
                raise ValidationError("by", across, f"dimensions other than across ({across})")
            runner = replace(
                base,
                query=replace(base.query, by=(across, *base.query.by)),
                also=frozenset(EXPOSED),  # the default baseline is the most exposed value
            )
            with self._platform.warehouse.reader() as wh:
                rows = runner.to_expression(wh, rules).to_pyarrow().to_pylist()
            return compare_groups(runner, rows, across, baseline, alpha)
        b_end = as_datetime(against_until, "against_until") or start
        b_start = as_datetime(against_since, "against_since") or b_end - (end - start)
        if b_start >= b_end:
            raise ValidationError(
                "against_since", b_start.isoformat(), f"a time before against_until ({b_end})"
            )
        other = replace(base, query=replace(base.query, since=b_start, until=b_end))
        with self._platform.warehouse.reader() as wh:
            a_rows = base.to_expression(wh, rules).to_pyarrow().to_pylist()
            b_rows = other.to_expression(wh, rules).to_pyarrow().to_pylist()
        t_a = (end - start).total_seconds() / 86_400
        t_b = (b_end - b_start).total_seconds() / 86_400
        a_groups, b_groups = group_totals(a_rows, base.query), group_totals(b_rows, base.query)
        present = {r["measure"] for r in [*a_rows, *b_rows]}
        missing = no_data_reasons(names, present)
        out = []
        for key in sorted(set(a_groups) | set(b_groups), key=lambda k: tuple(map(str, k))):
            group = {d: key[i] for i, d in enumerate(base.query.by)}
            for name in names:
                if name in missing:
                    continue
                out.append(
                    compare_one(
                        CATALOGUE[name],
                        a_groups.get(key, {}),
                        b_groups.get(key, {}),
                        t_a,
                        t_b,
                        alpha,
                        group,
                    )
                )
        return {
            "mode": "periods",
            "a": {"since": start, "until": end},
            "b": {"since": b_start, "until": b_end},
            "alpha": alpha,
            "rows": out,
            "no_data": missing,
        }


def compare_groups(
    runner: KpiQuery,
    rows: Sequence[dict[str, Any]],
    across: str,
    baseline: str | None,
    alpha: float,
) -> dict[str, Any]:
    """Each value of ``across`` against ``baseline`` (default: the most exposed one)."""
    query = runner.query
    groups = group_totals(rows, query)
    present = {r["measure"] for r in rows}
    missing = no_data_reasons(runner.kpis, present)
    by_value: dict[Any, dict[tuple[Any, ...], Totals]] = defaultdict(dict)
    for key, totals in groups.items():
        by_value[key[0]][key[1:]] = totals
    if not by_value:
        return {
            "mode": across,
            "baseline": baseline,
            "alpha": alpha,
            "rows": [],
            "no_data": missing,
        }
    if baseline is None:

        def exposure(v: Any) -> float:
            return sum(
                t.get("send", {}).get("n", 0)
                + t.get("impression", {}).get("n", 0)
                + t.get("reach", {}).get("people", 0)
                for t in by_value[v].values()
            )

        baseline = max((v for v in by_value if v is not None), key=exposure, default=None)
    if baseline not in by_value:
        known = ", ".join(sorted(str(v) for v in by_value if v is not None))
        raise ValidationError("baseline", baseline, f"a {across} in the period ({known})")
    out = []
    for value in sorted((v for v in by_value if v != baseline), key=str):
        for rest, mine in sorted(by_value[value].items(), key=lambda kv: tuple(map(str, kv[0]))):
            other: Totals = by_value[baseline].get(rest, {})
            group = {across: value, **{d: rest[i] for i, d in enumerate(query.by[1:])}}
            for name in runner.kpis:
                if name not in missing:
                    out.append(compare_one(CATALOGUE[name], mine, other, 1.0, 1.0, alpha, group))
    return {
        "mode": across,
        "baseline": baseline,
        "since": query.since,
        "until": query.until,
        "alpha": alpha,
        "rows": out,
        "no_data": missing,
    }


def compare_one(
    kpi: Kpi,
    a: Totals,
    b: Totals,
    t_a: float,
    t_b: float,
    alpha: float,
    group: dict[str, Any],
) -> dict[str, Any]:
    """One KPI in two groups: values, change, relative change and the noise test."""
    va, vb = evaluate(kpi, a)["value"], evaluate(kpi, b)["value"]
    change = None if va is None or vb is None else va - vb
    relative = None if change is None or not vb else change / abs(vb)
    test = noise_test(kpi, a, b, t_a, t_b)
    return {
        "group": group,
        "kpi": kpi.name,
        "a": va,
        "b": vb,
        "change": None if change is None else round(change, 6),
        "relative_change": None if relative is None else round(relative, 6),
        **test.as_dict(alpha),
    }


def noise_test(kpi: Kpi, a: Totals, b: Totals, t_a: float, t_b: float) -> stats.Test:
    num, den = kpi.numerator, kpi.denominator
    if kpi.kind == "rate" and den is not None:
        return stats.two_proportions(num.of(a), den.of(a), num.of(b), den.of(b))
    if kpi.kind == "count":
        return stats.poisson_counts(num.of(a), num.of(b), t_a, t_b)
    measure = num.measures[0]

    def part(t: Totals, stat: str) -> float:
        return float(t.get(measure, {}).get(stat, 0.0))

    if kpi.kind == "money" and measure == "deal":
        return stats.money_sums(
            part(a, "value"), part(a, "sq"), part(b, "value"), part(b, "sq"), t_a, t_b
        )
    if kpi.kind == "mean":
        return stats.welch(
            part(a, "value"),
            part(a, "sq"),
            part(a, "n"),
            part(b, "value"),
            part(b, "sq"),
            part(b, "n"),
        )
    return stats.untested("none", "spend is chosen, not sampled: no noise test")
