"""Putting people into a journey: the one place enrolment rows are made.

Every entry (an event, a segment change, a date or schedule tick, another journey's
``enter`` step) comes here as a candidate: who (``subject``, the profile id when known,
else the entry event's identifier ``user_id:42``), which thing in flight (``entry_key``,
``''`` when the journey is not keyed), which entry (``entry_ref``: the event's message
id, ``schedule:...``, ``date:...``, ``enter:<enrolment>:<visit>``) and what it brought
(``context``). A candidate is enrolled, or refused with one reason:

- ``duplicate``: this entry was enrolled already (a replayed event, a re-run tick);
- ``in_flight_same_key``: the person is in the journey now with the same entry key;
- ``reentry``: the person went through before (same entry key) and the re-entry rule
  (``never``; ``after`` a wait since their last entry) does not let them again;
- ``audience``: the journey has an ``audience`` segment and the person is not in it now
  (membership read from the warehouse, one query per batch);
- ``limit:entries_per_day`` / ``limit:in_flight``: the journey's cap, counted in the
  operational store (entries since 00:00 UTC; open enrolments).

The database enforces the two uniqueness rules (``entry_ref`` per journey; ``open_key``
per journey while open), so a race between two enrollers cannot break them: rows are
inserted with ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL), and a row the database
refused is reported as ``duplicate`` / ``in_flight_same_key`` without costing the rest
of the batch. ``enrol_many`` takes a list of candidates and costs a handful of queries
however many there are (reads of ``CHUNK`` values, inserts of ``INSERT_CHUNK`` rows),
which is what the trigger and the scheduled entries use; ``enrol`` is one candidate (an
``enter`` step).

Nothing here commits: the caller's session decides (the engine enrols in the
transaction that records its ``enter`` step).

Example::

    with platform.opstore.session() as session:
        result = enrol(session, journey, definition, subject="p-1", profile_id="p-1",
                       entry_key="cart-7", entry_ref="msg-123",
                       context={"event": "Product Added", "entry": {"cartId": "cart-7"}},
                       now=utcnow(), warehouse=platform.warehouse)
        result.enrolled, result.reason
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnichannel.journeys.definition import JourneyDefinition
from omnichannel.journeys.people import fit
from omnichannel.opstore.models import (
    EnrolmentState,
    Journey,
    JourneyEnrolment,
)

if TYPE_CHECKING:
    from omnichannel.warehouse.access import WarehouseAccess

# Values per IN list (SQLite allows 32,766 parameters, PostgreSQL 65,535), and rows per
# insert (about 15 parameters each): a runner's batch of 10,000 events is a few queries.
CHUNK = 5_000
INSERT_CHUNK = 500
SEP = "\x1f"

DUPLICATE = "duplicate"
IN_FLIGHT_SAME_KEY = "in_flight_same_key"
REENTRY = "reentry"
AUDIENCE = "audience"
LIMIT_PER_DAY = "limit:entries_per_day"
LIMIT_IN_FLIGHT = "limit:in_flight"
REASONS = (DUPLICATE, IN_FLIGHT_SAME_KEY, REENTRY, AUDIENCE, LIMIT_PER_DAY, LIMIT_IN_FLIGHT)


@dataclass(frozen=True)
class EnrolResult:
    """What became of one candidate: enrolled (with the new row's id), or why not."""

    enrolled: bool
    enrolment_id: int | None
    reason: str | None


@dataclass(frozen=True)
class Candidate:
    """Someone who may enter; ``aliases`` are other subjects the same person may be
    enrolled under (the identifiers ``user_id:42`` / ``anonymous_id:abc`` of an entry
    made before their profile was known), so re-entry and "already in" see them too."""

    subject: str
    entry_ref: str
    profile_id: str | None = None
    entry_key: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    # When the first step is due (a schedule's local moment); None: now.
    due_at: datetime | None = None
    aliases: tuple[str, ...] = ()

    @property
    def open_key(self) -> str:
        return open_key(self.subject, self.entry_key)

    def subjects(self) -> tuple[str, ...]:
        extra = (self.profile_id,) if self.profile_id else ()
        return tuple(dict.fromkeys((self.subject, *extra, *self.aliases)))


def open_key(subject: str, entry_key: str) -> str:
    """The value of ``journey_enrolments.open_key`` while an enrolment is open."""
    return f"{subject}{SEP}{entry_key}"


def enrol(
    session: Session,
    journey: Journey,
    definition: JourneyDefinition,
    *,
    subject: str,
    profile_id: str | None,
    entry_key: str,
    entry_ref: str,
    context: dict[str, Any],
    now: datetime,
    due_at: datetime | None = None,
    aliases: Sequence[str] = (),
    warehouse: WarehouseAccess | None = None,
    members: Collection[str] | None = None,
) -> EnrolResult:
    """Enrol one person (see the module doc); ``warehouse`` (or ``members``, the
    audience's members among the candidates) is needed when the journey has an audience."""
    candidate = Candidate(
        subject=subject,
        entry_ref=entry_ref,
        profile_id=profile_id,
        entry_key=entry_key or "",
        context=context,
        due_at=due_at,
        aliases=tuple(aliases),
    )
    return enrol_many(
        session, journey, definition, [candidate], now=now, warehouse=warehouse, members=members
    )[0]


def enrol_many(
    session: Session,
    journey: Journey,
    definition: JourneyDefinition,
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    warehouse: WarehouseAccess | None = None,
    members: Collection[str] | None = None,
) -> list[EnrolResult]:
    """Enrol each candidate or say why not, in order; one result per candidate.

    Earlier candidates win within a batch (the same entry twice: the second is a
    duplicate; two carts of one person are two enrolments)."""
    if not candidates:
        return []
    # Long message ids and user ids are kept as their start and a hash (``people.fit``).
    candidates = [
        replace(
            c,
            subject=fit(c.subject),
            entry_ref=fit(c.entry_ref),
            aliases=tuple(fit(a) for a in c.aliases),
        )
        for c in candidates
    ]
    now = _aware(now)
    reasons: list[str | None] = [None] * len(candidates)
    _refuse_known(session, journey, definition, candidates, reasons, now)
    audience = definition.entry.audience
    if audience is not None:
        inside = members
        if inside is None:
            if warehouse is None:
                raise ValueError(
                    f"journey {journey.name} has audience {audience}: pass warehouse or members"
                )
            wanted = [c.profile_id for c, r in zip(candidates, reasons, strict=True) if not r]
            inside = audience_members(warehouse, audience, [p for p in wanted if p])
        for i, c in enumerate(candidates):
            if reasons[i] is None and (c.profile_id is None or c.profile_id not in inside):
                reasons[i] = AUDIENCE
    _apply_limits(session, journey, definition, reasons, now)
    rows = [
        _row(journey, definition, c, now)
        for c, r in zip(candidates, reasons, strict=True)
        if r is None
    ]
    made = _insert(session, rows)
    results: list[EnrolResult] = []
    lost: list[int] = []
    for i, c in enumerate(candidates):
        if reasons[i] is not None:
            results.append(EnrolResult(False, None, reasons[i]))
        elif c.entry_ref in made:
            results.append(EnrolResult(True, made[c.entry_ref], None))
        else:
            lost.append(i)
            results.append(EnrolResult(False, None, IN_FLIGHT_SAME_KEY))
    if lost:
        # Refused by the database after the checks passed: another enroller got there
        # first. Which rule it was is read back (rare: only under a race).
        refs = _existing_refs(session, journey.id, [candidates[i].entry_ref for i in lost])
        for i in lost:
            if candidates[i].entry_ref in refs:
                results[i] = EnrolResult(False, None, DUPLICATE)
    return results


# --- the checks ------------------------------------------------------------------------


def _refuse_known(
    session: Session,
    journey: Journey,
    definition: JourneyDefinition,
    candidates: Sequence[Candidate],
    reasons: list[str | None],
    now: datetime,
) -> None:
    """Duplicate entries, people in flight with the key, and re-entry, from the store."""
    refs = _existing_refs(session, journey.id, [c.entry_ref for c in candidates])
    rule = definition.reentry
    if rule.mode == "always":
        # Only an open enrolment with the key can refuse: looked up by open key (the
        # (journey_id, open_key) index), not through the person's whole history.
        wanted = sorted({open_key(s, c.entry_key) for c in candidates for s in c.subjects()})
        flying = _open_keys(session, journey.id, wanted)
        history = {
            (s, c.entry_key): [_Past(now, True)]
            for c in candidates
            for s in c.subjects()
            if open_key(s, c.entry_key) in flying
        }
    else:
        subjects = sorted({s for c in candidates for s in c.subjects()})
        history = _history(session, journey.id, subjects, [c.entry_key for c in candidates])
    seen_refs: set[str] = set()
    taken: set[str] = set()  # open keys enrolled earlier in this batch
    for i, c in enumerate(candidates):
        if c.entry_ref in refs or c.entry_ref in seen_refs:
            reasons[i] = DUPLICATE
            continue
        seen_refs.add(c.entry_ref)
        mine = [h for s in c.subjects() for h in history.get((s, c.entry_key), ())]
        keys = {open_key(s, c.entry_key) for s in c.subjects()}
        if any(h.is_open for h in mine) or keys & taken:
            reasons[i] = IN_FLIGHT_SAME_KEY
            continue
        if mine and rule.mode == "never":
            reasons[i] = REENTRY
            continue
        if mine and rule.mode == "after" and rule.wait is not None:
            last = max(h.entered_at for h in mine)
            if now < last + rule.wait:
                reasons[i] = REENTRY
                continue
        taken |= keys


@dataclass(frozen=True)
class _Past:
    entered_at: datetime
    is_open: bool


def _history(
    session: Session, journey_id: int, subjects: Sequence[str], keys: Sequence[str]
) -> dict[tuple[str, str], list[_Past]]:
    """Earlier enrolments of these people with these keys: per (who, key) the last entry
    and whether one is open. By ``subject`` (the ``(subject, journey_id)`` index; every
    subject a person may be enrolled under is among ``subjects``), grouped in the query,
    so a person who has been through a hundred times is one row, not a hundred."""
    found: dict[tuple[str, str], list[_Past]] = {}
    e = JourneyEnrolment
    wanted = sorted(set(keys))
    for chunk in _chunks(subjects):
        rows = session.execute(
            select(e.subject, e.entry_key, func.max(e.entered_at), func.count(e.open_key))
            .where(e.subject.in_(chunk), e.journey_id == journey_id, e.entry_key.in_(wanted))
            .group_by(e.subject, e.entry_key)
        )
        for subject, key, entered_at, open_count in rows:
            # max() comes back as text on SQLite: the column's type does not carry over.
            last = entered_at if isinstance(entered_at, datetime) else _parse(entered_at)
            found.setdefault((subject, key), []).append(_Past(last, bool(open_count)))
    return found


def _parse(value: object) -> datetime:
    return _aware(datetime.fromisoformat(str(value)))


def _open_keys(session: Session, journey_id: int, keys: Sequence[str]) -> set[str]:
    e = JourneyEnrolment
    found: set[str] = set()
    for chunk in _chunks(keys):
        found |= {
            str(k)
            for k in session.scalars(
                select(e.open_key).where(e.journey_id == journey_id, e.open_key.in_(chunk))
            )
        }
    return found


def _existing_refs(session: Session, journey_id: int, refs: Sequence[str]) -> set[str]:
    e = JourneyEnrolment
    found: set[str] = set()
    for chunk in _chunks(sorted(set(refs))):
        found |= set(
            session.scalars(
                select(e.entry_ref).where(e.journey_id == journey_id, e.entry_ref.in_(chunk))
            )
        )
    return found


def audience_members(
    warehouse: WarehouseAccess, segment: str, profile_ids: Iterable[str]
) -> set[str]:
    """Which of ``profile_ids`` are in ``segment`` now (its open membership rows)."""
    ids = sorted(set(profile_ids))
    inside: set[str] = set()
    if not ids:
        return inside
    with warehouse.reader() as wh:
        m = wh.table("segment_memberships")
        for chunk in _chunks(ids):
            rows = m.filter(
                m.segment == segment, m.exited_at.isnull(), m.profile_id.isin(chunk)
            ).select("profile_id")
            inside |= {str(p) for p in rows.to_pyarrow().column(0).to_pylist()}
    return inside


def _apply_limits(
    session: Session,
    journey: Journey,
    definition: JourneyDefinition,
    reasons: list[str | None],
    now: datetime,
) -> None:
    """Refuse the candidates past the journey's cap, in order (earlier ones enter)."""
    limits = definition.limits
    e = JourneyEnrolment
    room: list[tuple[str, int]] = []
    if limits.entries_per_day is not None:
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        today = session.scalar(
            select(func.count()).where(e.journey_id == journey.id, e.entered_at >= day)
        )
        room.append((LIMIT_PER_DAY, limits.entries_per_day - int(today or 0)))
    if limits.in_flight is not None:
        # Open means open_key is set: the (journey_id, open_key) index counts them.
        flying = session.scalar(
            select(func.count()).where(e.journey_id == journey.id, e.open_key.is_not(None))
        )
        room.append((LIMIT_IN_FLIGHT, limits.in_flight - int(flying or 0)))
    if not room:
        return
    left = dict(room)
    for i, reason in enumerate(reasons):
        if reason is not None:
            continue
        full = next((name for name, _ in room if left[name] <= 0), None)
        if full is not None:
            reasons[i] = full
            continue
        for name in left:
            left[name] -= 1


# --- the rows --------------------------------------------------------------------------


def _row(
    journey: Journey, definition: JourneyDefinition, c: Candidate, now: datetime
) -> dict[str, Any]:
    goal = definition.goal
    return {
        "journey_id": journey.id,
        "journey_version": journey.live_version or journey.version,
        "profile_id": c.profile_id,
        "subject": c.subject,
        "entry_key": c.entry_key,
        "entry_ref": c.entry_ref,
        "open_key": c.open_key,
        "state": EnrolmentState.ACTIVE,
        "step": definition.start,
        "visit": 0,
        "due_at": _aware(c.due_at) if c.due_at is not None else now,
        "context": c.context,
        "goal_until": now + goal.within if goal is not None else None,
        "entered_at": now,
        "updated_at": now,
    }


def _insert(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert, skipping rows a unique constraint refuses; entry_ref -> new id."""
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(JourneyEnrolment).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(JourneyEnrolment).on_conflict_do_nothing()
    else:  # pragma: no cover - the opstore runs on SQLite or PostgreSQL
        raise ValueError(f"the operational store does not run on {dialect}")
    statement = statement.returning(JourneyEnrolment.id, JourneyEnrolment.entry_ref)
    made: dict[str, int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        for row_id, ref in session.execute(statement, rows[start : start + INSERT_CHUNK]):
            made[str(ref)] = int(row_id)
    return made


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _aware(at: datetime) -> datetime:
    """UTC-aware (the warehouse's naive UTC times are read as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
