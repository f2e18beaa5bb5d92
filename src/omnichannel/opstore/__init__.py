"""The operational store: definitions and mutable state (SQLite default, PostgreSQL).

Append-only facts (events, orders, deliveries) live in the warehouse; what lives here
is edited in place and read by key: users, sources and write keys, segment and journey
definitions, journey enrolments, consent and the audit log.
"""

from __future__ import annotations

# Importing audit also installs its guard that keeps the audit log append-only.
from omnichannel.opstore.audit import AuditLogError, record
from omnichannel.opstore.database import OpStore, OpStoreError, open_opstore
from omnichannel.opstore.migrate import current_revision, head_revision

__all__ = [
    "AuditLogError",
    "OpStore",
    "OpStoreError",
    "current_revision",
    "head_revision",
    "open_opstore",
    "record",
]
