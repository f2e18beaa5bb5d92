"""What people do with a message after it is sent: opens, clicks, unsubscribes, bounces.

Opens and clicks are email's (the pixel and the click redirects of its HTML); the
unsubscribe link is every channel's (``{{ unsubscribe_url }}`` in an SMS, a push, a
WeChat message, an inbox message, a webhook body): it records the opt-out on the
message's own channel.

``platform.engagement`` turns each into the three records a marketer reads:

- a ``deliveries`` row (``opened``, ``clicked``, ``unsubscribed``, ``bounced``,
  ``complained``), tied to the outbox message, so funnels count exposure per campaign;
- a Segment track call (``Email Opened``, ``Email Link Clicked``, ``Email Unsubscribed``;
  ``Message Unsubscribed`` with ``properties.channel`` for the other channels)
  handed to ``emit``, which in the server is the collector's own ingest path (the durable
  event log, then the loader), so segments and journeys see them like any event. The call
  names the person as the warehouse knows them: their ``userId`` when the profile has one,
  else one of their anonymous ids, else an anonymous id made from the address plus an
  ``identify`` call tying it to the address, so identity resolution attributes the events
  to the profile that holds the address;
- for unsubscribes, consent ``unsubscribed`` on the channel (on the address and the
  profile); for hard bounces and complaints, a suppression of the address.

Bounce and complaint reports arrive in the shapes providers send (``bounces.py``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.channels.bounces import BounceReport
from omnichannel.channels.deliveries import DeliveryEvent
from omnichannel.channels.tracking import Link, LinkKind, Tracking, tracking_for
from omnichannel.errors import NotFoundError
from omnichannel.opstore.consent import PROFILE_SUBJECT, set_consent
from omnichannel.opstore.models import ConsentStatus, OutboxMessage

if TYPE_CHECKING:
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

# Hands Segment calls to the collector's ingest path as ``source`` (the server gives one):
# the source is the message's channel, so an SMS unsubscribe is an event of source ``sms``.
Emit = Callable[[str, Sequence[Mapping[str, Any]]], None]
EVENT_NAMES: dict[str, str] = {
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "unsubscribe": "Email Unsubscribed",
}
# An unsubscribe link of another channel (an SMS, a push...): one event name with
# ``properties.channel``, as replies are ``Message Received`` whatever their channel.
OTHER_UNSUBSCRIBE = "Message Unsubscribed"
# Address types a person can be recognised by when the message had no profile.
TRAIT_TYPES = frozenset({"email", "phone"})
SOURCE = "email"  # the source of bounce reports kept as dead letters (email's alone)
ACTOR = "unsubscribe link"


@dataclass(frozen=True)
class Message:
    """The outbox message a link or a report is about."""

    outbox_id: int
    channel: str
    address: str
    profile_id: str | None
    campaign: str | None
    template: str | None
    template_version: int | None
    row: OutboxMessage


def anonymous_id_for(address: str) -> str:
    """A stable anonymous id for an address seen only through a message (never the address
    itself: event tables are read by more people than the consent table)."""
    return "omni-email-" + hashlib.sha256(address.lower().encode("utf-8")).hexdigest()[:24]


def mask(address: str) -> str:
    """``a***@mail.cn``: enough for a person to recognise their address on a page."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else address[:2] + "***"


class EngagementCapability:
    """``platform.engagement``: record opens, clicks, unsubscribes and bounce reports."""

    def __init__(self, platform: Platform, tracking: Tracking | None = None) -> None:
        self._platform = platform
        self._tracking = tracking

    def now(self) -> datetime:
        """When an open, click or unsubscribe happens: the platform's clock, the one its
        journeys run on (``JourneyRuntime.clock``: the real clock, or a virtual one such as
        the demo's), so what people do with a message is on the clock that sent it."""
        from omnichannel.journeys.trigger import clock_of

        return clock_of(self._platform)

    @property
    def tracking(self) -> Tracking:
        if self._tracking is None:
            self._tracking = tracking_for(self._platform)
        return self._tracking

    # --- links ---------------------------------------------------------------------

    def message_of(self, outbox_id: int) -> Message | None:
        with self._platform.opstore.session() as session:
            row = session.get(OutboxMessage, outbox_id)
            if row is None:
                return None
            return Message(
                outbox_id=int(row.id),
                channel=row.channel,
                address=row.address,
                profile_id=row.profile_id,
                campaign=row.campaign,
                template=row.template,
                template_version=row.template_version,
                row=row,
            )

    def _link(self, token: str, kind: LinkKind) -> tuple[Link, Message | None]:
        link = self.tracking.read(token, kind)
        return link, self.message_of(link.outbox_id)

    def opened(
        self, token: str, *, emit: Emit | None = None, context: Mapping[str, Any] | None = None
    ) -> Message | None:
        """An open pixel was fetched: ``opened`` and ``Email Opened``."""
        _, message = self._link(token, "open")
        if message is not None:
            self._record(message, "opened")
            self._emit(message, "open", emit, context=context)
        return message

    def clicked(
        self, token: str, *, emit: Emit | None = None, context: Mapping[str, Any] | None = None
    ) -> str:
        """A tracked link was followed: ``clicked`` and ``Email Link Clicked``; the target."""
        link, message = self._link(token, "click")
        assert link.url is not None
        if message is not None:
            self._record(message, "clicked", detail=link.url)
            self._emit(message, "click", emit, context=context, url=link.url)
        return link.url

    def unsubscribe_target(self, token: str) -> dict[str, Any]:
        """What an unsubscribe link is for (the confirmation page shows it; nothing changes)."""
        _, message = self._link(token, "unsubscribe")
        if message is None:
            raise NotFoundError("this unsubscribe link's message no longer exists")
        return {"channel": message.channel, "address": mask(message.address)}

    def unsubscribe(
        self,
        token: str,
        *,
        one_click: bool = False,
        emit: Emit | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Consent ``unsubscribed`` on the message's channel for its address and profile."""
        _, message = self._link(token, "unsubscribe")
        if message is None:
            raise NotFoundError("this unsubscribe link's message no longer exists")
        from omnichannel.channels.suppressions import normalise_address

        source = "list_unsubscribe_one_click" if one_click else "unsubscribe_link"
        # As the send path compares them: email case-insensitively, a push token or an
        # OpenID exactly as given.
        address = normalise_address(message.channel, message.address)
        subjects = []
        if self._has_address_type(message) or not message.profile_id:
            subjects.append((self._subject_type(message), address))
        # A webhook's address is an endpoint many people share: only the person opts out.
        if message.profile_id:
            subjects.append((PROFILE_SUBJECT, message.profile_id))
        with self._platform.opstore.session() as session:
            for subject_type, value in subjects:
                set_consent(
                    session,
                    subject_type=subject_type,
                    subject_value=value,
                    channel=message.channel,
                    status=ConsentStatus.UNSUBSCRIBED,
                    source=source,
                    actor=ACTOR,
                )
        self._record(message, "unsubscribed", reason=source)
        self._emit(message, "unsubscribe", emit, context=context)
        return {"channel": message.channel, "address": mask(message.address), "source": source}

    @staticmethod
    def _address_types(message: Message) -> tuple[str, ...]:
        from omnichannel.channels import registry

        try:
            return tuple(getattr(registry.adapter_class(message.channel), "address_types", ()))
        except (ImportError, AttributeError):
            return ()

    def _has_address_type(self, message: Message) -> bool:
        return bool(self._address_types(message))

    def _subject_type(self, message: Message) -> str:
        """The identifier type of the message's address (``email``, ``phone``,
        ``push_token``...), or the channel's name where addresses are not people's."""
        types = self._address_types(message)
        return str(types[0]) if types else message.channel

    # --- bounces and complaints ----------------------------------------------------

    def reports(self, reports: Sequence[BounceReport], *, source: str) -> dict[str, Any]:
        """Apply parsed bounce/complaint reports: suppressions and the delivery log."""
        from omnichannel.channels.suppressions import add_suppression

        counts = {"bounced": 0, "complained": 0, "delivered": 0, "suppressed": 0}
        events: list[DeliveryEvent] = []
        by_id = self._messages(r.outbox_id for r in reports)
        now = self.now()
        with self._platform.opstore.session() as session:
            for report in reports:
                if report.event is None:
                    continue
                counts[report.event] += 1
                message = by_id.get(report.outbox_id) if report.outbox_id is not None else None
                if report.suppress:
                    add_suppression(
                        session,
                        channel="email",
                        address=report.address,
                        reason=report.suppression_reason,
                        actor="bounce webhook",
                        source=source,
                        detail=report.detail(),
                    )
                    counts["suppressed"] += 1
                if message is not None:
                    events.append(
                        DeliveryEvent.of(
                            message.row,
                            report.event,
                            reason=report.reason,
                            detail=report.description,
                            at=report.at or now,
                        )
                    )
                else:
                    events.append(
                        DeliveryEvent(
                            outbox_id=report.outbox_id,
                            event=report.event,
                            channel="email",
                            address=report.address,
                            reason=report.reason,
                            detail=report.description,
                            at=report.at or now,
                        )
                    )
        self._platform.messages.record(events)
        return counts

    def _messages(self, ids: Any) -> dict[int, Message]:
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        with self._platform.opstore.session() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(wanted))).all()
            return {
                int(r.id): Message(
                    int(r.id),
                    r.channel,
                    r.address,
                    r.profile_id,
                    r.campaign,
                    r.template,
                    r.template_version,
                    r,
                )
                for r in rows
            }

    # --- records ---------------------------------------------------------------------

    def _record(self, message: Message, event: str, **changes: Any) -> None:
        self._platform.messages.record(
            [DeliveryEvent.of(message.row, event, at=self.now(), **changes)]
        )

    def _emit(
        self,
        message: Message,
        kind: str,
        emit: Emit | None,
        *,
        context: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> None:
        if emit is None:
            return
        try:
            emit(message.channel, self.calls(message, kind, context=context, url=url))
        except Exception:
            # The delivery log has it; the event stream missing one open must not turn a
            # person's click into an error page.
            log.exception(
                "could not hand the %s event of message %s to the collector",
                kind,
                message.outbox_id,
            )

    def calls(
        self,
        message: Message,
        kind: str,
        *,
        context: Mapping[str, Any] | None = None,
        url: str | None = None,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The Segment calls for one open / click / unsubscribe of ``message``."""
        at = at or self.now()
        who, identify = self._who(message, at)
        address_type = self._subject_type(message)
        traits = {address_type: message.address} if address_type in TRAIT_TYPES else {}
        properties: dict[str, Any] = {
            "outbox_id": message.outbox_id,
            "channel": message.channel,
            "campaign": message.campaign,
            "template": message.template,
            "template_version": message.template_version,
        }
        if url is not None:
            properties["url"] = url
        call_context: dict[str, Any] = {
            **(context or {}),
            "traits": traits,
            "campaign": {
                "name": message.campaign,
                "source": "omnichannel",
                "medium": message.channel,
            },
        }
        name = EVENT_NAMES[kind]
        if message.channel != "email" and kind == "unsubscribe":
            name = OTHER_UNSUBSCRIBE
        track = {
            "type": "track",
            "event": name,
            "messageId": f"omni-{kind}-{message.outbox_id}-{uuid.uuid4().hex[:12]}",
            "timestamp": at.isoformat(),
            "channel": message.channel,
            "properties": properties,
            "context": call_context,
            **who,
        }
        return [*identify, track]

    def _who(self, message: Message, at: datetime) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """How the events name the person, and an identify call when they need one."""
        if message.profile_id:
            ids = self._profile_ids(message.profile_id)
            if ids.get("user_id"):
                return {"userId": ids["user_id"]}, []
            if ids.get("anonymous_id"):
                return {"anonymousId": ids["anonymous_id"]}, []
        address_type = self._subject_type(message)
        if address_type == "phone":
            from omnichannel.channels.provider_events import sms_anonymous_id

            anonymous = sms_anonymous_id(message.address)  # the one an SMS reply gets
        else:
            anonymous = anonymous_id_for(message.address)
        if address_type not in TRAIT_TYPES:
            # A device token or an OpenID is no trait identity resolution can link by.
            return {"anonymousId": anonymous}, []
        identify = {
            "type": "identify",
            # One identify per address: the loader dedupes the repeats by messageId.
            "messageId": f"omni-identify-{anonymous}",
            "anonymousId": anonymous,
            "traits": {address_type: message.address},
            "timestamp": at.isoformat(),
        }
        return {"anonymousId": anonymous}, [identify]

    def _profile_ids(self, profile_id: str) -> dict[str, str]:
        return linked_event_ids(self._platform, profile_id)


def linked_event_ids(platform: Platform, profile_id: str) -> dict[str, str]:
    """A profile's first linked user id and anonymous id: what an event about them carries
    (one point read per open or answer: plain SQL on DuckDB/PostgreSQL, where compiling
    an Ibis expression costs more)."""
    with platform.warehouse.reader() as wh:
        if wh.engine in ("duckdb", "postgres"):
            from omnichannel.profiles.timeline_sql import query

            rows = query(
                wh,
                "SELECT id_type, id_value FROM profile_identifiers WHERE profile_id = ? "
                "AND status = 'linked' AND id_type IN ('user_id', 'anonymous_id') "
                "ORDER BY id_type, id_value",
                [profile_id],
            )
        else:
            pi = wh.table("profile_identifiers")
            mine = pi.filter(
                pi.profile_id == profile_id,
                pi.status == "linked",
                pi.id_type.isin(["user_id", "anonymous_id"]),
            ).order_by(["id_type", "id_value"])
            rows = mine.select("id_type", "id_value").to_pyarrow().to_pylist()
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row["id_type"], row["id_value"])
    return found
