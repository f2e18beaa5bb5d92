"""``platform.reports``: saved reports (metric x dimensions x filters), versioned, shared
with a team or kept private, and optionally emailed on a schedule.

Example::

    reports = platform.reports
    saved = reports.create({"title": "Weekly revenue", "metric": {"kind": "kpi",
                            "kpis": ["revenue"]}, "dimensions": ["channel", "period"]},
                           owner="ana@shop.example")
    reports.run(saved["id"])                       # {"columns", "rows", "chart"}
    reports.share(saved["id"], team="growth", actor="ana@shop.example")
    reports.schedule(saved["id"], {"every": "week", "weekday": 0, "hour": 7}, actor=...)
    reports.list(user="li@shop.example")           # li's own and their teams' reports

``user`` is who is looking: a report is visible to its owner and, once shared, to the
members of its team; ``user=None`` (the installation's admins, the CLI) sees them all.
Only the owner (or ``user=None``) changes, shares, schedules or deletes a report.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from omnichannel.access import audit
from omnichannel.errors import NotFoundError, OmniError, ValidationError
from omnichannel.opstore.models import Report, ReportVersion, Team, TeamMember, User
from omnichannel.reports.definition import ReportDefinition, parse_report
from omnichannel.reports.run import attribution_side_by_side, run_definition
from omnichannel.reports.schedule import check_schedule, next_due
from omnichannel.reports.teams import Teams, member_emails, team_row

if TYPE_CHECKING:
    from omnichannel.platform import Platform

Document = Mapping[str, Any] | str


def viewer_of(principal: Any) -> str | None:
    """Whose reports a caller sees: None (every report) for admins, the admin token and
    the CLI; a user's own email otherwise."""
    if principal.kind in ("admin_token", "cli") or principal.can("admin:all"):
        return None
    return str(principal.email or principal.actor)


class ReportForbidden(OmniError):
    """Someone other than a report's owner tried to change it (403 over HTTP)."""


def _definition_of(session: Session, report: Report, version: int | None = None) -> ReportVersion:
    found = session.get(ReportVersion, (report.id, version or report.version))
    if found is None:
        raise NotFoundError(f"report {report.id} has no version {version}")
    return found


class ReportsCapability:
    """Saved reports on the operational store, answered by the analytics layer."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @cached_property
    def teams(self) -> Teams:
        """Teams: named sets of users that reports are shared with."""
        return Teams(self._platform)

    # --- one-off answers -------------------------------------------------------------

    def preview(self, document: Document) -> dict[str, Any]:
        """Run a definition without saving it (the report builder's preview)."""
        definition = parse_report(document)
        return {"definition": definition.document(), **run_definition(self._platform, definition)}

    def attribution(
        self,
        models: builtins.list[str],
        *,
        lookback_days: float = 30.0,
        since: Any = None,
        until: Any = None,
    ) -> dict[str, Any]:
        """Several attribution models side by side: a row per channel, a column per model."""
        definition = parse_report(
            {
                "title": "attribution",
                "metric": {"kind": "attribution", "models": models, "lookback_days": lookback_days},
            }
        )
        return attribution_side_by_side(
            self._platform,
            list(definition.metric.models or []),
            lookback_days=lookback_days,
            since=since,
            until=until,
        )

    def event_names(self, *, limit: int = 500) -> builtins.list[dict[str, Any]]:
        """The event names the warehouse holds, most frequent first, with their counts
        (page and screen calls as ``Page Viewed`` and ``Screen Viewed``, as funnels read
        them): what a funnel's or a report's steps are picked from."""
        import ibis

        if not 1 <= limit <= 10_000:
            raise ValidationError("limit", limit, "a number from 1 to 10000")
        with self._platform.warehouse.reader() as wh:
            t = wh.table("events")
            name = ibis.cases(
                (t.type == "page", ibis.literal("Page Viewed")),
                (t.type == "screen", ibis.literal("Screen Viewed")),
                else_=t.event,
            )
            t = t.mutate(name=name).filter(lambda r: r.name.notnull())
            counted = (
                t.group_by("name")
                .agg(events=t.count(), last_at=t.timestamp.max())
                .order_by([ibis.desc("events"), "name"])
                .limit(limit)
            )
            rows = counted.to_pyarrow().to_pylist()
        return [
            {"event": r["name"], "events": int(r["events"]), "last_at": r["last_at"]} for r in rows
        ]

    # --- saved reports ---------------------------------------------------------------

    def create(
        self,
        document: Document,
        *,
        owner: str,
        team: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Save a new report (version 1), private to ``owner`` or shared with ``team``."""
        definition = parse_report(document)
        who = actor or owner
        with self._platform.opstore.session() as session:
            team_id = team_row(session, team).id if team else None
            report = Report(title=definition.title, owner=owner, team_id=team_id, version=1)
            session.add(report)
            session.flush()
            session.add(
                ReportVersion(
                    report_id=report.id, version=1, definition=definition.document(), created_by=who
                )
            )
            session.flush()
            after = self._public(session, report)
            audit.record(session, who, "report.create", f"report:{report.id}", None, after)
            return after

    def update(
        self, report_id: int, document: Document, *, actor: str, user: str | None = None
    ) -> dict[str, Any]:
        """Save a new version of the report's definition (earlier versions are kept)."""
        definition = parse_report(document)
        with self._platform.opstore.session() as session:
            report = self._changeable(session, report_id, user)
            before = self._public(session, report)
            report.version += 1
            report.title = definition.title
            report.updated_at = datetime.now(UTC)
            session.add(
                ReportVersion(
                    report_id=report.id,
                    version=report.version,
                    definition=definition.document(),
                    created_by=actor,
                )
            )
            session.flush()
            after = self._public(session, report)
            audit.record(session, actor, "report.update", f"report:{report.id}", before, after)
            return after

    def list(self, *, user: str | None = None) -> builtins.list[dict[str, Any]]:
        """The reports ``user`` may see (all with ``user=None``), newest change first."""
        with self._platform.opstore.session() as session:
            query = select(Report).order_by(Report.updated_at.desc(), Report.id.desc())
            if user is not None:
                teams = (
                    select(TeamMember.team_id)
                    .join(User, User.id == TeamMember.user_id)
                    .where(User.email == user.strip().lower())
                )
                query = query.where(or_(Report.owner == user, Report.team_id.in_(teams)))
            return [self._public(session, r, brief=True) for r in session.scalars(query)]

    def show(
        self, report_id: int, *, user: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """The report with its definition (the current version, or ``version``)."""
        with self._platform.opstore.session() as session:
            report = self._visible(session, report_id, user)
            return self._public(session, report, version=version)

    def versions(self, report_id: int, *, user: str | None = None) -> builtins.list[dict[str, Any]]:
        with self._platform.opstore.session() as session:
            report = self._visible(session, report_id, user)
            rows = session.scalars(
                select(ReportVersion)
                .where(ReportVersion.report_id == report.id)
                .order_by(ReportVersion.version.desc())
            )
            return [
                {
                    "version": v.version,
                    "definition": v.definition,
                    "created_by": v.created_by,
                    "created_at": v.created_at,
                }
                for v in rows
            ]

    def run(
        self, report_id: int, *, user: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """The report's answer now: ``columns``, ``rows`` and how to ``chart`` them."""
        shown = self.show(report_id, user=user, version=version)
        definition = ReportDefinition.model_validate(shown["definition"])
        return {"report": shown, **run_definition(self._platform, definition)}

    def delete(self, report_id: int, *, actor: str, user: str | None = None) -> None:
        with self._platform.opstore.session() as session:
            report = self._changeable(session, report_id, user)
            before = self._public(session, report)
            session.delete(report)
            audit.record(session, actor, "report.delete", f"report:{report_id}", before, None)

    def share(
        self, report_id: int, team: str | None, *, actor: str, user: str | None = None
    ) -> dict[str, Any]:
        """Share the report with ``team`` (its members see it); ``None`` makes it private."""
        with self._platform.opstore.session() as session:
            report = self._changeable(session, report_id, user)
            before = self._public(session, report)
            report.team_id = team_row(session, team).id if team else None
            report.updated_at = datetime.now(UTC)
            session.flush()
            after = self._public(session, report)
            audit.record(session, actor, "report.share", f"report:{report.id}", before, after)
            return after

    def schedule(
        self,
        report_id: int,
        schedule: Mapping[str, Any] | None,
        *,
        actor: str,
        user: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Email the report on ``schedule`` ({every: day|week|month, hour, weekday, day};
        UTC) to its team's members (or its owner while private); ``None`` stops it."""
        checked = check_schedule(schedule)
        with self._platform.opstore.session() as session:
            report = self._changeable(session, report_id, user)
            before = self._public(session, report)
            report.schedule = checked
            report.next_send_at = (
                next_due(checked, after=now or datetime.now(UTC)) if checked else None
            )
            report.updated_at = datetime.now(UTC)
            session.flush()
            after = self._public(session, report)
            audit.record(session, actor, "report.schedule", f"report:{report.id}", before, after)
            return after

    # --- emailing ----------------------------------------------------------------------

    def recipients(self, report_id: int) -> builtins.list[str]:
        """Who the report's email goes to: its team's active members, else its owner."""
        with self._platform.opstore.session() as session:
            report = self._row(session, report_id)
            if report.team_id is not None:
                return member_emails(session, report.team_id, active_only=True)
            return [report.owner] if "@" in report.owner else []

    def send(
        self,
        report_id: int,
        *,
        actor: str = "system",
        user: str | None = None,
        due: datetime | None = None,
    ) -> dict[str, Any]:
        """Run the report and email it now (an HTML table and the CSV attached)."""
        from omnichannel.reports.mail import compose

        with self._platform.opstore.session() as session:
            self._changeable(session, report_id, user)
        answer = self.run(report_id)
        report = answer["report"]
        content = compose(report, answer, None)
        moment = (due or datetime.now(UTC)).isoformat()
        sent = []
        for address in self.recipients(report_id):
            try:
                queued = self._platform.messages.send(
                    channel="email",
                    address=address,
                    content=content,
                    kind="transactional",
                    origin="api",
                    campaign=f"report:{report_id}",
                    idempotency_key=f"report:{report_id}:{moment}:{address}",
                )
                sent.append(
                    {
                        "address": address,
                        "outbox_id": queued.get("outbox_id"),
                        "status": queued.get("status"),
                    }
                )
            except OmniError as exc:
                sent.append({"address": address, "error": str(exc)})
        if sent:
            self._platform.channels.wake({"email"})
        with self._platform.opstore.session() as session:
            row = self._row(session, report_id)
            row.last_sent_at = datetime.now(UTC)
            audit.record(
                session,
                actor,
                "report.send",
                f"report:{report_id}",
                details={"to": [s["address"] for s in sent], "due": moment},
            )
        return {"report": report_id, "rows": len(answer["rows"]), "sent": sent}

    def send_due(self, *, now: datetime | None = None) -> dict[str, Any]:
        """Email every scheduled report that is due (what the ``reports`` job runs)."""
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # a time without a zone is read as UTC
        with self._platform.opstore.session() as session:
            due = [
                (r.id, r.next_send_at, dict(r.schedule or {}))
                for r in session.scalars(
                    select(Report).where(
                        Report.next_send_at.is_not(None), Report.next_send_at <= moment
                    )
                )
            ]
        done, failed = [], []
        for report_id, at, schedule in due:
            try:
                done.append(self.send(report_id, actor="job:reports", due=at))
            except OmniError as exc:
                failed.append({"report": report_id, "error": str(exc)})
            with self._platform.opstore.session() as session:
                row = session.get(Report, report_id)
                if row is not None and schedule:
                    row.next_send_at = next_due(schedule, after=moment)
        return {"sent": done, "failed": failed}

    # --- rows --------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, report_id: int) -> Report:
        found = session.get(Report, int(report_id))
        if found is None:
            raise NotFoundError(f"no report with id {report_id} (see `omni reports list`)")
        return found

    def _visible(self, session: Session, report_id: int, user: str | None) -> Report:
        report = self._row(session, report_id)
        if user is None or report.owner == user:
            return report
        if report.team_id is not None and user.strip().lower() in member_emails(
            session, report.team_id
        ):
            return report
        # Not theirs to see: the same answer as a report that does not exist.
        raise NotFoundError(f"no report with id {report_id} (see `omni reports list`)")

    def _changeable(self, session: Session, report_id: int, user: str | None) -> Report:
        report = self._visible(session, report_id, user)
        if user is not None and report.owner != user:
            raise ReportForbidden(
                f"report {report_id} is {report.owner}'s: only its owner (or an admin) "
                "changes, shares, schedules or deletes it"
            )
        return report

    def _public(
        self,
        session: Session,
        report: Report,
        *,
        brief: bool = False,
        version: int | None = None,
    ) -> dict[str, Any]:
        team = session.get(Team, report.team_id) if report.team_id is not None else None
        out: dict[str, Any] = {
            "id": report.id,
            "title": report.title,
            "owner": report.owner,
            "team": team.name if team else None,
            "shared": team is not None,
            "version": report.version,
            "schedule": report.schedule,
            "next_send_at": report.next_send_at,
            "last_sent_at": report.last_sent_at,
            "created_at": report.created_at,
            "updated_at": report.updated_at,
        }
        stored = _definition_of(session, report, version)
        if brief:
            out["metric"] = stored.definition.get("metric", {}).get("kind")
            out["presentation"] = stored.definition.get("presentation", "table")
        else:
            out["shown_version"] = stored.version
            out["definition"] = stored.definition
        return out
