"""``platform.collaboration``: comments on a segment, journey or report, @mentions of
users, and each user's notifications. Every change is audited.

A subject is ``{kind, id}``: ``segment:lapsing``, ``journey:win-back``, ``report:7``. A
mention is ``@`` and a user's email (``@li@shop.example``) or the part of it before the
``@`` when only one active user has it (``@li``); a mention that names nobody, or more
than one user, is refused with the users it could mean, so a typo does not go unnoticed.
Each user mentioned gets a notification (``/me/notifications``, the bell in the header).

Example::

    platform.collaboration.add("segment:lapsing", "@li please check the 90-day rule",
                               author="ana@shop.example")
    platform.collaboration.comments("segment:lapsing")         # oldest first
    platform.collaboration.notifications("li@shop.example", unread=True)
    platform.collaboration.mark_read("li@shop.example")        # all of li's
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from omnichannel.access.audit import record
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.opstore.models import Comment, Notification, User, utcnow

if TYPE_CHECKING:
    from omnichannel.platform import Platform

KINDS = ("segment", "journey", "report")
MAX_BODY = 10_000
MAX_LIMIT = 500
# ``@`` then an email or its local part; not preceded by a word character (no emails in
# the text itself, "ana@shop.example", read as a mention of "shop.example").
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")
SUBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


def parse_subject(subject: str | dict[str, Any]) -> tuple[str, str]:
    """``"segment:lapsing"`` or ``{"kind": "segment", "id": "lapsing"}`` -> (kind, id)."""
    if isinstance(subject, dict):
        kind, ident = str(subject.get("kind", "")), str(subject.get("id", ""))
    else:
        kind, _, ident = str(subject).partition(":")
    if kind not in KINDS:
        raise ValidationError("subject", subject, f"KIND:ID with KIND one of {', '.join(KINDS)}")
    if not SUBJECT_ID.match(ident):
        raise ValidationError("subject", subject, f"{kind}:ID with the {kind}'s name or id")
    return kind, ident


def mentioned_names(body: str) -> list[str]:
    """The names after ``@`` in ``body``, in order, each once (trailing dots dropped)."""
    seen: list[str] = []
    for match in MENTION.finditer(body):
        name = match.group(1).rstrip(".").lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def public_comment(row: Comment) -> dict[str, Any]:
    return {
        "id": row.id,
        "subject": f"{row.subject_kind}:{row.subject_id}",
        "author": row.author,
        "body": row.body,
        "mentions": list(row.mentions or []),
        "created_at": row.created_at.isoformat(),
        "edited_at": row.edited_at.isoformat() if row.edited_at else None,
        "edits": list(row.edits or []),
    }


def public_notification(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": row.user_email,
        "kind": row.kind,
        "actor": row.actor,
        "subject": f"{row.subject_kind}:{row.subject_id}",
        "comment_id": row.comment_id,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


def subject_link(subject: str) -> str:
    """The dashboard page of a subject (where its comments are shown)."""
    kind, _, ident = subject.partition(":")
    return {"segment": "/segments/", "journey": "/journeys/", "report": "/reports/"}[kind] + ident


class CollaborationCapability:
    """Comments and notifications of one installation (opstore ``comments``, ``notifications``)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    # --- comments ----------------------------------------------------------------------

    def add(
        self, subject: str | dict[str, Any], body: str, *, author: str, email: bool = False
    ) -> dict[str, Any]:
        """A new comment by ``author``; every user it @mentions gets a notification, and
        with ``email`` also an email (when the email channel is enabled; ``emailed`` in
        the answer says to whom it was queued)."""
        kind, ident = parse_subject(subject)
        self._check_exists(kind, ident)
        text = _check_body(body)
        added = self._add(kind, ident, text, author)
        notified = [m for m in added["mentions"] if m != author]
        added["emailed"] = self._email(added, notified, author) if email else []
        return added

    def _email(
        self, comment: dict[str, Any], users: builtins.list[str], actor: str
    ) -> builtins.list[str]:
        """A transactional email to each user mentioned, through the one send path. The
        comment goes in as data, never as template source (a body is not Jinja)."""
        messages = self._platform.messages
        if not users or "email" not in messages.config.enabled():
            return []
        base = str(messages.config.public_base_url).rstrip("/")
        link = f"{base}{subject_link(comment['subject'])}#comment-{comment['id']}"
        content = {
            "subject": "{{ who }} mentioned you on {{ on }}",
            "text": "{{ who }} mentioned you on {{ on }}:\n\n{{ excerpt }}\n\n{{ link }}",
        }
        data = {"who": actor, "on": comment["subject"], "excerpt": comment["body"], "link": link}
        sent = messages.send_many(
            [
                {
                    "channel": "email",
                    "address": user,
                    "content": content,
                    "data": data,
                    "kind": "transactional",
                    "idempotency_key": f"mention:{comment['id']}:{user}",
                }
                for user in users
            ]
        )
        queued = zip(users, sent, strict=True)
        return [user for user, answer in queued if answer.get("status") == "queued"]

    def _add(self, kind: str, ident: str, text: str, author: str) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            mentions = _resolve(session, mentioned_names(text))
            row = Comment(
                subject_kind=kind,
                subject_id=ident,
                author=author,
                body=text,
                mentions=mentions,
                edits=[],
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            _notify(session, row, [m for m in mentions if m != author], author)
            after = public_comment(row)
            record(session, author, "comment.create", f"{kind}:{ident}", None, after)
            return after

    def edit(self, comment_id: int, body: str, *, actor: str) -> dict[str, Any]:
        """Change one's own comment (the earlier body is kept in ``edits``); users newly
        mentioned are notified."""
        text = _check_body(body)
        with self._platform.opstore.session() as session:
            row = session.get(Comment, comment_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no comment with id {comment_id}")
            if row.author != actor:
                raise ValidationError(
                    "actor", actor, f"{row.author}, who wrote comment {comment_id}"
                )
            before = public_comment(row)
            mentions = _resolve(session, mentioned_names(text))
            now = utcnow()
            row.edits = [*(row.edits or []), {"body": row.body, "until": now.isoformat()}]
            new = [m for m in mentions if m not in (row.mentions or []) and m != actor]
            row.body, row.mentions, row.edited_at = text, mentions, now
            session.flush()
            _notify(session, row, new, actor)
            after = public_comment(row)
            target = f"{row.subject_kind}:{row.subject_id}"
            record(session, actor, "comment.edit", target, before, after)
            return after

    def comments(
        self, subject: str | dict[str, Any], *, limit: int = 200, offset: int = 0
    ) -> builtins.list[dict[str, Any]]:
        """The comments on ``subject``, oldest first."""
        kind, ident = parse_subject(subject)
        _check_limit(limit)
        query = (
            select(Comment)
            .where(Comment.subject_kind == kind, Comment.subject_id == ident)
            .order_by(Comment.id)
            .limit(limit)
            .offset(max(0, offset))
        )
        with self._platform.opstore.session() as session:
            return [public_comment(r) for r in session.scalars(query)]

    def get(self, comment_id: int) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            row = session.get(Comment, comment_id)
            if row is None:
                raise NotFoundError(f"no comment with id {comment_id}")
            return public_comment(row)

    # --- notifications -----------------------------------------------------------------

    def notifications(
        self, user: str, *, unread: bool = False, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        """``user``'s notifications, newest first (``unread``: only those not read yet)."""
        _check_limit(limit)
        query = select(Notification).where(Notification.user_email == user.lower())
        if unread:
            query = query.where(Notification.read_at.is_(None))
        query = query.order_by(Notification.id.desc()).limit(limit)
        with self._platform.opstore.session() as session:
            return [public_notification(r) for r in session.scalars(query)]

    def unread_count(self, user: str) -> int:
        query = (
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_email == user.lower(), Notification.read_at.is_(None))
        )
        with self._platform.opstore.session() as session:
            return int(session.scalar(query) or 0)

    def mark_read(self, user: str, ids: builtins.list[int] | None = None) -> int:
        """Mark ``user``'s notifications read (``ids``, default all); returns how many."""
        query = select(Notification).where(
            Notification.user_email == user.lower(), Notification.read_at.is_(None)
        )
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        now = utcnow()
        with self._platform.opstore.session() as session:
            rows = list(session.scalars(query))
            for row in rows:
                row.read_at = now
            return len(rows)

    # --- helpers -----------------------------------------------------------------------

    def _check_exists(self, kind: str, ident: str) -> None:
        """A comment is on something that exists (a typo'd name would hide it forever)."""
        platform = self._platform
        if kind == "segment":
            platform.segments.show(ident)
        elif kind == "journey":
            platform.journeys.show(ident)
        else:
            reports = getattr(platform, "reports", None)
            show = getattr(reports, "show", None) or getattr(reports, "get", None)
            if show is not None:
                show(int(ident) if ident.isdigit() else ident)


def _check_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("body", body, "the comment's text (1 to 10,000 characters)")
    if len(body) > MAX_BODY:
        raise ValidationError(
            "body", body[:40] + "...", f"at most {MAX_BODY:,} characters ({len(body):,} given)"
        )
    return body.strip()


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"a number from 1 to {MAX_LIMIT}")


def _resolve(session: Any, names: builtins.list[str]) -> builtins.list[str]:
    """Each mentioned name to one active user's email; refused when none or several."""
    if not names:
        return []
    users = [
        email for (email,) in session.execute(select(User.email).where(User.active.is_(True))).all()
    ]
    resolved: list[str] = []
    for name in names:
        if "@" in name:
            found = [u for u in users if u == name]
        else:
            found = [u for u in users if u.partition("@")[0] == name]
        if len(found) != 1:
            why = "no active user" if not found else f"{len(found)} users ({', '.join(found)})"
            raise ValidationError(
                "body",
                f"@{name}",
                f"a mention of one active user, by email (@li@shop.example) or by the part "
                f"before its @ when only one user has it; @{name} matches {why}",
            )
        if found[0] not in resolved:
            resolved.append(found[0])
    return resolved


def _notify(session: Any, comment: Comment, users: builtins.list[str], actor: str) -> None:
    excerpt = comment.body if len(comment.body) <= 200 else comment.body[:197] + "..."
    for user in users:
        session.add(
            Notification(
                user_email=user,
                kind="mention",
                actor=actor,
                subject_kind=comment.subject_kind,
                subject_id=comment.subject_id,
                comment_id=comment.id,
                text=excerpt,
                created_at=utcnow(),
            )
        )
