"""Messages, channels and suppressions over HTTP: the same calls as ``omni messages`` and
``omni channels`` (which make these while ``omni serve`` owns the home).

Every route is a thin call into ``platform.messages`` / ``platform.channels`` /
``channels.suppressions``. Errors: 400 names the field, the value and what is accepted
(an unknown channel, a test address not on the allow-list, a template that does not
render); 404 an unknown message, template or profile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from omnichannel.access.api import PrincipalDep, acting
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
    pending_approval: bool = Field(
        False,
        description="More members than OMNI_LARGE_SEND_THRESHOLD: nothing was queued; the "
        "send waits for another person's approval (POST /api/messages/sends/{send_id}/approve).",
    )
    send_id: int | None = Field(None, description="The large send this is (or is waiting as).")
    threshold: int | None = None


class LargeSendPublic(BaseModel):
    id: int
    status: str = Field(description="pending_approval, sending, sent or rejected.")
    segment: str
    channel: str
    template: str | None
    content: dict[str, Any] | None
    campaign: str | None
    kind: str | None
    audience: int = Field(description="Members when it was asked for.")
    threshold: int
    requested_by: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    note: str
    result: dict[str, Any] | None = Field(description="What the send did once approved.")


class SendDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000)
    actor: str | None = Field(None, description="Admin tokens (the CLI) only: who decides.")


class DeliveryRow(BaseModel):
    at: datetime | None
    outbox_id: int | None
    status: str
    channel: str | None
    profile_id: str | None
    recipient: str | None
    campaign_id: str | None
    template: str | None
    template_version: int | None
    journey_id: str | None
    step_id: str | None
    kind: str | None
    origin: str | None
    attempt: int | None
    reason: str | None
    error: str | None
    provider_message_id: str | None


class DeliveryPage(BaseModel):
    rows: list[DeliveryRow]
    total: int = Field(description="Rows matching the filters.")
    limit: int
    offset: int


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


class ChannelHealthDetail(ChannelHealth):
    lag_seconds: float = Field(description="How long the oldest due queued message has waited.")
    suppressions: int = Field(description="Addresses suppressed on the channel now.")
    recent_hours: float
    recent: dict[str, int] = Field(
        description="Delivery log steps in the last recent_hours: sent, delivered, failed, "
        "bounced, dropped, retrying."
    )


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


@router.post(
    "/segment",
    summary="Send to every current member of a segment (above the threshold: held for approval)",
)
def send_segment(body: SegmentSend, platform: PlatformDep, who: PrincipalDep) -> SegmentSent:
    values = body.model_dump()
    segment = values.pop("segment")
    sent = platform.messages.send_segment(segment, **values, actor=who.actor)
    return SegmentSent.model_validate(sent)


@router.get("/sends", summary="Large sends, newest first (pending approval, sent, rejected)")
def list_sends(
    platform: PlatformDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LargeSendPublic]:
    return [
        LargeSendPublic.model_validate(r)
        for r in platform.messages.sends(status=status, limit=limit)
    ]


@router.get("/sends/{send_id}", summary="One large send")
def get_send(send_id: int, platform: PlatformDep) -> LargeSendPublic:
    return LargeSendPublic.model_validate(platform.messages.get_send(send_id))


@router.post(
    "/sends/{send_id}/approve",
    summary="Approve a large send (not one's own) and send it now",
    responses={409: {"description": "not pending"}},
)
def approve_send(
    send_id: int, platform: PlatformDep, who: PrincipalDep, body: SendDecision | None = None
) -> LargeSendPublic:
    decision = body or SendDecision(note="", actor=None)
    actor = acting(who, decision.actor)
    approved = platform.messages.approve_send(send_id, actor=actor, note=decision.note)
    return LargeSendPublic.model_validate(approved)


@router.post("/sends/{send_id}/reject", summary="End a pending large send unsent")
def reject_send(
    send_id: int, platform: PlatformDep, who: PrincipalDep, body: SendDecision | None = None
) -> LargeSendPublic:
    decision = body or SendDecision(note="", actor=None)
    actor = acting(who, decision.actor)
    rejected = platform.messages.reject_send(send_id, actor=actor, note=decision.note)
    return LargeSendPublic.model_validate(rejected)


@router.get("/log", summary="The delivery log, newest first, filtered and paged")
def delivery_log(
    platform: PlatformDep,
    channel: str | None = None,
    status: Annotated[str | None, Query(description="A step: sent, opened, failed...")] = None,
    campaign: str | None = None,
    journey: Annotated[str | None, Query(description="A journey's name or id.")] = None,
    profile_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeliveryPage:
    page = platform.messages.deliveries(
        channel=channel,
        status=status,
        campaign=campaign,
        journey=journey,
        profile_id=profile_id,
        limit=limit,
        offset=offset,
    )
    return DeliveryPage.model_validate(page)


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


@channels_router.get(
    "/health", summary="Each channel's health with lag, suppressions and the last hours' steps"
)
def channels_health(
    platform: PlatformDep, hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24.0
) -> list[ChannelHealthDetail]:
    return [ChannelHealthDetail.model_validate(c) for c in platform.channels.health(hours=hours)]


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
