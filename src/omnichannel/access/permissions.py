"""Who may do what: the six roles and the actions each may take, in one table.

An action is ``resource:verb``. ``read`` never changes anything; every other verb does,
except ``profiles:read_pii`` (see unmasked emails and phones) and ``warehouse:query``
(read-only SQL, which reads every column, so only roles that see personal data get it).

Example::

    allowed("marketer", "segments:write")     # True
    allowed("viewer", "segments:write")       # False
    check("viewer", "segments:write")         # raises AccessDenied naming the role
"""

from __future__ import annotations

from omnichannel.errors import OmniError

ROLES: tuple[str, ...] = (
    "admin",
    "marketer",
    "analyst",
    "approver",
    "viewer",
    "service_desk",
    "dpo",
)

# Every action a route, page or library call can require, with what it lets one do.
PERMISSIONS: dict[str, str] = {
    "warehouse:read": "list tables and row counts, the installation's status",
    "warehouse:query": "run read-only SQL on the warehouse (reads personal data too)",
    "sources:read": "list sources and their keys' prefixes",
    "sources:write": "create sources, add and revoke write keys",
    "events:read": "stored events' statistics, dead letters",
    "profiles:read": "look people up: 360° card, traits, timeline (contact details masked)",
    "profiles:read_pii": "see emails and phones unmasked",
    "interactions:write": "record an interaction with a customer (the service desk's note)",
    "segments:read": "list, show, preview, explain segments and their members",
    "segments:write": "create, change, refresh, delete segments",
    "segments:export": "export a segment's members (hashed identifiers)",
    "journeys:read": "list, show, validate, simulate journeys and their counts",
    "journeys:write": "create journeys and save new versions",
    "journeys:approve": "approve a version someone else wrote",
    "journeys:operate": "start, pause, resume, archive a journey",
    "templates:read": "list and preview message templates",
    "templates:write": "save and archive templates",
    "messages:read": "the delivery log, channel health, suppressions",
    "messages:send": "send messages, add and remove suppressions",
    "messages:approve": "approve a large send (above OMNI_LARGE_SEND_THRESHOLD people)",
    "audiences:read": "list ad-audience destinations",
    "audiences:sync": "upload a segment to an ad platform",
    "analytics:read": "attribution, send-time peaks, reports",
    "analytics:run": "fit models (send times) on the warehouse",
    "reports:write": "save, change, share, schedule and delete one's own reports",
    "jobs:read": "background jobs and their runs",
    "jobs:run": "start a job now",
    "users:read": "list users and their roles",
    "users:write": "create, disable, enable users, change roles, reset passwords",
    "tokens:write": "create and revoke one's own API tokens",
    "audit:read": "read the audit log",
    "comments:read": "read the comments on segments, journeys and reports",
    "comments:write": "comment on segments, journeys and reports, @mention users",
    "surveys:read": "surveys, their results, responses and free-text summaries",
    "surveys:write": "create surveys and save new versions",
    "consent:read": "a person's consent per purpose and channel, and its history",
    "consent:write": "record a consent decision (a form, a call, an import)",
    "privacy:read": "data-subject requests and their deadlines",
    "privacy:export": "export everything held about one person",
    "privacy:erase": "erase one person from every store (irreversible)",
    "admin:all": "what only admins do (routes mounted with AdminDep, not yet given a finer gate)",
}

_READS = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
# admin:all is nobody's but the admins'.
_ALL = frozenset(PERMISSIONS)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _ALL,
    "marketer": _READS - {"users:read", "audit:read"}
    | {
        "profiles:read_pii",
        "interactions:write",
        "segments:write",
        "segments:export",
        "journeys:write",
        "journeys:operate",
        "templates:write",
        "surveys:write",
        "messages:send",
        "audiences:sync",
        "analytics:run",
        "reports:write",
        "tokens:write",
        "comments:write",
    },
    "analyst": _READS - {"users:read", "audit:read"}
    | {
        "warehouse:query",
        "profiles:read_pii",
        "segments:export",
        "analytics:run",
        "reports:write",
        "tokens:write",
        "comments:write",
    },
    # Approvers read what they approve (the journey, its segments and templates) and sign
    # it off; they write nothing themselves.
    "approver": _READS - {"users:read"}
    | {"journeys:approve", "messages:approve", "tokens:write", "comments:write"},
    # Viewers change nothing, but they may join the discussion (comments change no object).
    "viewer": _READS - {"users:read", "audit:read"} | {"comments:write"},
    # A support agent finds one customer and records what happened; contact details masked.
    "service_desk": frozenset(
        {"profiles:read", "interactions:write", "messages:read", "consent:read", "consent:write"}
    ),
    # The data-protection officer answers data-subject requests: finds the person, reads
    # and records consent, exports and erases; changes no campaign.
    "dpo": frozenset(
        {
            "profiles:read",
            "profiles:read_pii",
            "consent:read",
            "consent:write",
            "privacy:read",
            "privacy:export",
            "privacy:erase",
            "audit:read",
            "tokens:write",
        }
    ),
}


class AccessDenied(OmniError):
    """A principal lacks the permission an action needs (403 over HTTP)."""

    def __init__(self, who: str, role: str, permission: str) -> None:
        self.who = who
        self.role = role
        self.permission = permission
        holders = ", ".join(r for r in ROLES if permission in ROLE_PERMISSIONS[r])
        super().__init__(
            f"{who} (role {role}) may not {PERMISSIONS.get(permission, permission)}: "
            f"{permission} needs one of the roles {holders}"
        )


def check_role(role: str) -> str:
    """``role`` if it is one of ours; a ValidationError naming the accepted ones if not."""
    from omnichannel.errors import ValidationError

    if role not in ROLES:
        raise ValidationError("role", role, "one of " + ", ".join(ROLES))
    return role


def allowed(role: str, permission: str) -> bool:
    """May ``role`` take ``permission``? Unknown permissions are a programming error."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; known: {', '.join(PERMISSIONS)}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def check(role: str, permission: str, *, who: str = "this user") -> None:
    """Raise ``AccessDenied`` unless ``role`` has ``permission``."""
    if not allowed(role, permission):
        raise AccessDenied(who, role, permission)


def narrower_or_equal(scope: str, role: str) -> bool:
    """Is every permission of ``scope`` also ``role``'s (a token never widens its user)?"""
    return ROLE_PERMISSIONS[scope] <= ROLE_PERMISSIONS[role]
