"""``GET /v1/inbox``: the in-app inbox an app shows its signed-in user (channels/inbox.py).

Authenticated as the collector is: a source's write key as the HTTP Basic user name,
the key the app already sends its events with. Messages are marked read by the app's
``Inbox Message Read`` track event to the collector, not here.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from omnichannel.api.deps import ServicesDep
from omnichannel.channels.inbox import MAX_PAGE, InboxRefused, InboxSettings, check_user_hash

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


class InboxItem(BaseModel):
    id: str = Field(description="Send it back as properties.inbox_message_id to mark it read.")
    title: str
    body: str
    data: dict[str, object] = Field(description="The message's data part (deep link, image...).")
    created_at: str
    read_at: str | None


class InboxPage(BaseModel):
    user_id: str
    unread: int = Field(description="Unread, unexpired messages of the user in all.")
    messages: list[InboxItem] = Field(description="Newest first.")


class InboxError(BaseModel):
    detail: dict[str, str]


def _write_key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        user = base64.b64decode(credentials).decode("utf-8").partition(":")[0]
    except ValueError:
        return None
    return user or None


def _refused(status: int, field: str, value: str, accepted: str) -> JSONResponse:
    message = f"{field}={value} is not accepted: expected {accepted}"
    detail = {"field": field, "value": value, "message": message}
    return JSONResponse({"detail": detail}, status_code=status)


@router.get(
    "",
    response_model=InboxPage,
    responses={
        401: {"model": InboxError, "description": "No active write key, or a wrong user_hash."},
        503: {"model": InboxError, "description": "The server is starting."},
    },
    summary="A user's in-app inbox",
)
async def inbox(
    request: Request,
    services: ServicesDep,
    user_id: Annotated[str, Query(alias="userId", min_length=1, max_length=256)],
    unread: Annotated[bool, Query(description="Only unread messages.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    user_hash: Annotated[
        str | None, Query(description="Required when inbox.identity_secret is set.")
    ] = None,
) -> object:
    """The user's unexpired messages, newest first, and how many are unread."""
    from omnichannel.channels.inbox import list_inbox

    runtime = services.ingest
    if runtime is None:
        detail = {"message": "the collector is not running (server starting?)"}
        return JSONResponse({"detail": detail}, status_code=503)
    key = _write_key(request)
    source = await run_in_threadpool(runtime.keys.source_of, key) if key else None
    if source is None:
        return _refused(
            401,
            "Authorization",
            "(missing)" if key is None else key[:10] + "...",
            "an active write key as the HTTP Basic user name (the one the app sends events with)",
        )
    settings = services.platform.messages.config.channel("inbox")
    assert isinstance(settings, InboxSettings)
    try:
        check_user_hash(settings, user_id, user_hash)
    except InboxRefused as exc:
        return _refused(401, exc.field, str(exc.value), exc.accepted)
    store = services.opstore()
    return await run_in_threadpool(list_inbox, store, user_id, unread_only=unread, limit=limit)
