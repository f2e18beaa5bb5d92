"""Comments with @mentions on segments, journeys and reports, and the caller's
notifications: the same calls as ``omni comments`` and the pages' comment boxes.

Reads need ``comments:read``, writing ``comments:write`` (every role but the service
desk; docs/access.md). The author is the caller: a user comments as themselves; an admin
token (the CLI) may name someone with ``author``. Errors: 400 names the field (an unknown
subject kind, a mention of nobody), 404 a subject or comment that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/comments", tags=["collaboration"])
notifications_router = APIRouter(prefix="/api/notifications", tags=["collaboration"])

SUBJECT_HELP = "KIND:ID, KIND one of segment, journey, report (segment:lapsing)."


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description=SUBJECT_HELP)
    body: str = Field(description="The text; @email or @name mentions a user.")
    email: bool = Field(False, description="Also email each user mentioned (email enabled).")
    author: str | None = Field(None, description="Admin tokens (the CLI) only.")


class CommentEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str
    author: str | None = Field(None, description="Admin tokens (the CLI) only.")


class CommentEdited(BaseModel):
    body: str
    until: str = Field(description="When this body was replaced.")


class CommentPublic(BaseModel):
    id: int
    subject: str
    author: str
    body: str
    mentions: list[str] = Field(description="The users mentioned (emails).")
    created_at: str
    edited_at: str | None
    edits: list[CommentEdited] = Field(description="Earlier bodies, oldest first.")
    emailed: list[str] = Field([], description="Whom an email was queued to (email: true).")


class NotificationPublic(BaseModel):
    id: int
    user: str
    kind: str = Field(description="mention")
    actor: str
    subject: str
    comment_id: int | None
    text: str
    created_at: str
    read_at: str | None


class NotificationsRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(None, description="These (default: all unread).")


class MarkedRead(BaseModel):
    marked: int


@router.get("", summary="The comments on a segment, journey or report, oldest first")
def list_comments(
    platform: PlatformDep,
    subject: Annotated[str, Query(description=SUBJECT_HELP)],
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CommentPublic]:
    rows = platform.collaboration.comments(subject, limit=limit, offset=offset)
    return [CommentPublic.model_validate(r) for r in rows]


@router.post("", status_code=201, summary="Comment; each user @mentioned is notified")
def add_comment(body: CommentCreate, platform: PlatformDep, who: PrincipalDep) -> CommentPublic:
    author = acting(who, body.author)
    added = platform.collaboration.add(body.subject, body.body, author=author, email=body.email)
    return CommentPublic.model_validate(added)


@router.patch("/{comment_id}", summary="Change one's own comment (the earlier text is kept)")
def edit_comment(
    comment_id: int, body: CommentEdit, platform: PlatformDep, who: PrincipalDep
) -> CommentPublic:
    edited = platform.collaboration.edit(comment_id, body.body, actor=acting(who, body.author))
    return CommentPublic.model_validate(edited)


@notifications_router.get("", summary="The caller's notifications, newest first")
def my_notifications(
    platform: PlatformDep,
    who: PrincipalDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    user: Annotated[str | None, Query(description="Admin tokens (the CLI) only: whose.")] = None,
) -> list[NotificationPublic]:
    rows = platform.collaboration.notifications(acting(who, user), unread=unread, limit=limit)
    return [NotificationPublic.model_validate(r) for r in rows]


@notifications_router.post("/read", summary="Mark the caller's notifications read")
def mark_read(
    platform: PlatformDep, who: PrincipalDep, body: NotificationsRead | None = None
) -> MarkedRead:
    ids = body.ids if body is not None else None
    return MarkedRead(marked=platform.collaboration.mark_read(who.actor, ids))
