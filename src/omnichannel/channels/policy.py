"""The rules every message passes, in this order, each naming itself when it holds or drops one.

1. **consent** (per channel): a ``denied`` or ``unsubscribed`` decision drops the message;
   so does the absence of a ``granted`` one on a channel that needs an explicit opt-in
   (``consent.require_opt_in``). The *latest* decision on the person counts, whether it
   was captured on the profile or on one of its identifiers (the address itself
   included): an unsubscribe link clicked after a profile-level opt-in must win, and a
   STOP texted before the phone was stitched into the profile still applies.
2. **suppression**: an address on the channel's suppression list is dropped.
3. **frequency caps** (marketing only): the global caps count the person's marketing
   messages on every channel, the channel's caps those on that channel, over a rolling
   window; messages queued, held, sending or sent count. Over a cap: dropped.
4. **quiet hours** (marketing only), in the person's time zone: held until the window
   ends, then sent (not dropped).

Transactional messages skip 3 and 4, never 1 or 2. The dispatcher checks 1 and 2 again
right before calling the provider, since a person can unsubscribe while a message waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, bindparam, or_, select, text
from sqlalchemy.orm import Session

from omnichannel.channels.settings import ChannelsConfig
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import (
    Consent,
    ConsentStatus,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
)
from omnichannel.opstore.sealed import OUTBOX_ADDRESS, blind, clear_equals

WITHHELD = (ConsentStatus.DENIED, ConsentStatus.UNSUBSCRIBED)
# Messages that count against a cap: on their way or gone.
COUNTED = (OutboxStatus.QUEUED, OutboxStatus.HELD, OutboxStatus.SENDING, OutboxStatus.SENT)
_CHUNK = 400


@dataclass(frozen=True)
class Verdict:
    """What the rules say of one message: queue it, hold it until ``until``, or drop it."""

    status: OutboxStatus
    reason: str | None = None
    detail: str | None = None
    until: datetime | None = None


PASS = Verdict(OutboxStatus.QUEUED)

Subject = tuple[str, str]  # (subject_type, subject_value) of a consent decision


def load_decisions(
    session: Session, channel: str, subjects: Iterable[Subject]
) -> dict[Subject, Consent]:
    """The current consent on ``channel`` of each subject that has one."""
    by_type: dict[str, list[str]] = {}
    for subject_type, value in sorted(set(subjects)):
        by_type.setdefault(subject_type, []).append(value)
    # One statement per subject type with an expanding IN: compiled once and cached (an
    # OR of a pair per subject was compiled anew for every batch, most of a claim's time).
    statement = select(Consent).where(
        Consent.channel == bindparam("channel"),
        Consent.subject_type == bindparam("subject_type"),
        Consent.subject_value.in_(bindparam("values", expanding=True)),
    )
    found: dict[Subject, Consent] = {}
    for subject_type, values in by_type.items():
        for start in range(0, len(values), _CHUNK):
            params = {
                "channel": channel,
                "subject_type": subject_type,
                "values": values[start : start + _CHUNK],
            }
            for row in session.scalars(statement, params):
                found[(row.subject_type, row.subject_value)] = row
    return found


def consent_verdict(
    config: ChannelsConfig,
    channel: str,
    subjects: Sequence[Subject],
    decisions: dict[Subject, Consent],
) -> Verdict | None:
    """Drop when the person's latest decision on ``channel`` withholds consent (or none
    was given where an opt-in is required); None: consent allows it."""
    mine = [decisions[s] for s in subjects if s in decisions]
    # Latest first; on a tie the profile's own decision wins, then a withholding one.
    mine.sort(
        key=lambda c: (c.updated_at, c.subject_type == PROFILE_SUBJECT, c.status in WITHHELD),
        reverse=True,
    )
    latest = mine[0] if mine else None
    if latest is not None and latest.status in WITHHELD:
        return Verdict(
            OutboxStatus.DROPPED,
            "consent",
            f"{latest.subject_type}:{latest.subject_value} is {latest.status.value} on "
            f"{channel} (since {latest.updated_at:%Y-%m-%d %H:%M} UTC, "
            f"{latest.source or 'no source'})",
        )
    if channel in config.consent.require_opt_in and (
        latest is None or latest.status != ConsentStatus.GRANTED
    ):
        return Verdict(
            OutboxStatus.DROPPED,
            "consent",
            f"{channel} needs an explicit opt-in (consent.require_opt_in) and none is recorded",
        )
    return None


@dataclass(frozen=True)
class Sent:
    """A message that counts against caps: its channel and when it was queued or sent."""

    channel: str
    at: datetime


# Any constant: the advisory lock under which capped marketing messages are counted and
# enqueued on PostgreSQL ("omnicaps" in ASCII).
_CAPS_LOCK_KEY = 0x6F6D6E6963617073


def lock_caps(session: Session) -> None:
    """Make this transaction the only one counting and enqueueing capped messages until it
    commits, so two sends racing for one person cannot both pass a cap.

    Must be the transaction's first statement. PostgreSQL: a transaction-scoped advisory
    lock. SQLite: a write that matches nothing takes the database's write lock now (a
    deferred transaction that read first could not upgrade without risking SQLITE_BUSY).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CAPS_LOCK_KEY})
    else:
        session.execute(text("UPDATE outbox SET id = id WHERE 0 = 1"))


def load_history(
    session: Session,
    *,
    profile_ids: Sequence[str],
    addresses: Sequence[tuple[str, str]],
    since: datetime,
) -> dict[str, list[Sent]]:
    """Marketing messages since ``since`` per profile id, and per ``channel:address`` for
    messages without a profile."""
    history: dict[str, list[Sent]] = {}
    base = select(
        OutboxMessage.profile_id,
        OutboxMessage.channel,
        OutboxMessage.address,
        OutboxMessage.created_at,
        OutboxMessage.sent_at,
    ).where(
        OutboxMessage.kind == MessageKind.MARKETING,
        OutboxMessage.status.in_(COUNTED),
        OutboxMessage.created_at >= since,
    )
    ids = sorted(set(profile_ids))
    for start in range(0, len(ids), _CHUNK):
        query = base.where(OutboxMessage.profile_id.in_(ids[start : start + _CHUNK]))
        for row in session.execute(query):
            history.setdefault(row.profile_id, []).append(
                Sent(row.channel, row.sent_at or row.created_at)
            )
    pairs = sorted(set(addresses))
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        # The address is sealed: found by its blind index, or in clear in rows written
        # before sealing (no key). Grouped by channel, so the claim index on the channel
        # still narrows the rows (an OR across channels made it a scan of the outbox).
        by_channel: dict[str, list[str]] = {}
        for c, a in chunk:
            by_channel.setdefault(c, []).append(a)
        test = or_(
            *(
                and_(
                    OutboxMessage.channel == c,
                    or_(
                        OutboxMessage.address_key.in_(
                            [k for a in found if (k := blind(session, OUTBOX_ADDRESS, a))]
                        ),
                        and_(
                            OutboxMessage.address_key.is_(None),
                            or_(*(clear_equals(OutboxMessage.address, a) for a in found)),
                        ),
                    ),
                )
                for c, found in by_channel.items()
            )
        )
        query = base.where(OutboxMessage.profile_id.is_(None), test)
        for row in session.execute(query):
            history.setdefault(f"{row.channel}:{row.address}", []).append(
                Sent(row.channel, row.sent_at or row.created_at)
            )
    return history


def longest_window(config: ChannelsConfig) -> timedelta:
    caps = [*config.caps.marketing, *(c for cs in config.caps.channels.values() for c in cs)]
    return max((cap.per for cap in caps), default=timedelta(0))


def cap_verdict(
    config: ChannelsConfig, channel: str, history: Sequence[Sent], now: datetime
) -> Verdict | None:
    """Drop a marketing message that would exceed a global or a channel cap."""
    for scope, caps, counted in (
        ("marketing", config.caps.marketing, history),
        (
            channel,
            config.caps.channels.get(channel, []),
            [s for s in history if s.channel == channel],
        ),
    ):
        for cap in caps:
            since = now - cap.per
            sent = sum(1 for s in counted if s.at >= since)
            if sent >= cap.count:
                where = "on every channel" if scope == "marketing" else f"on {channel}"
                return Verdict(
                    OutboxStatus.DROPPED,
                    f"cap:{scope}",
                    f"at most {cap.describe()} marketing messages {where}; "
                    f"{sent} already in the last {cap.describe().split(' per ', 1)[1]}",
                )
    return None


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """The person's zone, or ``default`` when theirs is unknown or not a zone name."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


def quiet_verdict(
    config: ChannelsConfig, channel: str, zone: ZoneInfo, now: datetime
) -> Verdict | None:
    """Hold a marketing message inside the quiet window (local time) until it ends."""
    window = config.quiet_hours.window(channel)
    if window is None or window.start == window.end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    start, end = window.start, window.end
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # crosses midnight: 21:00-08:00
        inside = clock >= start or clock < end
        end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    until = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
    return Verdict(
        OutboxStatus.HELD,
        "quiet_hours",
        f"quiet hours {start:%H:%M}-{end:%H:%M} in {zone.key}; held until "
        f"{until.astimezone(zone):%Y-%m-%d %H:%M} local ({until:%H:%M} UTC)",
        until,
    )
