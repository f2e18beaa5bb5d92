"""The one send path: every message (journeys, campaigns, the API, the CLI, test sends).

For a batch of requests, in this order, each step recording why it holds or drops:

1. idempotency: a request whose key is in the outbox already returns that message;
2. the person: ``profile_id``, or any identifier (``email:ann@example.com``) through the
   Profile lookup, or none (an explicit address only);
3. the address on the channel (``channels.addresses``): the one given, or the person's;
   a person with none is dropped (``no_address``), recorded like any other drop;
4. the rules of ``channels.policy``: consent, suppression, frequency caps, quiet hours;
5. render: the template's current (or given) version, or the request's own content,
   in the sandboxed environment of ``channels.render`` with the person's variables;
6. one ``outbox`` row per message (queued, held or dropped) and its ``deliveries`` row.

Everything for a batch is read at once (identifiers, consent, suppressions, recent
messages, time zones, profile variables), so sending to a segment costs a few queries,
not a few per person. A bad request (an unknown template, an identifier no profile has)
is answered with its error and costs nothing to the others in the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnichannel.channels import addresses as addressing
from omnichannel.channels import policy, registry
from omnichannel.channels.adapter import DEVICES
from omnichannel.channels.deliveries import DeliveryEvent, DeliveryLog
from omnichannel.channels.settings import ChannelsConfig
from omnichannel.channels.suppressions import suppressed_among
from omnichannel.errors import ConfigError, NotFoundError, OmniError, ValidationError
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import MessageKind, OutboxStatus, utcnow

if TYPE_CHECKING:
    from omnichannel.platform import Platform

ORIGINS = ("api", "journey", "campaign", "test", "cli")
NO_ADDRESS = "no_address"


class SendRequest(BaseModel):
    """One message to one person (or address) on one channel.

    Give the person as ``profile_id`` or ``identifier`` (``type:value``, any identifier
    the Profile lookup knows), or only an ``address``; the content as a stored
    ``template`` (optionally a ``template_version``) or as ``content`` (the channel's
    parts, rendered the same way). ``idempotency_key`` makes a retried request enqueue
    once; without one each request is a new message.
    """

    model_config = ConfigDict(extra="forbid")

    channel: str
    profile_id: str | None = None
    identifier: str | None = Field(None, description="type:value, e.g. email:ann@example.com")
    address: str | None = Field(None, description="Send here instead of the person's address.")
    template: str | None = None
    template_version: int | None = Field(None, ge=1)
    content: dict[str, Any] | None = None
    kind: MessageKind | None = Field(
        None, description="marketing or transactional; default: the template's, else marketing."
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)
    origin: str = "api"
    campaign: str | None = Field(None, max_length=200)
    journey_id: int | None = None
    journey_step: str | None = Field(None, max_length=128)
    segment: str | None = None
    timezone: str | None = Field(None, description="The person's IANA zone, if known better.")
    data: dict[str, Any] = Field(default_factory=dict, description="Extra template variables.")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        return registry.known(value)

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if value not in ORIGINS:
            raise ValueError(f"one of {', '.join(ORIGINS)}")
        return value

    def check(self) -> None:
        """What pydantic cannot say field by field: exactly one content source."""
        if (self.template is None) == (self.content is None):
            raise ValidationError(
                "template", self.template, "either a template name or content, not both or neither"
            )
        if self.template_version is not None and self.template is None:
            raise ValidationError("template_version", self.template_version, "a template with it")


@dataclass
class SendResult:
    """What became of one request: its message, or why there is none."""

    index: int
    channel: str
    outbox_id: int | None = None
    status: str | None = None
    reason: str | None = None
    detail: str | None = None
    profile_id: str | None = None
    address: str | None = None
    idempotency_key: str | None = None
    duplicate: bool = False
    error: str | None = None
    error_field: str | None = None
    exception: OmniError | None = None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("index", "exception")}


@dataclass
class _Pending:
    index: int
    request: SendRequest
    key: str
    kind: MessageKind
    profile_id: str | None = None
    address: str | None = None
    verdict: policy.Verdict = policy.PASS
    content: dict[str, Any] = field(default_factory=dict)
    # Every device of the person where a lookup gives several (push tokens), newest first.
    devices: list[str] = field(default_factory=list)
    template_version: int | None = None


class SendPath:
    """Checks, renders and enqueues batches of ``SendRequest`` (see the module docstring)."""

    def __init__(
        self,
        platform: Platform,
        config: ChannelsConfig,
        log: DeliveryLog,
        *,
        on_enqueued: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._platform = platform
        self._config = config
        self._log = log
        self._on_enqueued = on_enqueued

    def send(
        self, requests: Sequence[SendRequest], *, now: datetime | None = None
    ) -> list[SendResult]:
        now = now or utcnow()
        results = [SendResult(index=i, channel=r.channel) for i, r in enumerate(requests)]
        pending: list[_Pending] = []
        for i, request in enumerate(requests):
            try:
                request.check()
                pending.append(self._pending(i, request))
            except OmniError as exc:
                _fail(results[i], exc)
        pending = self._skip_duplicates(pending, results)
        with self._platform.warehouse.reader() as wh:
            self._people(wh, pending, results)
            pending = [p for p in pending if results[p.index].error is None]
            identifiers = addressing.identifiers_of(
                wh, [p.profile_id for p in pending if p.profile_id]
            )
            self._addresses(wh, pending, identifiers)
            self._check(pending, identifiers, wh, now)
            self._surveys(pending, now)
            self._render(wh, pending, results)
        pending = [p for p in pending if results[p.index].error is None]
        self._enqueue(pending, results, now)
        return results

    # --- the steps ---------------------------------------------------------------------

    def _pending(self, index: int, request: SendRequest) -> _Pending:
        try:
            self._config.channel(request.channel)  # a message no worker could send waits forever
        except ConfigError as exc:
            raise ValidationError(
                "channel", request.channel, f"a configured channel ({exc})"
            ) from None
        if request.origin == "test":
            allowed = self._config.test_recipients.get(request.channel, [])
            if request.address is None or request.address.strip() not in allowed:
                raise ValidationError(
                    "address",
                    request.address,
                    f"one of the test recipients of {request.channel} in channels.yaml "
                    f"({', '.join(allowed) or 'none configured: add test_recipients.'}"
                    f"{'' if allowed else request.channel})",
                )
        kind = request.kind
        if kind is None and request.template is not None:
            kind = MessageKind(self._platform.templates.store.get(request.template).kind)
        return _Pending(
            index=index,
            request=request,
            key=request.idempotency_key or f"omni:{uuid.uuid4().hex}",
            kind=kind or MessageKind.MARKETING,
        )

    def _skip_duplicates(
        self, pending: list[_Pending], results: list[SendResult]
    ) -> list[_Pending]:
        from omnichannel.channels.queue import existing

        with self._platform.opstore.session() as session:
            found = existing(session, [p.key for p in pending])
            for p in pending:
                row = found.get(p.key)
                if row is not None:
                    _fill(results[p.index], row, duplicate=True)
        fresh: list[_Pending] = []
        seen: set[str] = set()
        for p in pending:
            if p.key in found:
                continue
            if p.key in seen:  # the same key twice in one batch: the first one counts
                results[p.index].duplicate = True
                results[p.index].idempotency_key = p.key
                continue
            seen.add(p.key)
            fresh.append(p)
        return fresh

    def _people(self, wh: Any, pending: list[_Pending], results: list[SendResult]) -> None:
        from omnichannel.profiles.lookup import ProfileNotFoundError

        for p in pending:
            r = p.request
            if r.identifier is not None:
                try:
                    p.profile_id = self._platform.lookup.find(wh, r.identifier).profile_id
                except ProfileNotFoundError as exc:
                    _fail(results[p.index], NotFoundError(str(exc)), "identifier")
                    continue
                except OmniError as exc:
                    _fail(results[p.index], exc, "identifier")
                    continue
            else:
                p.profile_id = r.profile_id
            if p.profile_id is None and r.address is None:
                _fail(
                    results[p.index],
                    ValidationError(
                        "profile_id", None, "a profile_id, an identifier or an address"
                    ),
                )

    def _addresses(
        self, wh: Any, pending: list[_Pending], identifiers: dict[str, list[tuple[str, str]]]
    ) -> None:
        by_channel: dict[str, list[_Pending]] = {}
        for p in pending:
            if p.request.address is not None:
                p.address = p.request.address.strip()
            else:
                by_channel.setdefault(p.request.channel, []).append(p)
        for channel, group in by_channel.items():
            adapter: Any = registry.adapter_class(channel)
            default = getattr(adapter, "default_address", None)
            fallback = default(self._config.channel(channel)) if default is not None else None
            ids = [p.profile_id for p in group if p.profile_id]
            lookup = getattr(adapter, "lookup_addresses", None)
            if lookup is not None:
                found = lookup(wh, ids, rules=self._platform.config.rules)
            else:
                mine = {pid: identifiers.get(pid, []) for pid in ids}
                found = addressing.addresses_from(mine, adapter.address_types)
            for p in group:
                address = found.get(p.profile_id or "")
                if isinstance(address, list):
                    p.devices = list(address)
                    address = address[0] if address else None
                p.address = address or fallback
                if p.address is None:
                    p.verdict = policy.Verdict(
                        OutboxStatus.DROPPED,
                        NO_ADDRESS,
                        f"the profile has no {' or '.join(adapter.address_types) or 'address'} "
                        f"to send {channel} to",
                    )

    def _check(
        self,
        pending: list[_Pending],
        identifiers: dict[str, list[tuple[str, str]]],
        wh: Any,
        now: datetime,
    ) -> None:
        config = self._config
        live = [p for p in pending if p.verdict.status != OutboxStatus.DROPPED]
        subjects: dict[int, list[policy.Subject]] = {}
        for p in live:
            adapter: Any = registry.adapter_class(p.request.channel)
            address_types = adapter.address_types
            mine: list[policy.Subject] = []
            if p.profile_id:
                mine.append((PROFILE_SUBJECT, p.profile_id))
                mine.extend(identifiers.get(p.profile_id, []))
            mine.extend((t, p.address or "") for t in address_types[:1])
            subjects[p.index] = mine
        marketing = [
            p for p in live if p.kind == MessageKind.MARKETING and p.request.origin != "test"
        ]
        capped = {p.index for p in marketing}
        window = policy.longest_window(config)
        zones: dict[str, str] = {}
        needs_zone = [
            p.profile_id
            for p in marketing
            if p.profile_id
            and p.request.timezone is None
            and config.quiet_hours.window(p.request.channel)
        ]
        if needs_zone:
            zones = addressing.timezones_of(
                wh, {pid: identifiers.get(pid, []) for pid in needs_zone}
            )
        with self._platform.opstore.session() as session:
            decisions: dict[str, dict[policy.Subject, Any]] = {}
            suppressed: dict[str, dict[str, Any]] = {}
            for channel in {p.request.channel for p in live}:
                group = [p for p in live if p.request.channel == channel]
                decisions[channel] = policy.load_decisions(
                    session, channel, (s for p in group for s in subjects[p.index])
                )
                suppressed[channel] = suppressed_among(
                    session,
                    channel=channel,
                    addresses=[a for p in group for a in p.devices or [p.address or ""]],
                    now=now,
                )
            history = (
                policy.load_history(
                    session,
                    profile_ids=[p.profile_id for p in marketing if p.profile_id],
                    addresses=[
                        (p.request.channel, p.address or "") for p in marketing if not p.profile_id
                    ],
                    since=now - window,
                )
                if window and marketing
                else {}
            )
        for p in live:
            channel = p.request.channel
            reachable = [d for d in p.devices if d not in suppressed[channel]]
            if reachable:  # a suppressed (uninstalled) device costs the others nothing
                p.devices, p.address = reachable, reachable[0]
            verdict = policy.consent_verdict(config, channel, subjects[p.index], decisions[channel])
            if verdict is None and (p.address or "") in suppressed[channel]:
                row = suppressed[channel][p.address or ""]
                verdict = policy.Verdict(
                    OutboxStatus.DROPPED,
                    "suppression",
                    f"{row.address} is suppressed on {channel} ({row.reason}"
                    f"{', ' + row.source if row.source else ''})",
                )
            counted = p.index in capped
            if verdict is None and counted and window:
                sent = history.setdefault(p.profile_id or f"{channel}:{p.address}", [])
                verdict = policy.cap_verdict(config, channel, sent, now)
                if verdict is None:
                    sent.append(policy.Sent(channel, now))  # later requests in the batch see it
            if verdict is None and counted:
                zone = policy.zone_of(
                    p.request.timezone or zones.get(p.profile_id or ""), config.quiet_hours.timezone
                )
                verdict = policy.quiet_verdict(config, channel, zone, now)
            if verdict is not None:
                p.verdict = verdict

    def _surveys(self, pending: list[_Pending], now: datetime) -> None:
        """Requests with ``data.survey``: the person's signed ``survey_link``, or dropped
        (``survey_fatigue``) when asked a survey too recently (``surveys/sending.py``)."""
        asking = [
            p
            for p in pending
            if p.verdict.status != OutboxStatus.DROPPED
            and isinstance((p.request.data or {}).get("survey"), str)
        ]
        if asking:
            from omnichannel.surveys.sending import attach_links

            attach_links(self._platform, asking, now)

    def _render(self, wh: Any, pending: list[_Pending], results: list[SendResult]) -> None:
        from omnichannel.channels.render import (
            TemplateError,
            message_context,
            profile_contexts,
            render_parts,
        )

        live = [p for p in pending if p.verdict.status != OutboxStatus.DROPPED]
        people = profile_contexts(wh, [p.profile_id for p in live if p.profile_id])
        templates = self._platform.templates
        for p in live:
            r = p.request
            context = {
                **message_context(
                    channel=r.channel,
                    campaign=r.campaign,
                    template=r.template,
                    segment=r.segment,
                    extra=r.data,
                ),
                **people.get(p.profile_id or "", {"profile": {}, "identifiers": {}}),
                "address": p.address,
            }
            if "recommendations" not in (r.data or {}):
                # Fetched only if the template reads it (recommendations/service.py).
                context["recommendations"] = self._platform.recommendations.lazy_items(
                    p.profile_id, r.channel
                )
            try:
                if r.template is not None:
                    stored, p.content = templates.render_for(
                        r.template, context, version=r.template_version
                    )
                    if stored.channel != r.channel:
                        raise ValidationError(
                            "template",
                            r.template,
                            f"a {r.channel} template (it is for {stored.channel})",
                        )
                    p.template_version = stored.version
                else:
                    p.content = render_parts(r.channel, r.content or {}, context)
            except TemplateError as exc:
                if r.template is None:
                    _fail(results[p.index], exc)
                else:
                    # A saved template renders for its sample; not for this person's data.
                    p.verdict = policy.Verdict(OutboxStatus.DROPPED, "render", str(exc))
            except OmniError as exc:
                _fail(results[p.index], exc, "template")

    def _enqueue(self, pending: list[_Pending], results: list[SendResult], now: datetime) -> None:
        from omnichannel.channels.queue import enqueue_many

        rows = [
            {
                "idempotency_key": p.key,
                "channel": p.request.channel,
                "kind": p.kind,
                "profile_id": p.profile_id,
                "address": p.address or "",
                "template": p.request.template,
                "template_version": p.template_version,
                "origin": p.request.origin,
                "campaign": p.request.campaign,
                "journey_id": p.request.journey_id,
                "journey_step": p.request.journey_step,
                "content": {**p.content, DEVICES: p.devices} if len(p.devices) > 1 else p.content,
                "status": p.verdict.status,
                "reason": p.verdict.reason,
                "reason_detail": p.verdict.detail,
                "next_attempt_at": p.verdict.until,
                "created_at": now,
                "updated_at": now,
            }
            for p in pending
        ]
        events: list[DeliveryEvent] = []
        channels: set[str] = set()
        with self._platform.opstore.session() as session:
            self._recount_caps(session, pending, rows, now)
            for p, (row, created) in zip(pending, enqueue_many(session, rows), strict=True):
                _fill(results[p.index], row, duplicate=not created)
                if created:
                    events.append(DeliveryEvent.of(row, p.verdict.status.value, at=now))
                    if p.verdict.status != OutboxStatus.DROPPED:
                        channels.add(p.request.channel)
        self._log.record(events)
        if channels and self._on_enqueued is not None:
            self._on_enqueued(channels)

    def _recount_caps(
        self, session: Any, pending: list[_Pending], rows: list[dict[str, Any]], now: datetime
    ) -> None:
        """Count the caps again under the caps lock, in the transaction that enqueues.

        ``_check`` counted before rendering, outside any lock: another send to the same
        person (a second campaign, another process) may have enqueued since. Counting here
        again, serialised with every other capped enqueue, is what makes a cap hold.
        """
        window = policy.longest_window(self._config)
        capped = [
            (p, row)
            for p, row in zip(pending, rows, strict=True)
            if window
            and p.kind == MessageKind.MARKETING
            and p.request.origin != "test"
            and p.verdict.status != OutboxStatus.DROPPED
        ]
        if not capped:
            return
        policy.lock_caps(session)
        history = policy.load_history(
            session,
            profile_ids=[p.profile_id for p, _ in capped if p.profile_id],
            addresses=[(p.request.channel, p.address or "") for p, _ in capped if not p.profile_id],
            since=now - window,
        )
        for p, row in capped:
            channel = p.request.channel
            sent = history.setdefault(p.profile_id or f"{channel}:{p.address}", [])
            verdict = policy.cap_verdict(self._config, channel, sent, now)
            if verdict is None:
                sent.append(policy.Sent(channel, now))
                continue
            p.verdict = verdict
            row.update(
                status=verdict.status,
                reason=verdict.reason,
                reason_detail=verdict.detail,
                next_attempt_at=verdict.until,
            )


def _fill(result: SendResult, row: Any, *, duplicate: bool) -> None:
    result.outbox_id = row.id
    result.status = getattr(row.status, "value", row.status)
    result.reason = row.reason
    result.detail = row.reason_detail
    result.profile_id = row.profile_id
    result.address = row.address
    result.idempotency_key = row.idempotency_key
    result.duplicate = duplicate


def _fail(result: SendResult, exc: OmniError, field_name: str | None = None) -> None:
    result.error = str(exc)
    result.error_field = getattr(exc, "field", None) or field_name
    result.exception = exc
