"""``platform.alerts``: rules kept in the operational store, checked, alerts opened,
resolved, acknowledged and notified.

Example::

    with Platform.open("omni-home") as platform:
        platform.alerts.save_rules(Path("alerts.yaml").read_text(), actor="ann")
        report = platform.alerts.check()          # what the `alerts` job runs
        for alert in platform.alerts.list(state="open"):
            print(alert["rule"], alert["subject"], alert["message"])
        platform.alerts.ack(report["opened"][0]["id"], actor="ann")
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.analytics.alerts.rules import Notify, Rule, read_rules, rule_of
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.opstore import audit
from omnichannel.opstore.models import Alert, AlertRule

if TYPE_CHECKING:
    from omnichannel.platform import Platform

NOTIFY_RULE = "__notify__"  # the document's notify section, kept as a rule row
STATES = ("open", "resolved")


def public_alert(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule_name,
        "kind": a.kind,
        "subject": a.subject,
        "state": a.state,
        "value": a.value,
        "low": a.low,
        "high": a.high,
        "message": a.message,
        "detail": a.detail,
        "opened_at": a.opened_at,
        "last_seen_at": a.last_seen_at,
        "resolved_at": a.resolved_at,
        "acknowledged_at": a.acknowledged_at,
        "acknowledged_by": a.acknowledged_by,
    }


def _now(as_of: datetime | None) -> datetime:
    """Naive UTC (the warehouse's clock)."""
    at = as_of or datetime.now(UTC)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


class AlertsCapability:
    """Alert rules, their evaluation, the alerts, and their notifications."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- rules -----------------------------------------------------------------------

    def rules(self) -> dict[str, Any]:
        """The stored document: its rules and its notify section."""
        with self._platform.opstore.session() as session:
            rows = list(session.scalars(select(AlertRule).order_by(AlertRule.name)))
            notify = next((r.definition for r in rows if r.name == NOTIFY_RULE), {})
            return {
                "rules": [
                    {**r.definition, "enabled": r.enabled, "updated_at": r.updated_at}
                    for r in rows
                    if r.name != NOTIFY_RULE
                ],
                "notify": Notify.model_validate(notify).model_dump(),
            }

    def save_rules(
        self, document: Mapping[str, Any] | str, *, actor: str = "api", replace: bool = False
    ) -> dict[str, Any]:
        """Store a rule document's rules (by name: new ones added, same names replaced;
        ``replace`` drops the rules it does not name). Returns the stored document."""
        parsed = read_rules(document)
        now = datetime.now(UTC)
        with self._platform.opstore.session() as session:
            existing = {r.name: r for r in session.scalars(select(AlertRule))}
            wanted = {r.name: r for r in parsed.rules}
            for name, rule in wanted.items():
                row = existing.get(name)
                definition = rule.model_dump(mode="json", exclude_none=True)
                if row is None:
                    session.add(
                        AlertRule(
                            name=name,
                            kind=rule.kind,
                            definition=definition,
                            enabled=rule.enabled,
                            created_by=actor,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    row.kind, row.definition, row.enabled = rule.kind, definition, rule.enabled
                    row.updated_at = now
            notify = parsed.notify.model_dump()
            if "notify" in _keys(document) or replace:
                row = existing.get(NOTIFY_RULE)
                if row is None:
                    session.add(
                        AlertRule(
                            name=NOTIFY_RULE,
                            kind="notify",
                            definition=notify,
                            created_by=actor,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    row.definition, row.updated_at = notify, now
            if replace:
                for name, row in existing.items():
                    if name not in wanted and name != NOTIFY_RULE:
                        session.delete(row)
            audit.record(
                session,
                actor=actor,
                action="alerts.rules_saved",
                object_type="alert_rules",
                object_id=",".join(sorted(wanted)) or "-",
                details={"replace": replace, "rules": sorted(wanted)},
            )
        return self.rules()

    def delete_rule(self, name: str, *, actor: str = "api") -> None:
        with self._platform.opstore.session() as session:
            row = session.scalar(select(AlertRule).where(AlertRule.name == name))
            if row is None or name == NOTIFY_RULE:
                raise NotFoundError(f"no alert rule named {name!r}")
            session.delete(row)
            audit.record(
                session,
                actor=actor,
                action="alerts.rule_deleted",
                object_type="alert_rules",
                object_id=name,
                details={},
            )

    def _stored(self) -> tuple[list[Rule], Notify]:
        with self._platform.opstore.session() as session:
            rows = list(session.scalars(select(AlertRule).order_by(AlertRule.name)))
            notify = Notify.model_validate(
                next((r.definition for r in rows if r.name == NOTIFY_RULE), {})
            )
            rules = [rule_of(r.definition) for r in rows if r.name != NOTIFY_RULE and r.enabled]
        return rules, notify

    # --- evaluation ------------------------------------------------------------------

    def check(
        self,
        *,
        as_of: datetime | None = None,
        rules: list[str] | None = None,
        notify: bool = True,
    ) -> dict[str, Any]:
        """Evaluate the enabled rules at ``as_of`` (default now): open an alert for each
        subject out of range with none open, resolve open ones judged normal again, and
        notify both. Returns what was checked, opened, resolved and is still open."""
        from omnichannel.analytics.alerts.detect import detect
        from omnichannel.analytics.alerts.notify import send_notifications

        at = _now(as_of)
        stored, default_notify = self._stored()
        if rules is not None:
            known = {r.name for r in stored}
            for name in rules:
                if name not in known:
                    raise ValidationError(
                        "rules", name, f"an enabled rule ({', '.join(sorted(known))})"
                    )
            stored = [r for r in stored if r.name in rules]
        opened: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        judged = 0
        for rule in stored:
            try:
                findings = detect(self._platform, rule, at)
            except Exception as exc:  # one bad rule costs no other
                errors[rule.name] = f"{type(exc).__name__}: {exc}"
                continue
            judged += len(findings)
            o, r = self._apply(rule, findings)
            targets = rule.notify or default_notify
            if notify:
                for alert in o:
                    alert["notified"] = send_notifications(self._platform, alert, "opened", targets)
                for alert in r:
                    alert["notified"] = send_notifications(
                        self._platform, alert, "resolved", targets
                    )
            opened += o
            resolved += r
        return {
            "as_of": at,
            "rules": len(stored),
            "judged": judged,
            "opened": opened,
            "resolved": resolved,
            "open": self.list(state="open"),
            "errors": errors,
        }

    def _apply(self, rule: Rule, findings: list[Any]) -> tuple[list[dict[str, Any]], ...]:
        now = datetime.now(UTC)
        opened, resolved = [], []
        with self._platform.opstore.session() as session:
            open_rows = {
                a.subject: a
                for a in session.scalars(
                    select(Alert).where(Alert.rule_name == rule.name, Alert.state == "open")
                )
            }
            for f in findings:
                row = open_rows.get(f.subject)
                if f.firing and row is None:
                    row = Alert(
                        rule_name=rule.name,
                        kind=rule.kind,
                        subject=f.subject,
                        state="open",
                        value=f.value,
                        low=f.low,
                        high=f.high,
                        message=f.message,
                        detail=f.detail,
                        opened_at=now,
                        last_seen_at=now,
                    )
                    session.add(row)
                    session.flush()
                    opened.append(public_alert(row))
                elif f.firing and row is not None:
                    row.value, row.low, row.high, row.last_seen_at = f.value, f.low, f.high, now
                elif not f.firing and row is not None:
                    row.state, row.resolved_at, row.last_seen_at = "resolved", now, now
                    row.detail = {**row.detail, "resolved_value": f.value, "resolved": f.message}
                    resolved.append(public_alert(row))
        return opened, resolved

    # --- alerts ----------------------------------------------------------------------

    def list(
        self, *, state: str | None = None, rule: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Alerts, newest first; ``state`` open or resolved."""
        if state is not None and state not in STATES:
            raise ValidationError("state", state, f"one of {', '.join(STATES)}")
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit", limit, "a number from 1 to 10000")
        query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
        if state is not None:
            query = query.where(Alert.state == state)
        if rule is not None:
            query = query.where(Alert.rule_name == rule)
        with self._platform.opstore.session() as session:
            return [public_alert(a) for a in session.scalars(query)]

    def ack(self, alert_id: int, *, actor: str = "api") -> dict[str, Any]:
        """Mark an alert seen by ``actor`` (it stays open until its rule judges it normal)."""
        with self._platform.opstore.session() as session:
            row = session.get(Alert, alert_id)
            if row is None:
                raise NotFoundError(f"no alert with id {alert_id}")
            row.acknowledged_at, row.acknowledged_by = datetime.now(UTC), actor
            audit.record(
                session,
                actor=actor,
                action="alerts.acknowledged",
                object_type="alert",
                object_id=str(alert_id),
                details={"rule": row.rule_name, "subject": row.subject},
            )
            return public_alert(row)


def _keys(document: Mapping[str, Any] | str) -> set[str]:
    from omnichannel.segments.definition import read_document

    return set(read_document(document, "an alert document"))
