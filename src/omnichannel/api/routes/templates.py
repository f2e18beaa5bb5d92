"""Message templates over HTTP: the same operations as ``omni templates`` (which calls these).

Every route is a thin call into ``platform.templates`` (``channels/templates.py``).
Errors: 400 names the part, the line and the variable of a template that cannot render
(or the field and value of a bad name, channel or kind); 404 names the unknown template,
version or profile.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/templates", tags=["templates"])

NamePath = Annotated[str, Path(description="The template's name (a slug, e.g. welcome-email).")]
CONTENT_HELP = (
    "The channel's parts as Jinja2 sources: subject/text/html for email, body for SMS, "
    "title/body/data for push... (see docs/channels.md#templates)."
)


class TemplateSave(BaseModel):
    """A template to create, or a new version of one."""

    channel: str = Field(description="email, sms, push, wechat, webhook or inbox.")
    content: dict[str, Any] = Field(description=CONTENT_HELP)
    kind: str = Field("marketing", description="marketing or transactional.")
    description: str | None = Field(None, description="Kept as it was when left out.")
    created_by: str = Field("api", description="Who saves it (recorded and audited).")


class TemplatePublic(BaseModel):
    name: str
    channel: str
    kind: str
    description: str
    version: int = Field(description="The version shown.")
    current_version: int = Field(description="The version new messages are rendered from.")
    content: dict[str, Any]
    created_by: str = Field(description="Who saved this version.")
    created_at: str
    updated_at: str
    archived_at: str | None


class TemplateSaved(TemplatePublic):
    changed: bool = Field(description="False when the content was the current version's.")
    sample: dict[str, Any] = Field(description="The parts rendered for a sample person.")


class TemplatePreview(BaseModel):
    name: str
    channel: str
    version: int
    profile_id: str | None = Field(description="Whose data it was rendered with (null: sample).")
    rendered: dict[str, Any]


@router.get("", response_model=list[TemplatePublic], summary="List templates")
def list_templates(
    platform: PlatformDep,
    archived: Annotated[bool, Query(description="Include archived templates.")] = False,
) -> Any:
    return platform.templates.list(archived=archived)


@router.put(
    "/{name}",
    response_model=TemplateSaved,
    summary="Save a template (create it, or add a version when the content changed)",
)
def save_template(
    name: NamePath, body: TemplateSave, platform: PlatformDep, who: PrincipalDep
) -> Any:
    """Refused (400) when a part cannot render, with the part, the line and the variable."""
    return platform.templates.save(
        name,
        channel=body.channel,
        content=body.content,
        kind=body.kind,
        description=body.description,
        created_by=acting(who, body.created_by),
    )


@router.get("/{name}", response_model=TemplatePublic, summary="One template (current version)")
def show_template(
    name: NamePath,
    platform: PlatformDep,
    version: Annotated[int | None, Query(ge=1, description="An older version.")] = None,
) -> Any:
    return platform.templates.get(name, version=version)


@router.get(
    "/{name}/versions", response_model=list[TemplatePublic], summary="Every version, oldest first"
)
def template_versions(name: NamePath, platform: PlatformDep) -> Any:
    return platform.templates.versions(name)


@router.post(
    "/{name}/preview",
    response_model=TemplatePreview,
    summary="Render a template for a real person (any identifier) or the sample person",
)
def preview_template(
    name: NamePath,
    platform: PlatformDep,
    profile: Annotated[
        str | None, Query(description="TYPE:VALUE of the person, e.g. email:ann@example.com.")
    ] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    campaign: Annotated[str | None, Query()] = None,
) -> Any:
    from omnichannel.errors import ConflictError, NotFoundError
    from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError

    try:
        return platform.templates.preview(name, profile=profile, version=version, campaign=campaign)
    except ProfileNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except AmbiguousIdentifierError as exc:
        raise ConflictError(str(exc)) from None


@router.post("/{name}/archive", response_model=TemplatePublic, summary="Archive a template")
def archive_template(
    name: NamePath,
    platform: PlatformDep,
    who: PrincipalDep,
    actor: Annotated[str, Query(description="Who archives it (audited).")] = "api",
) -> Any:
    return platform.templates.archive(name, actor=acting(who, actor))
