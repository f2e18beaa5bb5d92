"""Bounce and complaint reports, read from the shapes email providers post them in.

``POST /hooks/email/bounces`` accepts either

- an **event list** in SendGrid's Event Webhook shape (also what many relays and our own
  tools send): ``[{"email", "event", "type", "status", "reason", "smtp-id",
  "timestamp"}, ...]``, or ``{"events": [...]}``. ``event`` is ``bounce`` (``type``
  ``bounce`` is permanent, ``blocked`` temporary; a 5.x.x ``status`` is permanent),
  ``spamreport`` (a complaint), ``delivered``; others (``deferred``, ``dropped``, opens
  and clicks, which our own links record) are ignored;
- an **Amazon SES notification** (``notificationType``/``eventType`` ``Bounce``,
  ``Complaint`` or ``Delivery``), bare or inside its SNS envelope (``{"Type":
  "Notification", "Message": "<json>"}``);
- a **bounce or complaint email** itself (``Content-Type: message/rfc822``): a delivery
  status notification (RFC 3464, ``multipart/report; report-type=delivery-status``, what
  Postfix, Exim and every MTA send back) or an abuse report (RFC 5965 ARF,
  ``report-type=feedback-report``, what mailbox providers' feedback loops send), so a
  bounce mailbox can be piped here (``curl --data-binary @- -H 'Content-Type:
  message/rfc822' ...``).

Each report names its message when it can: our ``Message-ID`` (``<omni.<outbox id>...>``,
quoted as ``smtp-id`` or in SES's ``commonHeaders``) or the ``X-Omni-Outbox-Id`` header.
A report that cannot be read is refused on its own, with the place and the reason; the
readable ones beside it are applied.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnichannel.errors import ValidationError

_OUR_MESSAGE_ID = re.compile(r"<?omni\.(\d+)\.[0-9a-f]+@", re.IGNORECASE)
_IGNORED_EVENTS = frozenset(
    {"processed", "deferred", "dropped", "open", "click", "unsubscribe", "group_unsubscribe"}
)
ACCEPTED = (
    'a JSON list of events [{email, event, ...}] (SendGrid\'s shape), {"events": [...]}, '
    "or an Amazon SES notification (bare or in its SNS envelope)"
)


@dataclass(frozen=True)
class BounceReport:
    """One provider report about one recipient of one message."""

    # "bounced", "complained", "delivered", or None for a report we do not act on.
    event: str | None
    address: str
    # hard_bounce, soft_bounce, complaint, delivered
    reason: str
    status: str | None = None
    description: str | None = None
    outbox_id: int | None = None
    provider_message_id: str | None = None
    at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def suppress(self) -> bool:
        """A dead mailbox or a complaint: never send to the address again."""
        return self.reason in ("hard_bounce", "complaint")

    @property
    def suppression_reason(self) -> str:
        return self.reason

    def detail(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "description": self.description,
            "outbox_id": self.outbox_id,
            "provider_message_id": self.provider_message_id,
        }


@dataclass(frozen=True)
class Refusal:
    place: str
    value: str
    reason: str
    # The report as the provider sent it (JSON), kept as a dead letter.
    payload: str = ""

    def public(self) -> dict[str, str]:
        return {"field": self.place, "value": self.value, "reason": self.reason}


@dataclass
class Parsed:
    reports: list[BounceReport] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    ignored: int = 0


def outbox_id_of(message_id: object) -> int | None:
    """The outbox id inside one of our Message-IDs, else None."""
    if not isinstance(message_id, str):
        return None
    found = _OUR_MESSAGE_ID.search(message_id)
    return int(found.group(1)) if found else None


def _shown(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _payload(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _address(value: object, place: str) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise ValidationError(place, value, "an email address")
    return value.strip().lower()


def _unix(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def parse_reports(body: Any) -> Parsed:
    """Reports from a provider's body; ValidationError when the body is no known shape."""
    if isinstance(body, Mapping) and body.get("Type") in (
        "Notification",
        "SubscriptionConfirmation",
    ):
        if body.get("Type") == "SubscriptionConfirmation":
            raise ValidationError(
                "Type",
                "SubscriptionConfirmation",
                "a Notification (confirm the SNS subscription by opening its SubscribeURL once)",
            )
        try:
            body = json.loads(str(body.get("Message")))
        except ValueError:
            raise ValidationError(
                "Message", body.get("Message"), "the SES notification as JSON"
            ) from None
    if isinstance(body, Mapping) and ("notificationType" in body or "eventType" in body):
        return _ses(body)
    if isinstance(body, Mapping) and isinstance(body.get("events"), list):
        body = body["events"]
    if isinstance(body, list):
        return _event_list(body)
    raise ValidationError("(body)", _shown(body), ACCEPTED)


def _event_list(events: list[Any]) -> Parsed:
    parsed = Parsed()
    for i, item in enumerate(events):
        place = f"[{i}]"
        try:
            report = _event(item, place)
        except ValidationError as exc:
            parsed.refused.append(
                Refusal(exc.field, _shown(exc.value), exc.accepted, _payload(item))
            )
            continue
        if report is None:
            parsed.ignored += 1
        else:
            parsed.reports.append(report)
    return parsed


def _event(item: Any, place: str) -> BounceReport | None:
    if not isinstance(item, Mapping):
        raise ValidationError(place, item, "an event object {email, event, ...}")
    event = item.get("event")
    if not isinstance(event, str):
        raise ValidationError(f"{place}.event", event, "bounce, spamreport, delivered, ...")
    event = event.lower()
    if event in _IGNORED_EVENTS:
        return None
    address = _address(item.get("email"), f"{place}.email")
    message_id = item.get("smtp-id") or item.get("message_id")
    outbox_id = item.get("outbox_id")
    if outbox_id is not None and not isinstance(outbox_id, int):
        raise ValidationError(f"{place}.outbox_id", outbox_id, "an integer")
    common: dict[str, Any] = {
        "address": address,
        "status": str(item["status"]) if item.get("status") is not None else None,
        "description": str(item.get("reason") or item.get("response") or "") or None,
        "outbox_id": outbox_id if outbox_id is not None else outbox_id_of(message_id),
        "provider_message_id": str(item.get("sg_message_id") or message_id or "") or None,
        "at": _unix(item.get("timestamp")),
        "raw": dict(item),
    }
    if event == "bounce":
        kind = str(item.get("type") or item.get("bounce_type") or "bounce").lower()
        status = str(common["status"] or "")
        hard = kind in ("bounce", "hard", "permanent") and not status.startswith("4")
        hard = hard or status.startswith("5")
        return BounceReport("bounced", reason="hard_bounce" if hard else "soft_bounce", **common)
    if event in ("spamreport", "complaint"):
        return BounceReport("complained", reason="complaint", **common)
    if event == "delivered":
        return BounceReport("delivered", reason="delivered", **common)
    raise ValidationError(
        f"{place}.event", event, "bounce, spamreport, delivered (or one we ignore)"
    )


def _ses_recipient(parsed: Parsed, who: Any, place: str) -> str | None:
    """An SES recipient's address, or None with its refusal added to ``parsed``."""
    try:
        return _address(
            who.get("emailAddress") if isinstance(who, Mapping) else None,
            f"{place}.emailAddress",
        )
    except ValidationError as exc:
        parsed.refused.append(Refusal(exc.field, _shown(exc.value), exc.accepted, _payload(who)))
        return None


def _ses(note: Mapping[str, Any]) -> Parsed:
    kind = str(note.get("notificationType") or note.get("eventType"))
    mail = note.get("mail") if isinstance(note.get("mail"), Mapping) else {}
    assert isinstance(mail, Mapping)
    outbox_id, message_id = _ses_ids(mail)
    parsed = Parsed()
    if kind == "Bounce":
        bounce = note.get("bounce")
        if not isinstance(bounce, Mapping):
            raise ValidationError("bounce", bounce, "the SES bounce object")
        hard = bounce.get("bounceType") == "Permanent"
        recipients = bounce.get("bouncedRecipients") or []
        for i, who in enumerate(recipients):
            place = f"bounce.bouncedRecipients[{i}]"
            address = _ses_recipient(parsed, who, place)
            if address is None:
                continue
            parsed.reports.append(
                BounceReport(
                    "bounced",
                    address,
                    reason="hard_bounce" if hard else "soft_bounce",
                    status=who.get("status"),
                    description=who.get("diagnosticCode") or bounce.get("bounceSubType"),
                    outbox_id=outbox_id,
                    provider_message_id=message_id,
                    at=_unix(bounce.get("timestamp")),
                    raw=dict(note),
                )
            )
        return parsed
    if kind == "Complaint":
        complaint = note.get("complaint")
        if not isinstance(complaint, Mapping):
            raise ValidationError("complaint", complaint, "the SES complaint object")
        for i, who in enumerate(complaint.get("complainedRecipients") or []):
            place = f"complaint.complainedRecipients[{i}]"
            address = _ses_recipient(parsed, who, place)
            if address is None:
                continue
            parsed.reports.append(
                BounceReport(
                    "complained",
                    address,
                    reason="complaint",
                    description=complaint.get("complaintFeedbackType"),
                    outbox_id=outbox_id,
                    provider_message_id=message_id,
                    at=_unix(complaint.get("timestamp")),
                    raw=dict(note),
                )
            )
        return parsed
    if kind == "Delivery":
        delivery = note.get("delivery") if isinstance(note.get("delivery"), Mapping) else {}
        assert isinstance(delivery, Mapping)
        for who in delivery.get("recipients") or []:
            if isinstance(who, str) and "@" in who:
                parsed.reports.append(
                    BounceReport(
                        "delivered",
                        who.lower(),
                        reason="delivered",
                        outbox_id=outbox_id,
                        provider_message_id=message_id,
                        at=_unix(delivery.get("timestamp")),
                    )
                )
        return parsed
    parsed.ignored += 1
    return parsed


def _ses_ids(mail: Mapping[str, Any]) -> tuple[int | None, str | None]:
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), Mapping) else {}
    assert isinstance(common, Mapping)
    message_id = common.get("messageId")
    outbox_id = outbox_id_of(message_id)
    for header in mail.get("headers") or []:
        if not isinstance(header, Mapping):
            continue
        name = str(header.get("name", "")).lower()
        if name == "x-omni-outbox-id" and str(header.get("value", "")).isdigit():
            outbox_id = int(header["value"])
        elif name == "message-id" and outbox_id is None:
            message_id = header.get("value")
            outbox_id = outbox_id_of(message_id)
    return outbox_id, str(message_id) if message_id else (
        str(mail.get("messageId")) if mail.get("messageId") else None
    )


# --- bounce and complaint emails (RFC 3464 DSN, RFC 5965 ARF) ----------------------


def parse_message(raw: bytes) -> Parsed:
    """Reports from one DSN or ARF email; ValidationError when it is neither."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    report_type = str(message.get_param("report-type", "", header="content-type")).lower()
    if message.get_content_type() != "multipart/report" or report_type not in (
        "delivery-status",
        "feedback-report",
    ):
        shown = message.get_content_type() + (f"; report-type={report_type}" if report_type else "")
        raise ValidationError(
            "Content-Type",
            shown,
            "multipart/report; report-type=delivery-status or feedback-report",
        )
    original = _original_headers(message)
    outbox_id = _header_outbox_id(original)
    message_id = original.get("Message-ID")
    if report_type == "feedback-report":
        return _arf(message, original, outbox_id, message_id)
    return _dsn(message, outbox_id, message_id)


def _original_headers(message: Any) -> Any:
    """The headers of the message the report is about (its text/rfc822-headers or
    message/rfc822 part), as a Message; empty when the report quotes none."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            return email.message_from_string(part.get_content(), policy=email.policy.default)
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            return inner[0] if isinstance(inner, list) and inner else email.message.EmailMessage()
    return email.message.EmailMessage()


def _header_outbox_id(headers: Any) -> int | None:
    value = str(headers.get("X-Omni-Outbox-Id") or "").strip()
    if value.isdigit():
        return int(value)
    return outbox_id_of(str(headers.get("Message-ID") or ""))


def _fields(part: Any) -> list[Any]:
    """The field blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    text = payload if isinstance(payload, str) else part.get_content()
    return [
        email.message_from_string(block, policy=email.policy.default)
        for block in re.split(r"\r?\n\s*\r?\n", str(text))
        if block.strip()
    ]


def _recipient(value: object) -> str | None:
    """``rfc822; ann@mail.cn`` -> ``ann@mail.cn``."""
    text = str(value or "").partition(";")[2] or str(value or "")
    text = text.strip().strip("<>").strip()
    return text.lower() if "@" in text else None


def _dsn(message: Any, outbox_id: int | None, message_id: object) -> Parsed:
    parsed = Parsed()
    for part in message.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        for i, block in enumerate(_fields(part)):
            if block.get("Final-Recipient") is None and block.get("Original-Recipient") is None:
                continue  # the per-message block (Reporting-MTA, Arrival-Date)
            address = _recipient(block.get("Final-Recipient") or block.get("Original-Recipient"))
            if address is None:
                raw = str(block.get("Final-Recipient"))
                parsed.refused.append(
                    Refusal(f"Final-Recipient[{i}]", _shown(raw), "rfc822; an email address", raw)
                )
                continue
            action = str(block.get("Action") or "").strip().lower()
            status = str(block.get("Status") or "").strip() or None
            if action == "delivered":
                event, reason = "delivered", "delivered"
            elif action == "failed":
                hard = status is None or status.startswith("5")
                event, reason = "bounced", "hard_bounce" if hard else "soft_bounce"
            else:  # delayed, relayed, expanded: nothing to act on yet
                parsed.ignored += 1
                continue
            parsed.reports.append(
                BounceReport(
                    event,
                    address,
                    reason=reason,
                    status=status,
                    description=str(block.get("Diagnostic-Code") or "") or None,
                    outbox_id=outbox_id,
                    provider_message_id=str(message_id) if message_id else None,
                )
            )
    return parsed


def _arf(message: Any, original: Any, outbox_id: int | None, message_id: object) -> Parsed:
    parsed = Parsed()
    fields: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for block in _fields(part):
                fields.update({k: str(v) for k, v in block.items()})
    address = _recipient(fields.get("Original-Rcpt-To")) or _recipient(
        f"rfc822; {parseaddr_to(original.get('To'))}"
    )
    if address is None:
        parsed.refused.append(
            Refusal(
                "Original-Rcpt-To",
                _shown(fields.get("Original-Rcpt-To")),
                "the complaining recipient (Original-Rcpt-To, or To of the original)",
                "",
            )
        )
        return parsed
    parsed.reports.append(
        BounceReport(
            "complained",
            address,
            reason="complaint",
            description=fields.get("Feedback-Type"),
            outbox_id=outbox_id,
            provider_message_id=str(message_id) if message_id else None,
        )
    )
    return parsed


def parseaddr_to(value: object) -> str:
    from email.utils import parseaddr

    return parseaddr(str(value or ""))[1]
