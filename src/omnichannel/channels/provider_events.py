"""What SMS and WeChat providers tell us after a send, and what people text or write back.

The routes in api/routes/provider_hooks.py verify each request's signature and hand its
fields here; this module turns them into the records a marketer reads:

- **Twilio status callbacks** (``MessageStatus`` ``delivered`` / ``undelivered`` /
  ``failed`` for a ``MessageSid``): ``delivered`` or ``failed`` (with Twilio's
  ``ErrorCode``) in ``deliveries`` for the outbox message that got that sid; an unknown or
  landline destination (30005, 30006) also suppresses the number on ``sms``.
- **Inbound SMS** (``From``, ``Body``): a ``Message Received`` track call (properties
  ``channel: sms`` and ``text``, what segments' message conditions read) through the
  collector's durable log; STOP / UNSUBSCRIBE / TD (and START to opt back in) also set the
  number's consent on ``sms``, and the profile's when the number belongs to one.
- **WeChat events**: ``TEMPLATESENDJOBFINISH`` (``success`` → ``delivered``;
  ``failed:user block`` → ``failed`` and the OpenID's consent on ``wechat`` unsubscribed,
  the person having blocked the account's messages; other failures → ``failed``);
  ``unsubscribe`` (unfollowed: consent unsubscribed, ``WeChat Unfollowed`` event);
  ``subscribe`` (``WeChat Followed``); a text message (``Message Received``, channel
  ``wechat``).

The person in an event is named as the warehouse knows them: the profile's ``userId``
when the address belongs to a profile that has one; otherwise for WeChat the OpenID as
``anonymousId`` of source ``wechat`` (the identity rules type it ``wechat_openid``), and
for SMS an anonymous id made from the number plus an ``identify`` call carrying
``traits.phone``, so identity resolution attributes the events to the number's profile.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.channels.deliveries import DeliveryEvent
from omnichannel.channels.provider_consent import ACTOR, record_decision
from omnichannel.channels.sms import DEAD_NUMBER_ERRORS, FINAL_STATES, keyword_of
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import ConsentStatus, OutboxMessage
from omnichannel.segments.definition import MESSAGE_EVENT  # what message conditions read

if TYPE_CHECKING:
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

# Hands Segment calls to the collector's durable log as ``source`` (the server gives one).
Emit = Callable[[str, Sequence[Mapping[str, Any]]], None]
WECHAT_SOURCE = "wechat"
SMS_SOURCE = "sms"
WECHAT_FINISHED = "TEMPLATESENDJOBFINISH"
BLOCKED = "failed:user block"


def _now() -> datetime:
    return datetime.now(UTC)


def sms_anonymous_id(phone: str) -> str:
    """A stable anonymous id for a number seen only through a text (never the number itself)."""
    return "omni-sms-" + hashlib.sha256(phone.encode("utf-8")).hexdigest()[:24]


class ProviderEvents:
    """Provider callbacks applied to one installation (see the module docstring)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- what became of a message --------------------------------------------------

    def _message(self, channel: str, provider_message_id: str) -> OutboxMessage | None:
        if not provider_message_id:
            return None
        with self._platform.opstore.session() as session:
            row = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.provider_message_id == provider_message_id,
                )
            ).first()
            if row is not None:
                session.expunge(row)
            return row

    def sms_status(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A Twilio status callback; returns what was recorded (``event`` None: nothing)."""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        event = FINAL_STATES.get(status)
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        message = self._message("sms", sid)
        if event is None or message is None:
            return {"event": None, "status": status, "outbox_id": message.id if message else None}
        code = params.get("ErrorCode") or None
        reason = f"twilio {code}" if code else None
        self._platform.messages.record(
            [
                DeliveryEvent.of(
                    message,
                    event,
                    reason=reason,
                    detail=f"Twilio MessageStatus={status}"
                    + (f", ErrorCode={code}" if code else ""),
                )
            ]
        )
        suppressed = False
        if event == "failed" and code in DEAD_NUMBER_ERRORS:
            from omnichannel.channels.suppressions import add_suppression

            with self._platform.opstore.session() as session:
                add_suppression(
                    session,
                    channel="sms",
                    address=message.address,
                    reason="invalid_address",
                    actor=ACTOR,
                    source=f"twilio {code}",
                )
            suppressed = True
        return {"event": event, "status": status, "outbox_id": message.id, "suppressed": suppressed}

    # --- what people send us -------------------------------------------------------

    def sms_inbound(self, params: Mapping[str, str], emit: Emit | None) -> dict[str, Any]:
        """An inbound text: a ``Message Received`` event; STOP/START change consent."""
        phone = (params.get("From") or "").strip()
        text = params.get("Body") or ""
        if not phone:
            from omnichannel.errors import ValidationError

            raise ValidationError("From", phone, "the sender's number, as Twilio posts it")
        profile_id, user_id = self._person("phone", phone)
        keyword = keyword_of(text)
        if keyword is not None:
            status = ConsentStatus.UNSUBSCRIBED if keyword == "stop" else ConsentStatus.GRANTED
            self._consent("sms", "phone", phone, profile_id, status, f"sms reply {text.strip()}")
        if emit is not None:
            if user_id:
                who: dict[str, str] = {"userId": user_id}
                calls: list[dict[str, Any]] = []
            else:
                anonymous = sms_anonymous_id(phone)
                who = {"anonymousId": anonymous}
                calls = [
                    {
                        "type": "identify",
                        "messageId": f"omni-identify-{anonymous}",
                        "anonymousId": anonymous,
                        "traits": {"phone": phone},
                        "timestamp": _now().isoformat(),
                    }
                ]
            sid = params.get("MessageSid") or uuid.uuid4().hex
            calls.append(
                self._received(
                    SMS_SOURCE, who, text, message_id=f"omni-sms-in-{sid}", traits={"phone": phone}
                )
            )
            emit(SMS_SOURCE, calls)
        return {"profile_id": profile_id, "keyword": keyword}

    def wechat_callback(self, fields: Mapping[str, str], emit: Emit | None) -> dict[str, Any]:
        """One message or event pushed by the official account's server."""
        openid = fields.get("FromUserName", "")
        kind = fields.get("MsgType", "")
        event = fields.get("Event", "")
        if kind == "event" and event == WECHAT_FINISHED:
            return self._wechat_finished(fields)
        profile_id, user_id = self._person("wechat_openid", openid)
        who = {"userId": user_id} if user_id else {"anonymousId": openid}
        stamp = fields.get("CreateTime") or str(int(_now().timestamp()))
        if kind == "event" and event in ("subscribe", "unsubscribe"):
            if event == "unsubscribe":
                self._consent(
                    "wechat",
                    "wechat_openid",
                    openid,
                    profile_id,
                    ConsentStatus.UNSUBSCRIBED,
                    "wechat unfollow",
                )
            if emit is not None:
                name = "WeChat Followed" if event == "subscribe" else "WeChat Unfollowed"
                track = {
                    "type": "track",
                    "event": name,
                    "messageId": f"omni-wechat-{event}-{openid}-{stamp}",
                    "channel": "wechat",
                    "properties": {"channel": "wechat"},
                    **who,
                }
                emit(WECHAT_SOURCE, [track])
            return {"event": event, "profile_id": profile_id}
        if kind == "text":
            if emit is not None:
                msg_id = fields.get("MsgId") or f"{openid}-{stamp}"
                call = self._received(
                    WECHAT_SOURCE,
                    who,
                    fields.get("Content", ""),
                    message_id=f"omni-wechat-in-{msg_id}",
                )
                emit(WECHAT_SOURCE, [call])
            return {"event": "message", "profile_id": profile_id}
        return {"event": None, "ignored": f"{kind}/{event}".strip("/")}

    def _wechat_finished(self, fields: Mapping[str, str]) -> dict[str, Any]:
        message = self._message("wechat", fields.get("MsgID", ""))
        status = fields.get("Status", "")
        if message is None:
            return {"event": None, "status": status, "outbox_id": None}
        event = "delivered" if status == "success" else "failed"
        self._platform.messages.record(
            [
                DeliveryEvent.of(
                    message,
                    event,
                    reason=None if event == "delivered" else "wechat",
                    detail=f"WeChat Status={status}",
                )
            ]
        )
        if status.replace(" ", "") == BLOCKED.replace(" ", ""):
            self._consent(
                "wechat",
                "wechat_openid",
                message.address,
                message.profile_id,
                ConsentStatus.UNSUBSCRIBED,
                "wechat user block",
            )
        return {"event": event, "status": status, "outbox_id": message.id}

    # --- helpers -------------------------------------------------------------------

    def _person(self, id_type: str, value: str) -> tuple[str | None, str | None]:
        """The profile holding ``id_type:value`` and its user id, when there is one."""
        from omnichannel.profiles.lookup import ProfileNotFoundError

        platform = self._platform
        if not value:
            return None, None
        try:
            with platform.warehouse.reader() as wh:
                profile_id = platform.lookup.find(wh, f"{id_type}:{value}").profile_id
                pi = wh.table("profile_identifiers")
                users = pi.filter(
                    pi.profile_id == profile_id, pi.status == "linked", pi.id_type == "user_id"
                ).order_by("id_value")
                rows = wh.query(users.select("id_value").limit(1)).to_pylist()
        except ProfileNotFoundError:
            return None, None
        except Exception:
            # Ambiguous, or an identifier the lookup cannot parse: the event still goes,
            # named by the address, and identity resolution decides later.
            log.warning("provider event: no single profile for %s", id_type, exc_info=True)
            return None, None
        return profile_id, (rows[0]["id_value"] if rows else None)

    def _consent(
        self,
        channel: str,
        id_type: str,
        address: str,
        profile_id: str | None,
        status: ConsentStatus,
        source: str,
    ) -> None:
        store = self._platform.opstore
        record_decision(
            store, channel=channel, id_type=id_type, address=address, status=status, source=source
        )
        if profile_id:
            record_decision(
                store,
                channel=channel,
                id_type=PROFILE_SUBJECT,
                address=profile_id,
                status=status,
                source=source,
            )
        if status == ConsentStatus.UNSUBSCRIBED:
            self._platform.messages.record(
                [
                    DeliveryEvent(
                        outbox_id=None,
                        event="unsubscribed",
                        channel=channel,
                        profile_id=profile_id,
                        address=address,
                        reason=source,
                    )
                ]
            )

    @staticmethod
    def _received(
        source: str,
        who: Mapping[str, str],
        text: str,
        *,
        message_id: str,
        traits: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        call: dict[str, Any] = {
            "type": "track",
            "event": MESSAGE_EVENT,
            "messageId": message_id,
            "timestamp": _now().isoformat(),
            "channel": source,
            "properties": {"channel": source, "text": text},
            **who,
        }
        if traits:
            call["context"] = {"traits": dict(traits)}
        return call
