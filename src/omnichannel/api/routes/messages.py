"""Messages, channels and suppressions over HTTP: the same calls as ``omni messages`` and
``omni channels`` (which make these while ``omni serve`` owns the home).

Every route is a thin call into ``platform.messages`` / ``platform.channels`` /
``channels.suppressions``. Errors: 400 names the field, the value and what is accepted
(an unknown channel, a test address not on the allow-list, a template that does not
render); 404 an unknown message, template or profile.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from omnichannel.api.deps import PlatformDep
from omnichannel.channels.send import SendRequest

router = APIRouter(prefix="/api/messages", tags=["messages"])
channels_router = APIRouter(prefix="/api/channels", tags=["channels"])
suppressions_router = APIRouter(prefix="/api/suppressions", tags=["channels"])


class MessageSent(BaseModel):
    """What the send path did with one request."""

    channel: str
    outbox_id: int | None = Field(description="The message's id (null: the request's error).")
    status: str | None = Field(description="queued, held (until a rule ends) or dropped.")
    reason: str | None = Field(description="The rule that held or dropped it.")
    detail: str | None = None
    profile_id: str | None = None
    address: str | None = None
    idempotency_key: str | None = None
    duplicate: bool = Field(False, description="An earlier request had this key: its message.")
    error: str | None = Field(None, description="Why this request made no message (batch).")
    error_field: str | None = None


class MessageBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[SendRequest] = Field(max_length=10_000)


class TestSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    address: str = Field(description="One of the channel's test_recipients in channels.yaml.")
    template: str | None = None
    version: int | None = Field(None, ge=1)
    content: dict[str, Any] | None = None
    identifier: str | None = Field(None, description="Render for this person (type:value).")


class SegmentSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: str
    channel: str
    template: str | None = None
    content: dict[str, Any] | None = None
    campaign: str | None = Field(None, description="Makes a re-run reach nobody twice.")
    kind: str | None = None
    limit: int | None = Field(None, ge=1)


class SegmentSent(BaseModel):
    segment: str
    channel: str
    campaign: str | None
    members: int
    by_status: dict[str, int] = Field(description="queued, held, dropped, duplicate, error.")
    by_reason: dict[str, int]
    errors: list[str] = Field(description="The first few requests' errors.")


class MessagePublic(BaseModel):
    id: int
    idempotency_key: str
    channel: str
    kind: str
    profile_id: str | None
    address: str
    template: str | None
    template_version: int | None
    origin: str
    campaign: str | None
    journey_id: int | None
    journey_step: str | None
    status: str = Field(description="queued, held, sending, sent, failed or dropped.")
    reason: str | None
    reason_detail: str | None
    attempts: int
    next_attempt_at: str | None
    provider_message_id: str | None
    provider_response: str | None = Field(description="The provider's last answer.")
    created_at: str | None
    updated_at: str | None
    sent_at: str | None
    content: dict[str, Any] | None = Field(None, description="The rendered parts (one message).")
    history: list[dict[str, Any]] | None = Field(
        None, description="Its delivery log rows: status, at, attempt, reason, error."
    )


class MessagesStatus(BaseModel):
    campaign: str | None
    channels: dict[str, dict[str, dict[str, int]]] = Field(
        description="channel -> {by_status, by_reason}."
    )


class ChannelHealth(BaseModel):
    channel: str
    enabled: bool
    worker: str = Field(description="running or stopped in this process.")
    queue_depth: int = Field(description="Messages waiting: queued, held and sending.")
    queued: int
    held: int
    sending: int
    breaker: str | None = Field(description="closed, open or half_open (null: no worker).")
    open_breakers: list[str] = Field(
        description="Addresses (webhook endpoints) whose own breaker is open or half open."
    )
    error_rate: float | None = Field(description="Failed share of calls in the last 5 min.")
    sent: int | None
    retried: int | None
    failed: int | None
    dropped: int | None
    last_error: str | None


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    address: str
    reason: str = "manual"
    source: str = "api"


class SuppressionPublic(BaseModel):
    channel: str
    address: str
    reason: str
    source: str
    detail: dict[str, Any]
    created_at: str | None
    expires_at: str | None


# --- messages -------------------------------------------------------------------------


@router.post("", status_code=201, summary="Send one message through the send path")
def send_message(body: SendRequest, platform: PlatformDep) -> MessageSent:
    return MessageSent.model_validate(platform.messages.send(body))


@router.post("/batch", summary="Send many; each answer is its message or its own error")
def send_batch(body: MessageBatch, platform: PlatformDep) -> list[MessageSent]:
    answers = platform.messages.send_many(body.messages)
    return [MessageSent.model_validate({"channel": "", **a}) for a in answers]


@router.post("/test", status_code=201, summary="A test send to an allow-listed address")
def send_test(body: TestSend, platform: PlatformDep) -> MessageSent:
    return MessageSent.model_validate(platform.messages.test(**body.model_dump()))


@router.post("/segment", summary="Send to every current member of a segment")
def send_segment(body: SegmentSend, platform: PlatformDep) -> SegmentSent:
    values = body.model_dump()
    segment = values.pop("segment")
    return SegmentSent.model_validate(platform.messages.send_segment(segment, **values))


@router.get("", summary="Messages, newest first")
def list_messages(
    platform: PlatformDep,
    channel: str | None = None,
    status: str | None = None,
    campaign: str | None = None,
    profile_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MessagePublic]:
    rows = platform.messages.list(
        channel=channel,
        status=status,
        campaign=campaign,
        profile_id=profile_id,
        limit=limit,
        offset=offset,
    )
    return [MessagePublic.model_validate(r) for r in rows]


@router.get("/status", summary="Messages per channel and status, and per reason")
def messages_status(platform: PlatformDep, campaign: str | None = None) -> MessagesStatus:
    return MessagesStatus.model_validate(platform.messages.status(campaign=campaign))


@router.get("/{outbox_id}", summary="One message with its delivery log")
def get_message(
    outbox_id: Annotated[int, Path(description="The message's id.")], platform: PlatformDep
) -> MessagePublic:
    return MessagePublic.model_validate(platform.messages.get(outbox_id))


# --- channels -------------------------------------------------------------------------


@channels_router.get("", summary="Each channel's health: queue depth, error rate, breaker")
def channels_status(platform: PlatformDep) -> list[ChannelHealth]:
    return [ChannelHealth.model_validate(c) for c in platform.channels.status()]


# --- suppressions ---------------------------------------------------------------------


@suppressions_router.get("", summary="Suppressed addresses, newest first")
def list_suppressions(
    platform: PlatformDep,
    channel: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[SuppressionPublic]:
    from omnichannel.channels import suppressions

    with platform.opstore.session() as session:
        rows = suppressions.list_suppressions(session, channel=channel, limit=limit, offset=offset)
        return [SuppressionPublic.model_validate(suppressions.public(r)) for r in rows]


@suppressions_router.post("", status_code=201, summary="Suppress an address on a channel")
def add_suppression(body: SuppressionCreate, platform: PlatformDep) -> SuppressionPublic:
    from omnichannel.channels import suppressions

    with platform.opstore.session() as session:
        row = suppressions.add_suppression(
            session,
            channel=body.channel,
            address=body.address,
            reason=body.reason,
            source=body.source,
            actor="api",
        )
        return SuppressionPublic.model_validate(suppressions.public(row))


@suppressions_router.delete(
    "/{channel}/{address}", summary="Lift a suppression", responses={404: {"description": "none"}}
)
def remove_suppression(channel: str, address: str, platform: PlatformDep) -> dict[str, str]:
    from omnichannel.channels import suppressions

    with platform.opstore.session() as session:
        suppressions.remove_suppression(session, channel=channel, address=address, actor="api")
    return {"removed": f"{channel}:{address}"}
