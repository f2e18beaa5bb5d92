"""``platform.experiments``: define, assign, and read experiments and journey holdouts.

Example::

    with Platform.open("omni-home") as platform:
        platform.experiments.create({"name": "button", "variants": [{"name": "a"}, {"name": "b"}]})
        platform.experiments.assign("button", "profile-42")     # {"variant": "b", ...}
        platform.experiments.analyse("button")                 # tests, CUPED, SRM, mSPRT
        platform.experiments.analyse(journey="win-back")       # holdout vs treated
        platform.experiments.stop("button", winner="b", actor="ana@shop.example")

Creating and stopping are written to the audit log (``experiment:NAME``, before and
after) in the transaction of the change, with the actor the face authenticated.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from omnichannel.access.audit import record as audit_record
from omnichannel.analytics.experiments import analysis, stats
from omnichannel.analytics.experiments.assign import variant_for
from omnichannel.analytics.experiments.definition import (
    ExperimentDefinition,
    Metric,
    check_name,
    parse_experiment,
)
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import Experiment, ExperimentExposure

if TYPE_CHECKING:
    from omnichannel.platform import Platform

HOLDOUT = "holdout"
TREATED = "treated"


class ExperimentsCapability:
    """Experiments (C13) on the operational store's definitions and the warehouse's facts."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- definitions ---------------------------------------------------------------

    def create(self, document: Mapping[str, Any] | str, *, actor: str = "system") -> dict[str, Any]:
        """Store a new experiment (a mapping, or JSON or YAML text)."""
        definition = parse_experiment(document)
        try:
            with self._platform.opstore.session() as session:
                row = Experiment(
                    name=definition.name, definition=definition.document(), created_by=actor
                )
                session.add(row)
                session.flush()
                after = self._public(row, session)
                audit_record(
                    session, actor, "experiment.create", f"experiment:{row.name}", None, after
                )
        except IntegrityError:
            raise ConflictError(f"an experiment named {definition.name!r} exists") from None
        return self.show(definition.name)

    def list(self) -> list[dict[str, Any]]:
        with self._platform.opstore.session() as session:
            rows = session.scalars(select(Experiment).order_by(Experiment.name)).all()
            return [self._public(r, session) for r in rows]

    def show(self, name: str) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            return self._public(self._row(session, name), session)

    def stop(
        self, name: str, *, winner: str | None = None, actor: str = "system"
    ) -> dict[str, Any]:
        """Stop recording exposures; with ``winner``, conclude it: from then on everyone is
        assigned that arm (without one, assignment keeps answering the same variants).

        A stopped experiment may be concluded later; stopping it again, or naming a second
        winner, is a ``ConflictError``. The recorded exposures stay, so it reads as before.
        """
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            arms = [v["name"] for v in row.definition.get("variants", [])]
            if winner is not None and winner not in arms:
                raise ValidationError("winner", winner, f"one of the arms: {', '.join(arms)}")
            if row.status == "stopped" and (winner is None or row.winner is not None):
                done = f" with winner {row.winner!r}" if row.winner else ""
                raise ConflictError(
                    f"experiment {row.name!r} was stopped{done} at {row.stopped_at} by "
                    f"{row.stopped_by}" + ("" if row.winner else "; give a winner to conclude it")
                )
            before = self._public(row, session)
            now = datetime.now(UTC)
            if row.status != "stopped":
                row.status, row.stopped_at, row.stopped_by = "stopped", now, actor
            row.winner, row.updated_at = winner, now
            session.flush()
            after = self._public(row, session)
            audit_record(session, actor, "experiment.stop", f"experiment:{row.name}", before, after)
        return after

    def definition(self, name: str) -> ExperimentDefinition:
        with self._platform.opstore.session() as session:
            return parse_experiment(self._row(session, name).definition)

    # --- assignment ----------------------------------------------------------------

    def assign(
        self, name: str, person: str, *, record: bool = True, now: datetime | None = None
    ) -> dict[str, Any]:
        """The person's variant; the first call while running records their exposure
        (``now``: when, default the clock; a time without a zone is read as UTC)."""
        now = now or datetime.now(UTC)
        now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            definition = parse_experiment(row.definition)
            winner = row.winner
            variant = winner or variant_for(definition, person)
            live = (
                row.status == "running"
                and (definition.start is None or now >= definition.start)
                and (definition.end is None or now < definition.end)
            )
            exposure = session.get(ExperimentExposure, (row.id, person))
            if exposure is None and record and live:
                exposure = ExperimentExposure(
                    experiment_id=row.id, person=person, variant=variant, exposed_at=now
                )
                session.add(exposure)
            exposed_at = exposure.exposed_at if exposure is not None else None
        return {
            "experiment": name,
            "person": person,
            "variant": variant,
            "exposed_at": exposed_at,
            "recorded": exposed_at is not None,
            "concluded": winner is not None,
        }

    # --- analysis ------------------------------------------------------------------

    def analyse(
        self,
        name: str | None = None,
        *,
        journey: str | None = None,
        segments: builtins.list[str] | None = None,
        alpha: float = stats.ALPHA,
    ) -> dict[str, Any]:
        """Read an experiment, or a journey's holdout against its treated people."""
        stats.check_alpha(alpha)
        if (name is None) == (journey is None):
            raise ValidationError("experiment", name, "an experiment name or journey=, not both")
        if journey is not None:
            units, weights, metrics, control = self._journey_units(journey)
            subject = {"journey": journey}
        else:
            assert name is not None
            definition = self.definition(name)
            units = self._exposures(name)
            weights = definition.weights
            metrics = [definition.metric, *definition.guardrails]
            control = definition.control
            subject = {"experiment": name}
        variant = np.asarray(units.variant, dtype=object)
        days = np.asarray([t.date().isoformat() for t in units.exposed_at], dtype=object)
        treatments = [v for v in weights if v != control]
        counts = {v: int((variant == v).sum()) for v in weights}
        answer: dict[str, Any] = {
            **subject,
            "control": control,
            "units": len(units.person),
            "variants": [{"name": v, "weight": w, "units": counts[v]} for v, w in weights.items()],
            "srm": stats.sample_ratio(counts, weights),
            "alpha": alpha,
            "metrics": [],
            "segments": [],
        }
        if not units.person:
            return answer
        rules = self._platform.config.rules
        with self._platform.warehouse.reader() as wh:
            values = []
            for metric in metrics:
                table = analysis.per_unit(wh, rules, units, metric)
                values.append(analysis.metric_values(table, metric, len(units.person)))
            members = analysis.by_segment(wh, units, segments or [])
        for k, metric in enumerate(metrics):
            y, pre = values[k]
            answer["metrics"].append(
                {
                    "metric": metric.label,
                    "kind": metric.kind,
                    "goal": metric.goal,
                    "within_days": metric.within_days,
                    "role": "primary" if k == 0 else "guardrail",
                    "comparisons": analysis.compare(
                        y, pre, variant, days, metric, control, treatments, alpha
                    ),
                }
            )
        y, pre = values[0]
        for segment, inside in members.items():
            for label, mask in (("in", inside), ("out", ~inside)):
                answer["segments"].append(
                    {
                        "segment": segment,
                        "membership": label,
                        "units": int(mask.sum()),
                        "comparisons": [
                            {"variant": c["variant"], "test": c["test"]}
                            for c in analysis.compare(
                                y[mask],
                                pre[mask],
                                variant[mask],
                                days[mask],
                                metrics[0],
                                control,
                                treatments,
                                alpha,
                            )
                        ],
                    }
                )
        return answer

    def sample_size(self, **parameters: Any) -> dict[str, Any]:
        """People per arm for an MDE, or the MDE for a number of people (``stats.sample_size``)."""
        return stats.sample_size(**parameters)

    # --- internals -----------------------------------------------------------------

    def _row(self, session: Any, name: str) -> Experiment:
        row: Experiment | None = session.scalars(
            select(Experiment).where(Experiment.name == check_name(name))
        ).first()
        if row is None:
            raise NotFoundError(f"no experiment named {name!r} (see `omni experiments list`)")
        return row

    def _public(self, row: Experiment, session: Any) -> dict[str, Any]:
        counts = dict(
            session.execute(
                select(ExperimentExposure.variant, func.count())
                .where(ExperimentExposure.experiment_id == row.id)
                .group_by(ExperimentExposure.variant)
            ).all()
        )
        return {
            "name": row.name,
            "status": row.status,
            "definition": row.definition,
            "exposures": {str(k): int(v) for k, v in counts.items()},
            "winner": row.winner,
            "stopped_at": row.stopped_at,
            "stopped_by": row.stopped_by,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }

    def _exposures(self, name: str) -> analysis.Units:
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            found = session.execute(
                select(
                    ExperimentExposure.person,
                    ExperimentExposure.variant,
                    ExperimentExposure.exposed_at,
                )
                .where(ExperimentExposure.experiment_id == row.id)
                .order_by(ExperimentExposure.exposed_at, ExperimentExposure.person)
            ).all()
        return analysis.Units([r[0] for r in found], [r[1] for r in found], [r[2] for r in found])

    def _journey_units(
        self, name: str
    ) -> tuple[analysis.Units, dict[str, float], builtins.list[Metric], str]:
        """A journey's enrolments given an arm: ``holdout`` against ``treated``."""
        from omnichannel.journeys.definition import SplitStep
        from omnichannel.opstore.models import JourneyEnrolment

        stored = self._platform.journeys.store.require(name)
        definition = stored.definition
        held = [s.split.holdout for s in definition.steps.values() if isinstance(s, SplitStep)]
        if not held or not held[0]:
            raise ValidationError("journey", name, "a journey with a split step holding people out")
        goal = definition.goal
        within = goal.within.total_seconds() / 86_400 if goal else 14.0
        event = goal.event if goal else None
        metrics = [
            Metric(kind="conversion", event=event, within_days=within),
            Metric(kind="revenue", within_days=within),
        ]
        e = JourneyEnrolment
        with self._platform.opstore.session() as session:
            found = session.execute(
                select(e.profile_id, e.subject, e.arm, e.entered_at)
                .where(e.journey_id == stored.id, e.arm.is_not(None))
                .order_by(e.entered_at, e.id)
            ).all()
        units = analysis.Units(
            [r[0] or r[1] for r in found],
            [HOLDOUT if r[2] == HOLDOUT else TREATED for r in found],
            [r[3] for r in found],
        )
        weights = {HOLDOUT: held[0], TREATED: 100.0 - held[0]}
        return units, weights, metrics, HOLDOUT
