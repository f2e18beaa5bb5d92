"""The Segment spec: validate one call (track, identify, page, screen, group, alias) into a row.

The collector and the events-file loader apply the same rules; each refusal names the
field in Segment's own spelling (``userId``, ``properties``...), the value received and
what would be accepted, so an engineer can fix the sending code from the message alone.

Example::

    parsed = parse_calls(body, path_type=None, source="web", received_at=now, limits=Limits())
    parsed.rows        # accepted calls as ``events`` rows (timestamps in epoch microseconds)
    parsed.refusals    # one Refusal per refused call: index, field, value, reason, payload

Timestamps follow Segment's clock-skew correction: the client's ``timestamp`` becomes
``original_timestamp``, and ``timestamp = originalTimestamp + (receivedAt - sentAt)``
when the client said when it sent the call, so a phone whose clock is an hour off still
lands its events at the right moment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from omnichannel.ingest.storable import MAX_DEPTH, Cut, Unstorable, check_call, payload_text

EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")

# Segment's documented limits: 32 KB a call, 500 KB a batch request.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

# context paths flattened into ``events`` columns, as Segment's warehouses do.
CONTEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "context_device_id": ("device", "id"),
    "context_device_type": ("device", "type"),
    "context_os_name": ("os", "name"),
    "context_app_name": ("app", "name"),
    "context_campaign_name": ("campaign", "name"),
    "context_campaign_source": ("campaign", "source"),
    "context_campaign_medium": ("campaign", "medium"),
    "context_campaign_term": ("campaign", "term"),
    "context_campaign_content": ("campaign", "content"),
    "context_page_url": ("page", "url"),
    "context_ip": ("ip",),
    "context_locale": ("locale",),
    "context_timezone": ("timezone",),
}

# Columns of a log row holding epoch microseconds (UTC), turned into timestamps on load.
TIMESTAMP_COLUMNS = ("timestamp", "original_timestamp", "sent_at", "received_at")

_EPOCH = datetime(1970, 1, 1)
_BROWSER_LIBRARIES = ("analytics.js", "analytics-next", "analytics-js", "rudder-analytics.js")
_MOBILE_LIBRARIES = ("analytics-ios", "analytics-android", "analytics-react-native", "flutter")


@dataclass(frozen=True)
class Limits:
    """What the collector accepts; the defaults are Segment's, the windows are settings."""

    max_future: timedelta = timedelta(days=1)
    max_age: timedelta = timedelta(days=5 * 365 + 1)
    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_depth: int = MAX_DEPTH


class Refused(Exception):
    """One call does not fit the spec: the field, the value and the reason."""

    def __init__(self, field: str, value: object, accepted: str) -> None:
        self.field = field
        self.value = show(value)
        self.reason = f"expected {accepted}"
        super().__init__(f"{field}={self.value} is not accepted: {self.reason}")

    @classmethod
    def unstorable(cls, bad: Unstorable) -> Refused:
        """The same refusal, its value already written for people (not quoted again)."""
        refused = cls(bad.field, None, "")
        refused.value, refused.reason = bad.value, bad.reason
        refused.args = (str(bad),)
        return refused


@dataclass(frozen=True)
class Refusal:
    """A refused call: its index in the request (None for a whole request) and why."""

    index: int | None
    field: str
    value: str
    reason: str
    payload: str

    def public(self) -> dict[str, object]:
        return {
            "index": self.index,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass
class Parsed:
    rows: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


def show(value: object, limit: int = 200) -> str:
    """A value as the sender wrote it (JSON), shortened for error messages."""
    if value is MISSING:
        return "(missing)"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
        if not text.isascii():
            text.encode("utf-8")  # a lone surrogate cannot go into a message or a row
    except UnicodeEncodeError:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = f"({type(value).__name__})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()


def micros(moment: datetime) -> int:
    """Epoch microseconds of a naive-UTC datetime (the log's timestamp encoding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_time(name: str, value: object) -> datetime | None:
    """An ISO-8601 timestamp as naive UTC; None when absent. No offset means UTC."""
    if value is MISSING or value is None:
        return None
    if not isinstance(value, str):
        raise Refused(name, value, "an ISO-8601 timestamp string, e.g. 2024-05-01T12:00:00.000Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Refused(
            name, value, "an ISO-8601 timestamp string, e.g. 2024-05-01T12:00:00.000Z"
        ) from None
    try:
        return utc_naive(parsed)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last moment Python holds
        raise Refused(name, value, "a time between the years 1 and 9999 in UTC") from None


def _identifier(name: str, value: object) -> str | None:
    # Segment accepts numeric ids and stores them as text; anything else is a sender bug.
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Refused(name, value, "a string (or a number, stored as text)")
    text = str(value)
    if not text.strip():
        raise Refused(name, value, "a non-empty string")
    return text


def _text(name: str, value: object) -> str | None:
    if value is MISSING or value is None:
        return None
    if not isinstance(value, str):
        raise Refused(name, value, "a string")
    return value


def _document(name: str, value: object) -> dict[str, Any] | None:
    if value is MISSING or value is None:
        return None
    if not isinstance(value, dict):
        raise Refused(name, value, 'a JSON object, e.g. {"plan": "pro"}')
    return value


def _dig(document: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    node: Any = document
    for part in path:
        # Parsed JSON holds plain dicts; the exact type test skips the slow ABC check.
        if type(node) is not dict and not isinstance(node, Mapping):
            return None
        node = node.get(part)
    if node is None or isinstance(node, dict | list):
        return None
    return node if isinstance(node, str) else json.dumps(node)


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: object) -> str:
    """Compact JSON text, non-ASCII kept as is (what ``json.dumps`` with those options gives)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
    except TypeError:
        # Beyond orjson: integers over 64 bits, say. Python's json writes them all.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def derived_message_id(source: str, call: Mapping[str, Any]) -> str:
    """A messageId made from the call's content, so a retried body dedupes to itself."""
    digest = hashlib.sha256(f"{source}\n{json.dumps(call, sort_keys=True, default=str)}".encode())
    return "omni-" + digest.hexdigest()[:32]


def _channel(given: object, context: Mapping[str, Any] | None) -> str:
    if isinstance(given, str) and given:
        return given
    library = _dig(context or {}, ("library", "name")) or ""
    if library in _BROWSER_LIBRARIES:
        return "browser"
    if library in _MOBILE_LIBRARIES:
        return "mobile"
    return "server"


def _span(span: timedelta) -> str:
    if span.seconds == 0 and span.microseconds == 0:
        return f"{span.days} day" + ("" if span.days == 1 else "s")
    return f"{span.total_seconds():g} seconds"


def _check_window(name: str, value: datetime, received_at: datetime, limits: Limits) -> None:
    if value > received_at + limits.max_future:
        raise Refused(
            name,
            value.isoformat() + "Z",
            f"a time no later than {_span(limits.max_future)} after receipt "
            f"({received_at.isoformat()}Z); the sender's clock or timestamp is wrong",
        )
    if value < received_at - limits.max_age:
        raise Refused(
            name,
            value.isoformat() + "Z",
            f"a time no earlier than {_span(limits.max_age)} before receipt "
            f"({received_at.isoformat()}Z)",
        )


def _corrected(
    original: datetime, sent_at: datetime, received_at: datetime, limits: Limits
) -> datetime:
    """Segment's clock-skew correction; one that leaves the calendar is out of the window."""
    try:
        return original + (received_at - sent_at)
    except OverflowError:
        late = received_at > sent_at
        _check_window("timestamp", datetime.max if late else datetime.min, received_at, limits)
        raise  # unreachable: datetime.max and min are outside any window


def validate_call(
    call: object,
    *,
    source: str,
    received_at: datetime,
    limits: Limits,
    path_type: str | None = None,
    batch_sent_at: datetime | None = None,
    batch_context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One call as an ``events`` row (timestamps in epoch microseconds), or ``Refused``."""
    if not isinstance(call, dict):
        raise Refused("(call)", call, "a JSON object with at least type and userId/anonymousId")
    get = call.get
    kind = path_type or get("type", MISSING)
    if kind is MISSING:
        raise Refused("type", kind, f"one of {', '.join(EVENT_TYPES)}")
    if not isinstance(kind, str) or kind.lower() not in EVENT_TYPES:
        raise Refused("type", kind, f"one of {', '.join(EVENT_TYPES)}")
    kind = kind.lower()

    user_id = _identifier("userId", get("userId", MISSING))
    anonymous_id = _identifier("anonymousId", get("anonymousId", MISSING))
    if user_id is None and anonymous_id is None:
        raise Refused(
            "userId",
            get("userId", MISSING),
            "a userId or an anonymousId (every call needs one of the two)",
        )
    previous_id = _identifier("previousId", get("previousId", MISSING))
    group_id = _identifier("groupId", get("groupId", MISSING))
    event = _text("event", get("event", MISSING))
    name = _text("name", get("name", MISSING))
    if kind == "track" and not event:
        raise Refused(
            "event",
            get("event", MISSING),
            'a non-empty string naming the action, e.g. "Order Completed"',
        )
    if kind == "alias" and previous_id is None:
        raise Refused(
            "previousId",
            get("previousId", MISSING),
            "the id this user was known by before (alias needs previousId)",
        )
    if kind == "group" and group_id is None:
        raise Refused("groupId", get("groupId", MISSING), "the group's id (group needs groupId)")
    properties = _document("properties", get("properties", MISSING))
    traits = _document("traits", get("traits", MISSING))
    context = _document("context", get("context", MISSING))
    if batch_context:
        context = {**batch_context, **(context or {})}

    message_id = get("messageId", MISSING)
    if message_id is MISSING or message_id is None or message_id == "":
        message_id = derived_message_id(source, call)
    elif not isinstance(message_id, str | int) or isinstance(message_id, bool):
        raise Refused("messageId", message_id, "a string unique to this call")
    message_id = str(message_id)

    original = parse_time("timestamp", get("timestamp", MISSING))
    sent_at = parse_time("sentAt", get("sentAt", MISSING)) or batch_sent_at
    if original is None:
        timestamp = received_at
    elif sent_at is not None:
        timestamp = _corrected(original, sent_at, received_at, limits)
    else:
        timestamp = original
    _check_window("timestamp", timestamp, received_at, limits)

    row: dict[str, Any] = {
        "message_id": message_id,
        "type": kind,
        "event": event,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "previous_id": previous_id,
        "group_id": group_id,
        "name": name,
        "timestamp": micros(timestamp),
        "original_timestamp": None if original is None else micros(original),
        "sent_at": None if sent_at is None else micros(sent_at),
        "received_at": micros(received_at),
        "source": source,
        "channel": _channel(get("channel"), context),
        "context": None if context is None else dumps(context),
        "properties": None if properties is None else dumps(properties),
        "traits": None if traits is None else dumps(traits),
    }
    for column, path in CONTEXT_COLUMNS.items():
        row[column] = _dig(context, path) if context else None
    return row


def parse_calls(
    body: object,
    *,
    source: str,
    received_at: datetime,
    limits: Limits,
    path_type: str | None,
    body_bytes: int = 0,
    cut: Cut | None = None,
) -> Parsed:
    """Validate a request body: one call (``path_type`` given) or a ``{"batch": [...]}``.

    Raises ``Refused`` when the request as a whole is unusable (e.g. ``batch`` is not a
    list); otherwise each call is accepted or refused on its own. ``cut`` is what
    ``storable.loads_bounded`` cut from a too deeply nested body, so refused calls are
    kept as they were sent.
    """
    cut = cut or Cut()
    parsed = Parsed()
    if path_type is not None:
        calls: list[object] = [body]
        batch_sent_at = None
        batch_context = None
    else:
        if not isinstance(body, dict):
            raise Refused("(body)", body, 'a JSON object {"batch": [calls...]}')
        calls_value = body.get("batch", MISSING)
        if not isinstance(calls_value, list):
            raise Refused("batch", calls_value, "a JSON array of calls")
        calls = calls_value
        batch_sent_at = parse_time("sentAt", body.get("sentAt", MISSING))
        batch_context = _document("context", body.get("context", MISSING))
        if batch_context is not None:
            try:
                check_call(batch_context, max_depth=limits.max_depth - 1, cut=cut)
            except Unstorable as bad:
                raise Refused.unstorable(bad) from None
    for index, call in enumerate(calls):
        try:
            try:
                # One orjson pass: what cannot be stored, and the call's size.
                size = len(check_call(call, max_depth=limits.max_depth, cut=cut))
            except Unstorable as bad:
                raise Refused.unstorable(bad) from None
            if size > limits.max_event_bytes:
                raise Refused(
                    "(call)",
                    f"{size} bytes",
                    f"at most {limits.max_event_bytes // 1024} KB per call",
                )
            parsed.rows.append(
                validate_call(
                    call,
                    source=source,
                    received_at=received_at,
                    limits=limits,
                    path_type=path_type,
                    batch_sent_at=batch_sent_at,
                    batch_context=batch_context,
                )
            )
        except Refused as refused:
            parsed.refusals.append(
                Refusal(
                    index=None if path_type is not None else index,
                    field=refused.field,
                    value=refused.value,
                    reason=refused.reason,
                    payload=payload_text(call, cut),
                )
            )
    return parsed
