"""Finding the person a page is asked about, and what the signed-in user may see of them."""

from __future__ import annotations

from fastapi import Request

from omnichannel.errors import ValidationError
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import gettext as _


def identifier_of(query: str) -> str:
    """``TYPE:VALUE`` for what a person typed: an email, a phone, a profile id, a user id."""
    text = query.strip()
    if not text:
        raise ValidationError("q", query, "an email, a phone number, a user id or TYPE:VALUE")
    kind, sep, _rest = text.partition(":")
    if sep and kind.isidentifier():
        return text
    if "@" in text:
        return f"email:{text}"
    if text.startswith("p_"):
        return f"profile_id:{text}"
    digits = text.replace(" ", "").replace("-", "")
    if digits.lstrip("+").isdigit() and len(digits.lstrip("+")) >= 7:
        return f"phone:{digits}"
    return f"user_id:{text}"


def lookup_error(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, ProfileNotFoundError):
        return _("No profile holds %(identifier)s.") % {"identifier": exc.identifier}, 404
    if isinstance(exc, AmbiguousIdentifierError):
        return (
            _("%(identifier)s is shared by several profiles: %(profiles)s")
            % {"identifier": exc.identifier, "profiles": ", ".join(exc.profiles)},
            409,
        )
    return str(exc), 400


def masked_for(request: Request) -> bool:
    """Whether the signed-in user may not see contact details (the service desk's role)."""
    principal = getattr(request.state, "principal", None)
    return principal is not None and not principal.sees_pii


def require_permission(request: Request, permission: str) -> None:
    """Refuse (403) a page to a signed-in user without ``permission``: for a page whose GET
    the page gate counts as a read by its path although it is for those who may save."""
    from omnichannel.access.api import forbidden

    user = getattr(request.state, "principal", None)
    if user is not None and not user.can(permission):
        raise forbidden(user, permission)
