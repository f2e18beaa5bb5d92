"""``platform.access``: the roles table, the audit log, and role checks for library calls.

Example::

    platform.access.roles()["approver"]            # the approver's permissions
    platform.access.audit(target="journey:cart")   # newest first, with before and after
    platform.access.check_actor("li@shop.example", "journeys:approve")
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.access import audit
from omnichannel.access.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES, AccessDenied
from omnichannel.opstore.models import User, UserRole

if TYPE_CHECKING:
    from omnichannel.platform import Platform


class AccessCapability:
    """Roles, permissions and the audit log of one installation."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @staticmethod
    def roles() -> dict[str, list[str]]:
        """Each role and the permissions it has, in the table's order."""
        return {r: [p for p in PERMISSIONS if p in ROLE_PERMISSIONS[r]] for r in ROLES}

    @staticmethod
    def permissions() -> dict[str, str]:
        return dict(PERMISSIONS)

    def audit(
        self,
        *,
        target: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The audit log, newest first (see ``access.audit.entries``)."""
        return audit.entries(
            self._platform.opstore,
            target=target,
            actor=actor,
            action=action,
            since=since,
            limit=limit,
        )

    def check_actor(self, actor: str, permission: str) -> None:
        """When ``actor`` is a user, their role must have ``permission`` (AccessDenied).

        Actors that are no user (``cli:ana``, an admin token, ``omni demo``) act with the
        installation's own authority and are checked by the face that let them in.
        """
        with self._platform.opstore.session() as session:
            user = session.scalars(select(User).where(User.email == actor)).first()
            if user is None:
                return
            role = UserRole(user.role).value
        if permission not in ROLE_PERMISSIONS[role]:
            raise AccessDenied(actor, role, permission)
