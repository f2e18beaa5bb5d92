"""Message templates: named, versioned, checked when saved, previewed against real people.

A template belongs to one channel and holds that channel's parts as Jinja2 sources
(``channels/render.py``). Saving a changed template adds a version and never edits an
old one, so a sent message (``outbox.template_version``) can always say exactly what it
was rendered from. A template that cannot render is refused at save time with the part,
the line and the missing variable, checked against a person built from a real profile
(every variable a profile can have, with a real person's values where there is one).

``platform.templates`` is ``TemplatesCapability``; the CLI (``omni templates``) and the
API (``/api/templates``) call it and return the same JSON-ready dicts.

Example::

    platform.templates.save("welcome", channel="email", content={
        "subject": "Welcome, {{ profile.first_name }}",
        "text": "Hello {{ profile.first_name }}!\\nUnsubscribe: {{ unsubscribe_url }}",
        "html": "<p>Hello {{ profile.first_name }}!</p>",
    }, created_by="ana")                                   # version 1
    platform.templates.preview("welcome", profile="email:ann@example.com")["rendered"]
"""

from __future__ import annotations

import builtins
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnichannel.channels import registry
from omnichannel.channels.render import (
    UNSUBSCRIBE_PLACEHOLDER,
    check_template,
    profile_contexts,
    render_parts,
    sample_context,
)
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore import OpStore, record
from omnichannel.opstore.models import MessageKind, MessageTemplate, MessageTemplateVersion, utcnow

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
NAME_ACCEPTED = "a slug of lower-case letters, digits, '-' and '_' (1-100, e.g. welcome-email)"
# What a preview shows where the real message will carry its own unsubscribe link.
PREVIEW_UNSUBSCRIBE = "{base}/unsubscribe/preview"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError("template name", name, NAME_ACCEPTED)
    return name


def check_kind(kind: object) -> MessageKind:
    try:
        return MessageKind(str(kind))
    except ValueError:
        accepted = ", ".join(k.value for k in MessageKind)
        raise ValidationError("kind", kind, f"one of {accepted}") from None


@dataclass(frozen=True)
class StoredTemplate:
    """One version of a template, with the template's bookkeeping."""

    name: str
    channel: str
    kind: MessageKind
    description: str
    version: int
    current_version: int
    content: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    def public(self) -> dict[str, Any]:
        """JSON-ready, as the CLI and the API show it."""
        return {
            "name": self.name,
            "channel": self.channel,
            "kind": self.kind.value,
            "description": self.description,
            "version": self.version,
            "current_version": self.current_version,
            "content": self.content,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
        }


def _stored(row: MessageTemplate, version: MessageTemplateVersion) -> StoredTemplate:
    return StoredTemplate(
        name=row.name,
        channel=row.channel,
        kind=MessageKind(row.kind),
        description=row.description or "",
        version=int(version.version),
        current_version=int(row.current_version),
        content=dict(version.content),
        created_by=version.created_by,
        created_at=version.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
    )


class TemplateStore:
    """``message_templates`` and their versions in the operational store.

    ``get`` answers from memory for ``cache_seconds``: a campaign renders one template for
    thousands of people, and a database read per message cost more than the rendering.
    A save or archive through this store is seen at once; one made by another process
    within ``cache_seconds``.
    """

    def __init__(self, opstore: OpStore, *, cache_seconds: float = 1.0) -> None:
        self.opstore = opstore
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, int | None], tuple[float, StoredTemplate]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def get(self, name: str, version: int | None = None) -> StoredTemplate:
        """The current version (or ``version``); NotFoundError naming what exists."""
        key = (name, version)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        found = self._read(name, version)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = (now, found)
        return found

    def _read(self, name: str, version: int | None) -> StoredTemplate:
        with self.opstore.session() as session:
            row = self._row(session, check_name(name))
            wanted = row.current_version if version is None else version
            found = session.scalars(
                select(MessageTemplateVersion).where(
                    MessageTemplateVersion.template_id == row.id,
                    MessageTemplateVersion.version == wanted,
                )
            ).first()
            if found is None:
                raise NotFoundError(
                    f"template {name!r} has no version {wanted} (versions 1-{row.current_version})"
                )
            return _stored(row, found)

    def list(self, *, archived: bool = False) -> builtins.list[StoredTemplate]:
        """Current versions by name; archived templates only when asked."""
        with self.opstore.session() as session:
            query = select(MessageTemplate).order_by(MessageTemplate.name)
            if not archived:
                query = query.where(MessageTemplate.archived_at.is_(None))
            out = []
            for row in session.scalars(query).all():
                current = self._version(session, row, row.current_version)
                out.append(_stored(row, current))
            return out

    def versions(self, name: str) -> builtins.list[StoredTemplate]:
        """Every version of a template, oldest first."""
        with self.opstore.session() as session:
            row = self._row(session, check_name(name))
            rows = session.scalars(
                select(MessageTemplateVersion)
                .where(MessageTemplateVersion.template_id == row.id)
                .order_by(MessageTemplateVersion.version)
            ).all()
            return [_stored(row, v) for v in rows]

    def save(
        self,
        name: str,
        *,
        channel: str,
        content: Mapping[str, Any],
        kind: MessageKind | str = MessageKind.MARKETING,
        description: str | None = None,
        created_by: str,
    ) -> tuple[StoredTemplate, bool]:
        """Create the template or add a version; (stored, whether anything changed).

        The caller has checked that ``content`` renders (``TemplatesCapability.save``).
        Saving the current content again adds no version; saving revives an archived one.
        """
        name, kind = check_name(name), check_kind(kind)
        registry.known(channel)
        self.forget()
        try:
            with self.opstore.session() as session:
                row = session.scalars(
                    select(MessageTemplate).where(MessageTemplate.name == name)
                ).first()
                if row is None:
                    return self._create(
                        session, name, channel, dict(content), kind, description, created_by
                    ), True
                return self._update(
                    session, row, channel, dict(content), kind, description, created_by
                )
        except IntegrityError:
            raise ConflictError(
                f"template {name!r} was saved by someone else meanwhile; save again"
            ) from None

    def _create(
        self,
        session: Session,
        name: str,
        channel: str,
        content: dict[str, Any],
        kind: MessageKind,
        description: str | None,
        actor: str,
    ) -> StoredTemplate:
        row = MessageTemplate(
            name=name,
            channel=channel,
            kind=kind,
            description=description or "",
            current_version=1,
            created_by=actor,
        )
        session.add(row)
        session.flush()
        version = MessageTemplateVersion(
            template_id=row.id, version=1, content=content, created_by=actor
        )
        session.add(version)
        session.flush()
        record(
            session,
            actor=actor,
            action="template.create",
            object_type="template",
            object_id=name,
            details={"version": 1, "channel": channel},
        )
        return _stored(row, version)

    def _update(
        self,
        session: Session,
        row: MessageTemplate,
        channel: str,
        content: dict[str, Any],
        kind: MessageKind,
        description: str | None,
        actor: str,
    ) -> tuple[StoredTemplate, bool]:
        if channel != row.channel:
            raise ValidationError(
                "channel",
                channel,
                f"{row.channel!r}, the channel of template {row.name!r} (save under another name "
                "for another channel)",
            )
        current = self._version(session, row, row.current_version)
        changed_meta = kind != row.kind or (
            description is not None and description != row.description
        )
        revived = row.archived_at is not None
        if current.content == content and not changed_meta and not revived:
            return _stored(row, current), False
        row.kind = kind
        if description is not None:
            row.description = description
        row.archived_at = None
        row.updated_at = utcnow()
        version = current
        if current.content != content:
            row.current_version = int(row.current_version) + 1
            version = MessageTemplateVersion(
                template_id=row.id, version=row.current_version, content=content, created_by=actor
            )
            session.add(version)
        session.flush()
        record(
            session,
            actor=actor,
            action="template.update",
            object_type="template",
            object_id=row.name,
            details={"version": int(row.current_version), "revived": revived},
        )
        return _stored(row, version), True

    def archive(self, name: str, *, actor: str) -> StoredTemplate:
        """Hide a template from lists and refuse new sends of it; its versions stay."""
        self.forget()
        with self.opstore.session() as session:
            row = self._row(session, check_name(name))
            if row.archived_at is None:
                row.archived_at = utcnow()
                record(
                    session,
                    actor=actor,
                    action="template.archive",
                    object_type="template",
                    object_id=name,
                    details={"version": int(row.current_version)},
                )
            return _stored(row, self._version(session, row, row.current_version))

    @staticmethod
    def _row(session: Session, name: str) -> MessageTemplate:
        row = session.scalars(select(MessageTemplate).where(MessageTemplate.name == name)).first()
        if row is None:
            raise NotFoundError(f"no template named {name!r} (see `omni templates list`)")
        return row

    @staticmethod
    def _version(session: Session, row: MessageTemplate, version: int) -> MessageTemplateVersion:
        found = session.scalars(
            select(MessageTemplateVersion).where(
                MessageTemplateVersion.template_id == row.id,
                MessageTemplateVersion.version == version,
            )
        ).one()
        return found


def real_sample_context(wh: Warehouse | None, channel: str) -> dict[str, Any]:
    """``sample_context`` with a real person's values where the warehouse has one.

    Every variable a profile may have is present (a template must not be refused because
    the one person picked lacks a trait), and the values look like the installation's.
    """
    context = sample_context(channel)
    if wh is None:
        return context
    p = wh.table("profiles")
    first = p.select("profile_id").order_by("profile_id").limit(1).to_pyarrow().to_pylist()
    if not first:
        return context
    person = profile_contexts(wh, [first[0]["profile_id"]])[first[0]["profile_id"]]
    real = {k: v for k, v in person["profile"].items() if v is not None}
    context["profile"] = {**context["profile"], **real}
    context["identifiers"] = {**context["identifiers"], **person["identifiers"]}
    return context


class TemplatesCapability:
    """``platform.templates``: save, show, list, archive and preview templates."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @cached_property
    def store(self) -> TemplateStore:
        return TemplateStore(self._platform.opstore)

    def _sample(self, channel: str) -> dict[str, Any]:
        with self._platform.warehouse.reader() as wh:
            return real_sample_context(wh, channel)

    def save(
        self,
        name: str,
        *,
        channel: str,
        content: Mapping[str, Any],
        kind: MessageKind | str = MessageKind.MARKETING,
        description: str | None = None,
        created_by: str = "system",
    ) -> dict[str, Any]:
        """Create or add a version, refusing content that does not render (part, line, variable)."""
        check_name(name)
        registry.known(channel)
        check_kind(kind)
        rendered = check_template(channel, content, self._sample(channel))
        stored, changed = self.store.save(
            name,
            channel=channel,
            content=content,
            kind=kind,
            description=description,
            created_by=created_by,
        )
        return {**stored.public(), "changed": changed, "sample": rendered}

    def get(self, name: str, *, version: int | None = None) -> dict[str, Any]:
        return self.store.get(name, version).public()

    def list(self, *, archived: bool = False) -> builtins.list[dict[str, Any]]:
        return [t.public() for t in self.store.list(archived=archived)]

    def versions(self, name: str) -> builtins.list[dict[str, Any]]:
        return [t.public() for t in self.store.versions(name)]

    def archive(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        return self.store.archive(name, actor=actor).public()

    def preview(
        self,
        name: str,
        *,
        profile: str | None = None,
        version: int | None = None,
        campaign: str | None = None,
        segment: str | None = None,
    ) -> dict[str, Any]:
        """The template rendered for the person holding ``profile`` (``type:value``, any
        identifier) or, without one, for the sample person."""
        from omnichannel.channels.render import message_context

        stored = self.store.get(name, version)
        platform = self._platform
        with platform.warehouse.reader() as wh:
            if profile is None:
                context = real_sample_context(wh, stored.channel)
                profile_id = None
            else:
                ref = platform.lookup.find(wh, profile)
                profile_id = ref.profile_id
                person = profile_contexts(wh, [profile_id])[profile_id]
                context = {
                    **message_context(
                        channel=stored.channel, campaign=campaign, template=name, segment=segment
                    ),
                    **person,
                    # What a message to them would show (recommendations/service.py).
                    "recommendations": platform.recommendations.lazy_items(
                        profile_id, stored.channel
                    ),
                }
        rendered = render_parts(stored.channel, stored.content, context)
        link = PREVIEW_UNSUBSCRIBE.format(base=self._public_base_url())
        return {
            "name": stored.name,
            "channel": stored.channel,
            "version": stored.version,
            "profile_id": profile_id,
            "rendered": _replace(rendered, UNSUBSCRIBE_PLACEHOLDER, link),
        }

    def render_for(
        self, name: str, context: Mapping[str, Any], *, version: int | None = None
    ) -> tuple[StoredTemplate, dict[str, Any]]:
        """The stored version (current unless given) and its parts rendered with ``context``:
        what the send path calls. An archived template is refused."""
        stored = self.store.get(name, version)
        if stored.archived_at is not None and version is None:
            raise ValidationError("template", name, "a template that is not archived")
        return stored, render_parts(stored.channel, stored.content, context)

    def _public_base_url(self) -> str:
        return str(self._platform.messages.config.public_base_url).rstrip("/")


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value
