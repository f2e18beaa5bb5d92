"""``platform.journeys``: what the CLI, the API and the pages do with journeys, in one place.

Each method returns JSON-ready data, so the CLI prints the same thing whether it ran
here or through a running server, and the API's response models validate it as it is.
A document is checked twice before it is saved, approved or started: as a document
(``definition.parse_journey``) and against this installation (``validate``: templates,
channels, segments and entered journeys exist and fit); every problem is a
``ValidationError`` naming its path inside the document (``steps.reminder.send.template``).

Example::

    with Platform.open("omni-home") as platform:
        platform.journeys.create(open("cart.yaml").read(), actor="ana@example.com")
        platform.journeys.approve("abandoned-cart", actor="li@example.com")
        platform.journeys.start("abandoned-cart", actor="li@example.com")
        platform.journeys.simulate("abandoned-cart", days=14)["steps"]
        platform.journeys.stats("abandoned-cart")["conversion"]
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.errors import ConfigError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from omnichannel.journeys.definition import JourneyDefinition
    from omnichannel.journeys.runtime import JourneyRuntime
    from omnichannel.journeys.store import JourneyStore, StoredJourney
    from omnichannel.platform import Platform

Document = Mapping[str, Any] | str
ENROLMENT_LIMIT = 100
ENTRY_KINDS = ("event", "segment", "date", "schedule")  # as definition.ENTRY_KINDS, unimported


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def definition_of(doc: Document | JourneyDefinition, *, name: str | None = None) -> Any:
    """A parsed journey; ``name`` fills in (or must equal) the document's name."""
    from omnichannel.journeys.definition import JourneyDefinition, parse_journey

    if isinstance(doc, JourneyDefinition):
        definition = doc
    else:
        if name is not None and isinstance(doc, Mapping) and "name" not in doc:
            doc = {**doc, "name": name}
        definition = parse_journey(doc)
    if name is not None and definition.name != name:
        raise ValidationError(
            "name", definition.name, f"the journey's own name {name!r} (renaming is not supported)"
        )
    return definition


class JourneysCapability:
    """Journeys of one installation: documents, lifecycle, enrolments, counts, dry runs."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @cached_property
    def store(self) -> JourneyStore:
        from omnichannel.journeys.store import JourneyStore

        return JourneyStore(self._platform.opstore)

    @cached_property
    def runtime(self) -> JourneyRuntime:
        """The engine (``journeys/runtime.py``): ``run_due()``, ``start()``, ``stop()``."""
        from omnichannel.journeys.runtime import JourneyRuntime

        return JourneyRuntime(self._platform)

    def wake(self) -> None:
        """Enrolments may be due now: the engine looks (entries call this after enrolling)."""
        self.runtime.wake()

    # --- documents -------------------------------------------------------------------

    def validate(self, doc: Document | JourneyDefinition) -> dict[str, Any]:
        """Check a document and its references to this installation, without saving it;
        a summary of what it uses when it passes, the first problem (its path) when not."""
        definition = definition_of(doc)
        self._check_installation(definition)
        return {
            "valid": True,
            "name": definition.name,
            "entry": definition.entry.kind,
            "start": definition.start,
            "steps": len(definition.steps),
            "channels": sorted(definition.channels()),
            "templates": sorted(definition.templates()),
            "segments": sorted(definition.segments()),
            "journeys": sorted(definition.journeys()),
            "events": sorted(definition.event_names()),
        }

    def create(self, doc: Document | JourneyDefinition, *, actor: str = "system") -> dict[str, Any]:
        """Save a new journey (version 1, a draft) after checking it."""
        definition = definition_of(doc)
        self._check_installation(definition)
        return self._public(self.store.create(definition, actor=actor))

    def save(
        self, name: str, doc: Document | JourneyDefinition, *, actor: str = "system"
    ) -> dict[str, Any]:
        """Save a new version. A live journey keeps running its live version until the new
        one is approved and started."""
        stored = self.store.require(name)
        definition = definition_of(doc, name=stored.name)
        self._check_installation(definition)
        return self._public(self.store.save(name, definition, actor=actor))

    # --- lifecycle -------------------------------------------------------------------

    def approve(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """Approve the newest version (checked again: a template may have gone meanwhile).

        Once users exist the approver must be an active user other than the version's
        author whose role has ``journeys:approve`` (approver, admin); see docs/access.md."""
        self._check_installation(self.store.require(name).definition)
        self._platform.access.check_actor(actor, "journeys:approve")
        return self._public(self.store.approve(name, actor=actor))

    def start(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """Go live on the approved version; new entries follow it from now on."""
        stored = self.store.require(name)
        if stored.approved_version is not None:
            approved = self.store.version(name, stored.approved_version).document
            self._check_installation(definition_of(approved))
        return self._public(self.store.start(name, actor=actor))

    def pause(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """No new entries, no steps run; due steps wait for ``resume``."""
        return self._public(self.store.pause(name, actor=actor))

    def resume(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """Live again: the steps that came due meanwhile run now."""
        public = self._public(self.store.resume(name, actor=actor))
        self._wake_if_running()
        return public

    def archive(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """Archive for good: no entries, and every open enrolment exits (``archived``)."""
        stored, exited = self.store.archive(name, actor=actor)
        return {**self._public(stored), "exited": exited}

    def reset(
        self, names: builtins.list[str] | None = None, *, actor: str = "system"
    ) -> dict[str, dict[str, int]]:
        """Delete journeys (``names``, default all) with their versions, enrolments, steps
        and the messages they queued; per journey the rows deleted (``omni demo --reset``,
        ``omni journeys reset NAME``). A named journey that does not exist is a
        ``NotFoundError``; a live one a ``ConflictError`` (pause it first: the engine may
        be running its steps)."""
        from omnichannel.errors import ConflictError
        from omnichannel.opstore.models import JourneyStatus

        for name in names or []:
            if self.store.require(name).status == JourneyStatus.LIVE:
                raise ConflictError(
                    f"journey {name!r} is live: pause it first (omni journeys pause {name}), "
                    "then reset it"
                )
        return self.store.reset(names, actor=actor)

    # --- reading ---------------------------------------------------------------------

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every journey: status, versions, entry kind and enrolments open and in all."""
        from sqlalchemy import func

        from omnichannel.opstore.models import OPEN_ENROLMENT_STATES, JourneyEnrolment

        with self._platform.opstore.session() as session:
            rows = session.execute(
                select(
                    JourneyEnrolment.journey_id,
                    func.count(),
                    func.count().filter(JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES)),
                ).group_by(JourneyEnrolment.journey_id)
            ).all()
        counts = {int(j): (int(total), int(open_)) for j, total, open_ in rows}
        listed = []
        for stored in self.store.list():
            total, in_flight = counts.get(stored.id, (0, 0))
            listed.append({**self._public(stored), "enrolled": total, "in_flight": in_flight})
        return listed

    def show(self, name: str) -> dict[str, Any]:
        """One journey: its newest document, status, every version, enrolments by state."""
        from omnichannel.journeys.store import allowed_actions

        stored = self.store.require(name)
        versions = self.store.versions(name)
        public = self._public(stored)
        public["versions"] = [
            {
                "version": v.version,
                "created_by": v.created_by,
                "created_at": _iso(v.created_at),
                "approved": v.version == stored.approved_version,
                "live": v.version == stored.live_version,
            }
            for v in versions
        ]
        live = stored.live_version
        public["live_definition"] = (
            next(v.document for v in versions if v.version == live)
            if live is not None and live != stored.version
            else None
        )
        public["enrolments"] = self.store.enrolment_counts(stored.id)
        public["actions"] = allowed_actions(stored.status)
        return public

    def enrolments(
        self, name: str, *, state: str | None = None, limit: int = ENROLMENT_LIMIT
    ) -> dict[str, Any]:
        """The newest enrolments (``state``: only those), with where each one is."""
        from sqlalchemy import func

        from omnichannel.opstore.models import EnrolmentState, JourneyEnrolment

        stored = self.store.require(name)
        wanted = None
        if state is not None:
            try:
                wanted = EnrolmentState(state)
            except ValueError:
                accepted = ", ".join(s.value for s in EnrolmentState)
                raise ValidationError("state", state, f"one of {accepted}") from None
        if limit < 1:
            raise ValidationError("limit", limit, "a number of enrolments of at least 1")
        e = JourneyEnrolment
        where = [e.journey_id == stored.id, *([e.state == wanted] if wanted else [])]
        with self._platform.opstore.session() as session:
            total = session.scalar(select(func.count()).select_from(e).where(*where)) or 0
            rows = session.scalars(
                select(e).where(*where).order_by(e.entered_at.desc(), e.id.desc()).limit(limit)
            ).all()
            listed = [_enrolment(row) for row in rows]
        return {"journey": stored.name, "state": state, "total": int(total), "enrolments": listed}

    def stats(self, name: str) -> dict[str, Any]:
        """Counts per step and branch, entries and exits, conversions, holdout vs treated."""
        from omnichannel.journeys.stats import journey_stats

        stored = self.store.require(name)
        return journey_stats(self._platform.opstore, stored)

    def simulate(
        self,
        subject: Document | JourneyDefinition,
        *,
        days: int = 7,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A dry run over the last ``days`` of stored events: who would enter, reach each
        step, take each branch and be sent what. Sends nothing and writes nothing.

        ``subject`` is a journey's name (its newest version) or a document."""
        from omnichannel.journeys.simulate import simulate

        definition = self._definition(subject)
        self._check_installation(definition)
        return simulate(self._platform, definition, days=days, now=now)

    # --- helpers ---------------------------------------------------------------------

    def _definition(self, subject: Document | JourneyDefinition) -> JourneyDefinition:
        from omnichannel.journeys.store import NAME

        if isinstance(subject, str) and NAME.match(subject):
            return self.store.require(subject).definition
        definition: JourneyDefinition = definition_of(subject)
        return definition

    def _wake_if_running(self) -> None:
        if "runtime" in self.__dict__:
            self.runtime.wake()

    def _check_installation(self, definition: JourneyDefinition) -> None:
        """Templates, channels, segments and entered journeys exist and fit; the first
        problem is raised, naming its path."""
        from omnichannel.journeys.definition import (
            ConditionStep,
            EnterStep,
            SendStep,
            WaitSendTimeStep,
            WebhookStep,
        )

        entry = definition.entry
        if entry.segment is not None:
            which = "entered" if entry.segment.entered else "exited"
            self._check_segment(f"entry.segment.{which}", entry.segment.segment)
        if entry.schedule is not None and entry.schedule.segment is not None:
            self._check_segment("entry.schedule.segment", entry.schedule.segment)
        if entry.audience is not None:
            self._check_segment("entry.audience", entry.audience)
        for name, step in definition.steps.items():
            at = f"steps.{name}"
            if isinstance(step, SendStep):
                self._check_channel(f"{at}.send.channel", step.send.channel)
                if step.send.template is not None:
                    self._check_template(at, step.send.channel, step.send)
            elif isinstance(step, WebhookStep):
                self._check_endpoint(f"{at}.webhook.endpoint", step.webhook.endpoint)
            elif isinstance(step, WaitSendTimeStep):
                from omnichannel.channels import registry

                try:
                    registry.known(step.wait_send_time.channel)
                except ValidationError as exc:
                    raise ValidationError(
                        f"{at}.wait_send_time.channel", exc.value, exc.accepted
                    ) from None
            elif isinstance(step, ConditionStep):
                from omnichannel.segments.definition import SegmentCondition, walk

                for node in walk(step.condition):
                    if isinstance(node, SegmentCondition):
                        self._check_segment(f"{at}.condition.segment", node.segment)
            elif isinstance(step, EnterStep):
                self._check_entered(f"{at}.enter.journey", step.enter.journey, definition.name)

    def _check_segment(self, path: str, segment: str) -> None:
        if self._platform.segments.store.get(segment) is None:
            raise ValidationError(
                path, segment, "the name of an existing segment (see `omni segments list`)"
            )

    def _check_channel(self, path: str, channel: str) -> None:
        from omnichannel.channels import registry

        config = self._platform.messages.config
        try:
            registry.known(channel)
            config.channel(channel)
        except ValidationError as exc:
            raise ValidationError(path, channel, exc.accepted) from None
        except ConfigError as exc:
            raise ValidationError(
                path, channel, f"a channel configured in channels.yaml ({exc})"
            ) from None
        # omni serve starts a worker only for the enabled sections of channels.yaml: a
        # message on any other channel would wait in the outbox for ever.
        if channel not in config.enabled():
            where = config.source or "channels.yaml"
            state = (
                "is disabled (enabled: false)"
                if channel in config.configured()
                else "has no section"
            )
            raise ValidationError(
                path,
                channel,
                f"a channel enabled in {where} ({channel} {state}; enabled: "
                f"{', '.join(config.enabled()) or 'none'})",
            )

    def _check_template(self, at: str, channel: str, send: Any) -> None:
        path = f"{at}.send.template"
        try:
            found = self._platform.templates.store.get(send.template)
        except NotFoundError:
            raise ValidationError(
                path, send.template, "the name of an existing template (see `omni templates list`)"
            ) from None
        if found.channel != channel:
            raise ValidationError(
                path,
                send.template,
                f"a template for the {channel} channel ({send.template!r} is for {found.channel})",
            )
        if found.archived_at is not None and send.template_version is None:
            raise ValidationError(path, send.template, "a template that is not archived")
        if send.template_version is not None and send.template_version > found.current_version:
            raise ValidationError(
                f"{at}.send.template_version",
                send.template_version,
                f"a version of {send.template!r} (1-{found.current_version})",
            )

    def _check_endpoint(self, path: str, endpoint: str) -> None:
        self._check_channel(path.rsplit(".", 1)[0], "webhook")
        settings: Any = self._platform.messages.config.channel("webhook")
        endpoints = sorted(getattr(settings, "endpoints", {}) or {})
        if endpoint not in endpoints:
            raise ValidationError(
                path,
                endpoint,
                f"an endpoint of the webhook channel in channels.yaml "
                f"({', '.join(endpoints) or 'none configured'})",
            )

    def _check_entered(self, path: str, journey: str, own: str) -> None:
        if journey == own:
            raise ValidationError(path, journey, "another journey (a journey cannot enter itself)")
        if self.store.get(journey) is None:
            raise ValidationError(
                path, journey, "the name of an existing journey (see `omni journeys list`)"
            )

    @staticmethod
    def _public(stored: StoredJourney) -> dict[str, Any]:
        definition = stored.latest.document
        return {
            "name": stored.name,
            "description": stored.description,
            "status": stored.status.value,
            "version": stored.version,
            "approved_version": stored.approved_version,
            "live_version": stored.live_version,
            # A saved version newer than the approved one awaits approval.
            "pending_approval": stored.version != stored.approved_version,
            "entry": next((k for k in ENTRY_KINDS if k in definition.get("entry", {})), None),
            "definition": definition,
            "created_by": stored.created_by,
            "version_by": stored.latest.created_by,
            "approved_by": stored.approved_by,
            "approved_at": _iso(stored.approved_at),
            "started_at": _iso(stored.started_at),
            "created_at": _iso(stored.created_at),
            "updated_at": _iso(stored.updated_at),
        }


def _enrolment(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "journey_version": int(row.journey_version),
        "subject": row.subject,
        "profile_id": row.profile_id,
        "entry_key": row.entry_key,
        "entry_ref": row.entry_ref,
        "state": row.state.value if hasattr(row.state, "value") else str(row.state),
        "step": row.step,
        "visit": int(row.visit),
        "due_at": _iso(row.due_at),
        "wait_event": row.wait_event,
        "arm": row.arm,
        "entered_at": _iso(row.entered_at),
        "converted_at": _iso(row.converted_at),
        "exit_reason": row.exit_reason,
        "finished_at": _iso(row.finished_at),
    }
