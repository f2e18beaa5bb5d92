"""Retention and cohort tables: people grouped by when they first did something, and how
many came back to do something (else the same thing) in each later period.

A person's **cohort** is the day, week (starting Monday) or month of their first
``start`` fact (an event, or a purchase: ``{order: {}}``) in ``[since, until)``; they
**return in period n** when a ``returning`` fact falls n periods after that cohort's
start (period 0 is the cohort's own period and counts everyone in it). Steps are read
the way funnel steps are (analytics/funnels/stream.py: the same person resolution,
store purchases included), and every run reads the warehouse as it is.

Example::

    platform.retention.run(start={"order": {}}, returning={"order": {}}, period="month")
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import ibis
import ibis.expr.types as ir
import pydantic
from pydantic import BeforeValidator, Field

from omnichannel.analytics.funnels.definition import FunnelStep, Moment, _step
from omnichannel.analytics.funnels.stream import StreamSpec, step_stream
from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.definition import DefinitionProblem, _Strict, _translate, read_document
from omnichannel.warehouse import Warehouse

if TYPE_CHECKING:
    from omnichannel.platform import Platform

PERIOD_SECONDS = {"day": 86_400, "week": 604_800}
MAX_PERIODS = 120


class RetentionDefinition(_Strict):
    """Cohorts by first ``start``, returning on ``returning`` (default: ``start`` again)."""

    start: Annotated[FunnelStep, BeforeValidator(_step)]
    returning: Annotated[FunnelStep, BeforeValidator(_step)] | None = None
    period: Literal["day", "week", "month"] = "week"
    periods: Annotated[int, Field(ge=1, le=MAX_PERIODS)] = 8
    since: Moment | None = None
    until: Moment | None = None

    @pydantic.model_validator(mode="after")
    def _range(self) -> RetentionDefinition:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise DefinitionProblem(
                "until", self.until.isoformat(), f"a time after since ({self.since})"
            )
        return self

    @property
    def back(self) -> FunnelStep:
        return self.returning or self.start


def parse_retention(doc: Mapping[str, Any] | str, **overrides: Any) -> RetentionDefinition:
    """A definition from a mapping or JSON/YAML text, ``overrides`` applied; errors name paths."""
    data = dict(read_document(doc, "an object with start (a step) and optionally returning"))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RetentionDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _translate(exc, data) from None


def _period_start(ts: ir.TimestampValue, period: str) -> ir.TimestampValue:
    return ts.truncate({"day": "D", "week": "W", "month": "M"}[period])


def _index(later: ir.TimestampValue, cohort: ir.TimestampValue, period: str) -> ir.IntegerValue:
    if period == "month":
        months = (later.year() - cohort.year()) * 12 + (later.month() - cohort.month())
        return months.cast("int64")
    seconds = later.epoch_seconds() - cohort.epoch_seconds()
    return (seconds / PERIOD_SECONDS[period]).round().cast("int64")


def cohort_counts(wh: Warehouse, rules: IdentityRules, d: RetentionDefinition) -> ir.Table:
    """``cohort, period, people``: people of each cohort who returned n periods after."""
    spec = StreamSpec(
        steps=[d.start.matches, d.back.matches],
        start=d.since,
        end=None,
        now=datetime.now(),
    )
    s = step_stream(wh, rules, spec)
    first = s.filter(s.m0)
    if d.until is not None:
        first = first.filter(first.ts < d.until)
    cohorts = first.group_by(c_person=first.person).agg(first_at=first.ts.min())
    cohorts = cohorts.mutate(cohort=_period_start(cohorts.first_at, d.period))
    back = s.filter(s.m1)
    j = back.join(cohorts, back.person == cohorts.c_person)
    j = j.filter(j.ts >= j.cohort)
    j = j.mutate(period=_index(_period_start(j.ts, d.period), j.cohort, d.period))
    j = j.filter(j.period >= 1, j.period <= d.periods)
    returned = j.group_by(["cohort", "period"]).agg(people=j.c_person.nunique())
    sizes = cohorts.group_by("cohort").agg(people=cohorts.c_person.count())
    sizes = sizes.mutate(period=ibis.literal(0, "int64"))
    return ibis.union(
        sizes.select("cohort", "period", "people"),
        returned.select("cohort", "period", "people"),
        distinct=False,
    ).order_by(["cohort", "period"])


def period_begins(cohort: datetime, n: int, period: str) -> datetime:
    """When period ``n`` of the cohort starting at ``cohort`` begins."""
    if period == "month":
        months = cohort.year * 12 + cohort.month - 1 + n
        return cohort.replace(year=months // 12, month=months % 12 + 1)
    return cohort + timedelta(seconds=PERIOD_SECONDS[period] * n)


def data_end(wh: Warehouse, rules: IdentityRules, d: RetentionDefinition) -> datetime | None:
    """Where observation ends: ``until``, else the latest returning fact."""
    if d.until is not None:
        return d.until
    spec = StreamSpec(steps=[d.back.matches], start=d.since, end=None, now=datetime.now())
    s = step_stream(wh, rules, spec)
    latest: datetime | None = s.ts.max().to_pyarrow().as_py()
    return latest


def table_of(
    d: RetentionDefinition, rows: list[dict[str, Any]], end: datetime | None = None
) -> dict[str, Any]:
    """Rows of counts as cohort rows: counts and rates per period (0 = the cohort size);
    a period that had not begun by ``end`` is None (not observed yet, not zero)."""
    cohorts: dict[Any, list[int]] = {}
    for r in rows:
        cohorts.setdefault(r["cohort"], [0] * (d.periods + 1))[int(r["period"])] = int(r["people"])
    out = []
    for cohort, counted in sorted(cohorts.items()):
        size = counted[0]
        counts: list[int | None] = [
            c if end is None or period_begins(cohort, n, d.period) <= end else None
            for n, c in enumerate(counted)
        ]
        out.append(
            {
                "cohort": cohort,
                "people": size,
                "counts": counts,
                "rates": [
                    None if c is None else round(c / size, 6) if size else 0.0 for c in counts
                ],
            }
        )
    total = sum(c["people"] for c in out)
    return {
        "start": d.start.name,
        "returning": d.back.name,
        "period": d.period,
        "periods": d.periods,
        "since": d.since,
        "until": d.until,
        "people": total,
        "observed_until": end,
        "cohorts": out,
    }


class RetentionCapability:
    """``platform.retention``: cohort tables over the warehouse."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def run(self, doc: Mapping[str, Any] | str | None = None, **fields: Any) -> dict[str, Any]:
        """A cohort table from a document and/or fields (start, returning, period, periods...)."""
        d = parse_retention(doc or {}, **fields)
        with self._platform.warehouse.reader() as wh:
            rules = self._platform.config.rules
            rows = cohort_counts(wh, rules, d).to_pyarrow().to_pylist()
            end = data_end(wh, rules, d)
        return table_of(d, rows, end)

    def sql(
        self,
        doc: Mapping[str, Any] | str | None = None,
        *,
        dialect: str | None = None,
        **fields: Any,
    ) -> str:
        d = parse_retention(doc or {}, **fields)
        with self._platform.warehouse.reader() as wh:
            expr = cohort_counts(wh, self._platform.config.rules, d)
            return str(ibis.to_sql(expr, dialect=dialect or wh.con.name))
