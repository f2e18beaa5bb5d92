"""Every table of the operational store; importing this fills ``Base.metadata``."""

from __future__ import annotations

from omnichannel.opstore.models.access import Source, SourceKind, User, UserRole, WriteKey
from omnichannel.opstore.models.base import NAMING_CONVENTION, Base, UTCDateTime, utcnow
from omnichannel.opstore.models.marketing import (
    OPEN_ENROLMENT_STATES,
    EnrolmentState,
    JourneyDefinition,
    JourneyEnrolment,
    JourneyStatus,
    SegmentDefinition,
)
from omnichannel.opstore.models.privacy import (
    AuditEntry,
    Consent,
    ConsentChannel,
    ConsentStatus,
)

__all__ = [
    "NAMING_CONVENTION",
    "OPEN_ENROLMENT_STATES",
    "AuditEntry",
    "Base",
    "Consent",
    "ConsentChannel",
    "ConsentStatus",
    "EnrolmentState",
    "JourneyDefinition",
    "JourneyEnrolment",
    "JourneyStatus",
    "SegmentDefinition",
    "Source",
    "SourceKind",
    "UTCDateTime",
    "User",
    "UserRole",
    "WriteKey",
    "utcnow",
]
