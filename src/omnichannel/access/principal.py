"""Who is acting: a user (signed in, or by an API token), or the installation's admin token.

Every face turns its credentials into a ``Principal``; the library takes its ``actor``
(the name the audit log records) and the faces check its ``role`` against
``permissions``. The CLI on the machine itself acts as ``cli:<login>`` with the admin
role: whoever can run it can read the home's files anyway.

Example::

    who = Principal.cli()
    who.check("segments:write")          # admins may
    platform.segments.update("vip", doc, actor=who.actor)
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from omnichannel.access.permissions import allowed, check


def os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def cli_actor() -> str:
    """The audit log's name for a CLI command run on this machine: ``cli:<login>``."""
    return f"cli:{os_login()}"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``kind``: session, api_token, admin_token or cli."""

    actor: str
    role: str
    kind: str
    user_id: int | None = None
    email: str | None = None
    must_change_password: bool = False

    @classmethod
    def cli(cls) -> Principal:
        return cls(actor=cli_actor(), role="admin", kind="cli")

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    def check(self, permission: str) -> None:
        check(self.role, permission, who=self.actor)

    @property
    def sees_pii(self) -> bool:
        return self.can("profiles:read_pii")

    def public(self) -> dict[str, object]:
        return {
            "actor": self.actor,
            "role": self.role,
            "kind": self.kind,
            "email": self.email,
            "must_change_password": self.must_change_password,
        }
