"""``platform.messages`` and ``platform.channels``: what the CLI, the API and journeys call.

Example::

    with Platform.open("omni-home") as platform:
        platform.channels.start()                   # a worker per enabled channel
        platform.messages.send(channel="webhook", address="crm",
                               content={"body": {"hello": "{{ address }}"}})
        platform.messages.send_segment("lapsing", channel="email", template="winback",
                                       campaign="winback-2026-12")
        platform.messages.test(channel="email", address="qa@shop.example",
                               template="winback", identifier="email:ann@example.com")
        platform.channels.status()                  # queue depth, error rate, breaker
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from omnichannel.errors import NotFoundError, OmniError, ValidationError

if TYPE_CHECKING:
    from omnichannel.channels.deliveries import DeliveryEvent, DeliveryLog
    from omnichannel.channels.dispatcher import ChannelWorker
    from omnichannel.channels.large_sends import LargeSends
    from omnichannel.channels.send import SendPath, SendRequest
    from omnichannel.channels.settings import ChannelsConfig
    from omnichannel.platform import Platform

SEGMENT_PAGE = 1000
HEALTH_HOURS = 24.0
log = logging.getLogger(__name__)


def request_of(values: SendRequest | Mapping[str, Any]) -> SendRequest:
    """A ``SendRequest`` from keyword values; errors name the field and what is accepted."""
    from omnichannel.channels.send import SendRequest

    if isinstance(values, SendRequest):
        return values
    try:
        return SendRequest.model_validate(dict(values))
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"]) or "request"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"one of the fields of a message ({', '.join(SendRequest.model_fields)})"
        raise ValidationError(name, error.get("input"), message) from None


class MessagesCapability:
    """Send messages through the one send path, and read what became of them."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self._config: ChannelsConfig | None = None

    @property
    def config(self) -> ChannelsConfig:
        """``<home>/channels.yaml``, read once (defaults when there is none)."""
        if self._config is None:
            from omnichannel.channels.settings import FILE_NAME, load_channels_config

            with self._lock:
                if self._config is None:
                    self._config = load_channels_config(
                        self._platform.settings.home_file(FILE_NAME)
                    )
        return self._config

    def use_config(self, config: ChannelsConfig) -> None:
        """Replace the configuration (tests, a reload); running workers keep theirs."""
        self._config = config
        self.__dict__.pop("path", None)

    @cached_property
    def log(self) -> DeliveryLog:
        from omnichannel.channels.deliveries import DeliveryLog

        return DeliveryLog(self._platform.warehouse)

    @cached_property
    def path(self) -> SendPath:
        from omnichannel.channels.send import SendPath

        return SendPath(
            self._platform, self.config, self.log, on_enqueued=self._platform.channels.wake
        )

    # --- sending -----------------------------------------------------------------------

    def send(
        self, request: SendRequest | Mapping[str, Any] | None = None, **values: Any
    ) -> dict[str, Any]:
        """Send one message; returns its outbox id, status (queued/held/dropped) and reason.

        A request with the idempotency key of an earlier one returns that message
        (``duplicate: true``). Errors (an unknown template, an identifier no profile has)
        raise, naming the field.
        """
        result = self.path.send([request_of(request if request is not None else values)])[0]
        if result.exception is not None:
            raise result.exception
        return result.public()

    def send_many(
        self, requests: Iterable[SendRequest | Mapping[str, Any]], *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Send a batch; each answer is its message or its own ``error`` (the others go on)."""
        checked: list[SendRequest | None] = []
        errors: dict[int, str] = {}
        for i, values in enumerate(requests):
            try:
                checked.append(request_of(values))
            except OmniError as exc:
                checked.append(None)
                errors[i] = str(exc)
        good = [r for r in checked if r is not None]
        results = iter(self.path.send(good, now=now))
        answers: list[dict[str, Any]] = []
        for i, request in enumerate(checked):
            if request is None:
                answers.append({"error": errors[i], "status": None, "outbox_id": None})
            else:
                answers.append(next(results).public())
        return answers

    def send_segment(
        self,
        segment: str,
        *,
        channel: str,
        template: str | None = None,
        content: Mapping[str, Any] | None = None,
        campaign: str | None = None,
        kind: str | None = None,
        origin: str = "campaign",
        limit: int | None = None,
        actor: str = "system",
        approved_send: int | None = None,
    ) -> dict[str, Any]:
        """Send to every current member of ``segment``; counts by status and reason.

        With a ``campaign``, each person's idempotency key is the campaign, channel and
        profile, so running the same campaign again reaches nobody twice. A send to more
        than ``OMNI_LARGE_SEND_THRESHOLD`` people queues nothing: it waits for another
        person's approval (``pending_approval: true`` and its ``send_id``; see
        ``approve_send`` and ``channels/large_sends.py``).
        """
        members = self._platform.segments.members(segment, limit=limit)["profile_ids"]
        if approved_send is None and len(members) > self.large_sends.threshold:
            request = {
                "segment": segment,
                "channel": channel,
                "template": template,
                "content": dict(content) if content is not None else None,
                "campaign": campaign,
                "kind": kind,
            }
            registry_check(channel)
            held = self.large_sends.hold(request, len(members), actor=actor)
            return {
                "segment": segment,
                "channel": channel,
                "campaign": campaign,
                "members": len(members),
                "by_status": {},
                "by_reason": {},
                "errors": [],
                "pending_approval": True,
                "send_id": held["id"],
                "threshold": held["threshold"],
            }
        key_of = (
            (lambda pid: f"campaign:{campaign}:{channel}:{pid}")
            if campaign
            else (lambda pid: f"send:{approved_send}:{channel}:{pid}")
            if approved_send is not None
            else (lambda pid: None)
        )
        counts: dict[str, int] = {}
        reasons: dict[str, int] = {}
        errors: list[str] = []
        for start in range(0, len(members), SEGMENT_PAGE):
            page = members[start : start + SEGMENT_PAGE]
            batch = [
                {
                    "channel": channel,
                    "profile_id": pid,
                    "template": template,
                    "content": dict(content) if content is not None else None,
                    "campaign": campaign,
                    "kind": kind,
                    "origin": origin,
                    "segment": segment,
                    "idempotency_key": key_of(pid),
                }
                for pid in page
            ]
            for answer in self.send_many(batch):
                status = "duplicate" if answer.get("duplicate") else answer.get("status") or "error"
                counts[status] = counts.get(status, 0) + 1
                if answer.get("reason") and status in ("held", "dropped"):
                    reasons[answer["reason"]] = reasons.get(answer["reason"], 0) + 1
                if answer.get("error") and len(errors) < 10:
                    errors.append(answer["error"])
        return {
            "segment": segment,
            "channel": channel,
            "campaign": campaign,
            "members": len(members),
            "by_status": counts,
            "by_reason": reasons,
            "errors": errors,
            "pending_approval": False,
            "send_id": approved_send,
            "threshold": self.large_sends.threshold,
        }

    # --- large sends ---------------------------------------------------------------------

    @cached_property
    def large_sends(self) -> LargeSends:
        from omnichannel.channels.large_sends import LargeSends

        return LargeSends(self._platform)

    def sends(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Large sends, newest first: pending_approval, sending, sent or rejected."""
        return self.large_sends.list(status=status, limit=limit)

    def get_send(self, send_id: int) -> dict[str, Any]:
        return self.large_sends.get(send_id)

    def approve_send(self, send_id: int, *, actor: str, note: str = "") -> dict[str, Any]:
        """Approve a large send (not its author's own) and send it now."""
        return self.large_sends.approve(send_id, actor=actor, note=note)

    def reject_send(self, send_id: int, *, actor: str, note: str = "") -> dict[str, Any]:
        """End a pending large send unsent."""
        return self.large_sends.reject(send_id, actor=actor, note=note)

    def test(
        self,
        *,
        channel: str,
        address: str,
        template: str | None = None,
        content: Mapping[str, Any] | None = None,
        identifier: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        """A test send to an allow-listed address (``test_recipients``), rendered for the
        person holding ``identifier`` when one is given; never counted against caps or
        held by quiet hours, always checked for consent and suppression."""
        return self.send(
            channel=channel,
            address=address,
            template=template,
            template_version=version,
            content=dict(content) if content is not None else None,
            identifier=identifier,
            origin="test",
        )

    # --- reading -----------------------------------------------------------------------

    def get(self, outbox_id: int, *, history: bool = True) -> dict[str, Any]:
        """One message: its state, its rendered content, and (``history``) its log rows."""
        from omnichannel.opstore.models import OutboxMessage

        with self._platform.opstore.session() as session:
            row = session.get(OutboxMessage, outbox_id)
            if row is None:
                raise NotFoundError(f"no message with id {outbox_id}")
            data = public_message(row, content=True)
        if history:
            from omnichannel.channels.deliveries import read_log

            self.flush_log()
            data["history"] = [
                _json_ready(r) for r in read_log(self._platform.warehouse, outbox_id)
            ]
        return data

    def list(
        self,
        *,
        channel: str | None = None,
        status: str | None = None,
        campaign: str | None = None,
        profile_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Messages, newest first, filtered by channel, status, campaign or profile."""
        from omnichannel.channels import registry
        from omnichannel.opstore.models import OutboxMessage, OutboxStatus

        query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
        if channel is not None:
            query = query.where(OutboxMessage.channel == registry.known(channel))
        if status is not None:
            accepted = [s.value for s in OutboxStatus]
            if status not in accepted:
                raise ValidationError("status", status, f"one of {', '.join(accepted)}")
            query = query.where(OutboxMessage.status == OutboxStatus(status))
        if campaign is not None:
            query = query.where(OutboxMessage.campaign == campaign)
        if profile_id is not None:
            query = query.where(OutboxMessage.profile_id == profile_id)
        with self._platform.opstore.session() as session:
            rows = session.scalars(query.limit(max(1, min(limit, 1000))).offset(max(0, offset)))
            return [public_message(row) for row in rows]

    def status(self, *, campaign: str | None = None) -> dict[str, Any]:
        """Messages per channel and status (and held/dropped/failed per reason)."""
        from sqlalchemy import func

        from omnichannel.opstore.models import OutboxMessage

        query = select(
            OutboxMessage.channel, OutboxMessage.status, OutboxMessage.reason, func.count()
        ).group_by(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.reason)
        if campaign is not None:
            query = query.where(OutboxMessage.campaign == campaign)
        channels: dict[str, dict[str, Any]] = {}
        with self._platform.opstore.session() as session:
            for channel, status, reason, count in session.execute(query):
                entry = channels.setdefault(channel, {"by_status": {}, "by_reason": {}})
                name = getattr(status, "value", status)
                entry["by_status"][name] = entry["by_status"].get(name, 0) + int(count)
                if reason and name in ("held", "dropped", "failed", "queued"):
                    key = f"{name}:{reason}"
                    entry["by_reason"][key] = entry["by_reason"].get(key, 0) + int(count)
        return {"campaign": campaign, "channels": channels}

    # --- the delivery log --------------------------------------------------------------

    def deliveries(
        self,
        *,
        channel: str | None = None,
        status: str | None = None,
        campaign: str | None = None,
        journey: str | None = None,
        profile_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """The delivery log, newest first, filtered by channel, step (``status``: sent,
        opened, failed...), campaign, journey (name or id) or person; one page of rows
        and the ``total`` that match."""
        from omnichannel.channels import registry
        from omnichannel.channels.deliveries import search_log

        if channel is not None:
            registry.known(channel)
        self.flush_log()
        return search_log(
            self._platform.warehouse,
            channel=channel,
            status=status,
            campaign=campaign,
            journey_id=self._journey_id(journey),
            profile_id=profile_id,
            limit=limit,
            offset=offset,
        )

    def _journey_id(self, journey: str | None) -> str | None:
        if journey is None or journey.isdigit():
            return journey
        from omnichannel.opstore.models import Journey

        with self._platform.opstore.session() as session:
            found = session.scalars(select(Journey.id).where(Journey.name == journey)).first()
        if found is None:
            raise NotFoundError(f"no journey named {journey!r} (see omni journeys list)")
        return str(found)

    def record(self, events: Iterable[DeliveryEvent]) -> None:
        """Append events (opened, clicked, bounced...) to the delivery log (buffered)."""
        self.log.record(events)

    def flush_log(self) -> int:
        """Write the buffered delivery log rows now."""
        if "log" not in self.__dict__:
            return 0
        return self.log.flush()

    def close(self) -> None:
        if "log" in self.__dict__:
            self.log.close()


class ChannelsCapability:
    """The channels' workers: start, stop, wake, and their health."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self.workers: dict[str, ChannelWorker] = {}
        # Channels asked to start that could not (not configured), with why.
        self.errors: dict[str, str] = {}

    def start(
        self, channels: Sequence[str] | None = None, *, poll_seconds: float = 1.0
    ) -> list[str]:
        """Start a worker for each of ``channels`` (default: every enabled one in channels.yaml)."""
        from omnichannel.channels import registry
        from omnichannel.channels.adapter import AdapterContext
        from omnichannel.channels.dispatcher import ChannelWorker

        messages = self._platform.messages
        config = messages.config
        wanted = list(channels) if channels is not None else config.enabled()
        context = AdapterContext(
            public_base_url=config.public_base_url,
            tracking=self._tracking(),
            extra={"opstore": self._platform.opstore, "platform": self._platform},
        )
        started: list[str] = []
        with self._lock:
            for name in wanted:
                registry.known(name)
                if name in self.workers and self.workers[name].running:
                    continue
                try:
                    worker = ChannelWorker(
                        name,
                        config=config,
                        opstore=self._platform.opstore,
                        log_writer=messages.log,
                        context=context,
                        poll_seconds=poll_seconds,
                    )
                except OmniError as exc:  # not configured: the others start all the same
                    self.errors[name] = str(exc)
                    log.error(
                        "channel worker did not start", extra={"channel": name, "error": str(exc)}
                    )
                    continue
                worker.start()
                self.workers[name] = worker
                self.errors.pop(name, None)
                if worker.error is not None:  # its status says why
                    log.error(
                        "channel worker did not start",
                        extra={"channel": name, "error": str(worker.error)},
                    )
                    continue
                started.append(name)
        return started

    def _tracking(self) -> Any:
        try:
            from omnichannel.channels.tracking import tracking_for
        except ImportError:  # the tracking module (email engineer) has not landed
            return None
        return tracking_for(self._platform)

    def wake(self, channels: Iterable[str]) -> None:
        for name in channels:
            worker = self.workers.get(name)
            if worker is not None:
                worker.wake()

    def stop(self) -> None:
        with self._lock:
            workers, self.workers = list(self.workers.values()), {}
        for worker in workers:
            worker.stop()

    def status(self) -> list[dict[str, Any]]:
        """Per channel: enabled, worker running here, queue depth by status, error rate,
        breaker state, counts since the worker started, and the last provider error."""
        from omnichannel.channels import queue, registry

        config = self._platform.messages.config
        with self._platform.opstore.session() as session:
            depth = queue.depth(session)
        names = sorted(set(config.configured()) | set(depth) | set(self.workers) | set(self.errors))
        answers: list[dict[str, Any]] = []
        for name in names:
            if name not in registry.CHANNELS:
                continue
            worker = self.workers.get(name)
            waiting = depth.get(name, {})
            entry: dict[str, Any] = {
                "channel": name,
                "enabled": name in config.enabled(),
                "worker": "running" if worker is not None and worker.running else "stopped",
                "queue_depth": sum(waiting.values()),
                "queued": waiting.get("queued", 0),
                "held": waiting.get("held", 0),
                "sending": waiting.get("sending", 0),
                "breaker": worker.state().value if worker is not None else None,
                "open_breakers": worker.open_addresses() if worker is not None else [],
                "error_rate": None,
                "sent": None,
                "retried": None,
                "failed": None,
                "dropped": None,
                "last_error": None,
            }
            if name in self.errors:
                entry["worker"] = f"stopped: {self.errors[name]}"
            if worker is not None:
                stats = worker.stats
                rate = stats.error_rate()
                entry.update(
                    error_rate=None if rate is None else round(rate, 4),
                    sent=stats.sent,
                    retried=stats.retried,
                    failed=stats.failed,
                    dropped=stats.dropped,
                    last_error=stats.last_error,
                )
                if worker.error is not None:
                    entry["worker"] = f"stopped: {worker.error}"
            answers.append(entry)
        return answers

    def health(self, *, hours: float = HEALTH_HOURS) -> list[dict[str, Any]]:
        """``status()`` plus what the dashboard's channel page shows: the lag of the oldest
        due message, active suppressions, and the delivery log's steps in the last
        ``hours`` (sent, delivered, failed, bounced, dropped, retrying) per channel."""
        from datetime import timedelta

        from omnichannel.channels import registry
        from omnichannel.opstore.models import utcnow

        now = utcnow()
        rows = {row["channel"]: row for row in self.status()}
        with self._platform.opstore.session() as session:
            lag = _waiting_lag(session, now)
            suppressed = _suppressed(session, now)
        recent = _recent_steps(self._platform, now - timedelta(hours=hours))
        names = sorted((set(rows) | set(suppressed) | set(recent)) & set(registry.CHANNELS))
        answers = []
        for name in names:
            steps = recent.get(name, {})
            base = rows.get(name) or {
                "channel": name,
                "enabled": False,
                "worker": "stopped",
                "queue_depth": 0,
                "queued": 0,
                "held": 0,
                "sending": 0,
                "breaker": None,
                "open_breakers": [],
                "error_rate": None,
                "sent": None,
                "retried": None,
                "failed": None,
                "dropped": None,
                "last_error": None,
            }
            answers.append(
                {
                    **base,
                    "lag_seconds": round(lag.get(name, 0.0), 1),
                    "suppressions": suppressed.get(name, 0),
                    "recent_hours": hours,
                    "recent": {step: steps.get(step, 0) for step in _RECENT_STEPS},
                }
            )
        return answers


_RECENT_STEPS = ("sent", "delivered", "failed", "bounced", "dropped", "retrying")


def _waiting_lag(session: Any, now: datetime) -> dict[str, float]:
    """Per channel, how long its oldest due queued message has waited (seconds)."""
    from sqlalchemy import func, type_coerce

    from omnichannel.opstore.models import OutboxMessage, OutboxStatus, UTCDateTime

    due = func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
    query = (
        select(OutboxMessage.channel, type_coerce(func.min(due), UTCDateTime()))
        .where(OutboxMessage.status == OutboxStatus.QUEUED, due <= now)
        .group_by(OutboxMessage.channel)
    )
    return {
        channel: max(0.0, (now - oldest).total_seconds())
        for channel, oldest in session.execute(query)
        if oldest is not None
    }


def _suppressed(session: Any, now: datetime) -> dict[str, int]:
    from sqlalchemy import func, or_

    from omnichannel.opstore.models import Suppression

    query = (
        select(Suppression.channel, func.count())
        .where(or_(Suppression.expires_at.is_(None), Suppression.expires_at > now))
        .group_by(Suppression.channel)
    )
    return {channel: int(count) for channel, count in session.execute(query)}


def _recent_steps(platform: Platform, since: datetime) -> dict[str, dict[str, int]]:
    """Per channel, the delivery log's sent/failed/... rows since ``since``."""
    from omnichannel.channels.deliveries import TABLE

    platform.messages.flush_log()
    with platform.warehouse.reader() as wh:
        t = wh.table(TABLE)
        naive = since.astimezone(UTC).replace(tzinfo=None)
        recent = t.filter(t.at >= naive, t.status.isin(_RECENT_STEPS))
        expr = recent.group_by(["channel", "status"]).aggregate(n=recent.count())
        rows = wh.query(expr).to_pylist()
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        found.setdefault(row["channel"], {})[row["status"]] = int(row["n"])
    return found


def registry_check(channel: str) -> None:
    """An unknown channel is the request's error before anything is stored."""
    from omnichannel.channels import registry

    registry.known(channel)


def public_message(row: Any, *, content: bool = False) -> dict[str, Any]:
    """An outbox row as JSON-ready data."""
    data = {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "channel": row.channel,
        "kind": getattr(row.kind, "value", row.kind),
        "profile_id": row.profile_id,
        "address": row.address,
        "template": row.template,
        "template_version": row.template_version,
        "origin": row.origin,
        "campaign": row.campaign,
        "journey_id": row.journey_id,
        "journey_step": row.journey_step,
        "status": getattr(row.status, "value", row.status),
        "reason": row.reason,
        "reason_detail": row.reason_detail,
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at),
        "provider_message_id": row.provider_message_id,
        "provider_response": row.provider_response,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "sent_at": _iso(row.sent_at),
    }
    if content:
        data["content"] = row.content
    return data


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _json_ready(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
