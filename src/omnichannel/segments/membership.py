"""Segment membership with its history: who is in each segment now, and who was.

``segment_memberships`` holds a row per stay: ``entered_at`` when a person came in,
``exited_at`` NULL while they are still in, set when they leave. A person who comes
back gets a new row, so the table is the whole history and the current members are the
open rows (``current_members``).

``apply`` moves one segment from its open rows to a newly computed member set, in one
warehouse transaction: the exits are closed, the entries opened, a ``Segment Entered``
or ``Segment Exited`` track event is stored for each (with the next ``load_seq``, so a
journey's durable consumer reads them like any event), and the run is recorded in
``segment_refreshes`` (what an incremental run starts from). A reader sees the segment
before or after, never half-moved; a crash part-way leaves all of it as it was, so the
retry finds the same changes to make and no event is published twice. Each event's
``message_id`` is derived from (segment, profile, entered_at), which keeps it unique
even if a row were ever replayed.

With ``scope`` (the profiles that were evaluated), only open rows of those profiles can
close: an incremental or real-time run says nothing about everyone else.

Example::

    with access.writer() as wh:
        change = apply(wh, "vip", members, now=now, version=3)
    change.entered.num_rows, change.exited.num_rows
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.store import conform
from omnichannel.warehouse.tables import BY_NAME, EVENTS, SEGMENT_MEMBERSHIPS, SEGMENT_REFRESHES

MEMBERSHIPS = SEGMENT_MEMBERSHIPS.name
REFRESHES = SEGMENT_REFRESHES.name

ENTERED_EVENT = "Segment Entered"
EXITED_EVENT = "Segment Exited"
SEGMENT_EVENTS = (ENTERED_EVENT, EXITED_EVENT)
# The ``source`` of the events this module publishes; the updater never reacts to them.
EVENT_SOURCE = "omni-segments"
# A replayed change is recognised among the segment events stored this recently.
REPUBLISH_WINDOW = timedelta(days=1)

_KEY = ["segment", "profile_id", "entered_at"]


def current_members(wh: Warehouse, segment: str) -> ir.Table:
    """The profiles in ``segment`` now: one column ``profile_id``."""
    m = wh.table(MEMBERSHIPS)
    return m.filter(m.segment == segment, m.exited_at.isnull()).select("profile_id").distinct()


def history(wh: Warehouse, segment: str, profile_id: str | None = None) -> ir.Table:
    """Every stay in ``segment`` (of one profile, if given), oldest first."""
    m = wh.table(MEMBERSHIPS)
    rows = m.filter(m.segment == segment)
    if profile_id is not None:
        rows = rows.filter(rows.profile_id == profile_id)
    return rows.order_by([rows.entered_at, rows.profile_id])


@dataclass(frozen=True)
class Change:
    """What ``apply`` did: the rows opened and closed, and the events it stored."""

    segment: str
    members: int
    entered: pa.Table  # profile_id, entered_at
    exited: pa.Table  # profile_id, entered_at, exited_at
    events: int


def message_id(segment: str, profile_id: str, entered_at: datetime, event: str) -> str:
    """The same change always gets the same id, so a replay is a duplicate, not news."""
    text = f"{segment}\x1f{profile_id}\x1f{entered_at.isoformat()}\x1f{event}"
    return "seg-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _ids(rows: pa.Table | ir.Table | None) -> pa.Array | None:
    if rows is None:
        return None
    table = rows.to_pyarrow() if isinstance(rows, ir.Table) else rows
    return pc.unique(table.column("profile_id").combine_chunks().cast(pa.string()).drop_null())


def apply(
    wh: Warehouse,
    segment: str,
    members: pa.Table | ir.Table,
    *,
    now: datetime,
    version: int,
    scope: pa.Table | ir.Table | None = None,
    reason: str = "refresh",
    mode: str = "full",
    load_seq: int | None = None,
    profiles_built_at: datetime | None = None,
    seconds: float = 0.0,
    publish: bool = True,
    snapshot_at: datetime | None = None,
) -> Change:
    """Make ``members`` (a ``profile_id`` column) the segment's open rows; see the module doc.

    ``wh`` must hold the writer path (``WarehouseAccess.writer()``): the changes and the
    events' ``load_seq`` numbers are decided inside the transaction. ``snapshot_at`` is
    when ``members`` was evaluated (wall clock, taken before the query): a person whose
    row an evaluation after that has changed (the real-time updater, while a long batch
    refresh ran) is left as that newer evaluation put them.
    """
    now = _naive(now)
    wanted = _ids(members)
    assert wanted is not None
    scoped = _ids(scope)
    evaluated = _naive(snapshot_at) if snapshot_at is not None else _wall_clock()
    rows = _DuckDBRows(con) if (con := raw_duckdb(wh)) is not None else _IbisRows(wh)
    with wh.transaction():
        if snapshot_at is not None:
            newer = rows.changed_after(segment, evaluated)
            if len(newer):
                wanted = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=newer)))
                keep = pc.invert(pc.is_in(scoped, value_set=newer)) if scoped is not None else None
                scoped = scoped if keep is None else pc.filter(scoped, keep)
        else:
            newer = pa.array([], pa.string())
        open_rows = rows.open_rows(segment, scoped)
        if len(newer):
            open_rows = open_rows.filter(
                pc.invert(pc.is_in(open_rows.column("profile_id"), value_set=newer))
            )
        stored = pc.unique(open_rows.column("profile_id").combine_chunks())
        entering = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=stored)))
        if scoped is not None:
            # Evaluated profiles only: a member outside the scope is not news.
            entering = pc.filter(entering, pc.is_in(entering, value_set=scoped))
        leaving_mask = pc.invert(pc.is_in(open_rows.column("profile_id"), value_set=wanted))
        leaving = open_rows.filter(leaving_mask)
        entered = pa.table(
            {
                "profile_id": entering,
                "entered_at": pa.array([now] * len(entering), pa.timestamp("us")),
            }
        )
        exited = pa.table(
            {
                "profile_id": leaving.column("profile_id"),
                "entered_at": leaving.column("entered_at"),
                "exited_at": pa.array([now] * leaving.num_rows, pa.timestamp("us")),
            }
        )
        if leaving.num_rows:
            rows.close(segment, leaving, now, evaluated)
        if entered.num_rows:
            rows.append(
                MEMBERSHIPS,
                entered.append_column("segment", pa.array([segment] * entered.num_rows))
                .append_column("version", pa.array([version] * entered.num_rows, pa.int64()))
                .append_column("reason", pa.array([reason] * entered.num_rows))
                .append_column(
                    "evaluated_at", pa.array([evaluated] * entered.num_rows, pa.timestamp("us"))
                ),
            )
        events = _publish(wh, segment, version, entered, exited) if publish else 0
        members_now = rows.count_open(segment)
        if mode == "realtime" and not (entered.num_rows or exited.num_rows):
            # A real-time batch that moved nobody is not recorded: one row per batch
            # would grow the table by the event rate, not by what happened.
            return Change(segment, members_now, entered, exited, events)
        rows.append(
            REFRESHES,
            pa.table(
                {
                    "segment": [segment],
                    # When it ran (its clock, ``now``, may be another time: "as of").
                    "refreshed_at": pa.array([_wall_clock()], pa.timestamp("us")),
                    "version": pa.array([version], pa.int64()),
                    "mode": [mode],
                    "load_seq": pa.array([load_seq], pa.int64()),
                    "profiles_built_at": pa.array([profiles_built_at], pa.timestamp("us")),
                    "members": pa.array([members_now], pa.int64()),
                    "entered": pa.array([entered.num_rows], pa.int64()),
                    "exited": pa.array([exited.num_rows], pa.int64()),
                    "seconds": [float(seconds)],
                }
            ),
        )
    return Change(segment, members_now, entered, exited, events)


def forget(wh: Warehouse, segment: str) -> None:
    """Drop a deleted segment's memberships and refresh records (its events stay)."""
    with wh.transaction():
        for name in (MEMBERSHIPS, REFRESHES):
            t = wh.table(name)
            keys = t.filter(t.segment == segment).select(*wh.spec(name).key).to_pyarrow()
            wh.delete_keys(name, keys)


def last_refresh(wh: Warehouse, segment: str) -> dict[str, object] | None:
    """The newest ``segment_refreshes`` row of a segment, as a dict (None: never run)."""
    r = wh.table(REFRESHES)
    rows = (
        r.filter(r.segment == segment)
        .order_by([ibis.desc(r.refreshed_at), ibis.desc(r.load_seq)])
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    return rows[0] if rows else None


def _wall_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(at: datetime) -> datetime:
    """UTC-naive, as the warehouse stores times."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def raw_duckdb(wh: Warehouse) -> duckdb.DuckDBPyConnection | None:
    """The DuckDB connection under ``wh`` (its transaction's), or None on other engines."""
    con = getattr(wh.con, "con", None)
    if wh.engine == "duckdb" and isinstance(con, duckdb.DuckDBPyConnection):
        return con
    return None


class _IbisRows:
    """Membership reads and writes through Ibis: every engine."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def open_rows(self, segment: str, scoped: pa.Array | None) -> pa.Table:
        m = self.wh.table(MEMBERSHIPS)
        rows = m.filter(m.segment == segment, m.exited_at.isnull())
        if scoped is not None:
            if len(scoped) == 0:
                return conform(SEGMENT_MEMBERSHIPS, pa.table({}))
            rows = rows.semi_join(ibis.memtable(pa.table({"profile_id": scoped})), "profile_id")
        return conform(SEGMENT_MEMBERSHIPS, rows.to_pyarrow())

    def changed_after(self, segment: str, at: datetime) -> pa.Array:
        m = self.wh.table(MEMBERSHIPS)
        found = m.filter(m.segment == segment, m.evaluated_at > at).select("profile_id")
        return _ids(found.to_pyarrow())

    def close(self, segment: str, leaving: pa.Table, at: datetime, evaluated: datetime) -> None:
        n = leaving.num_rows
        closed = leaving.set_column(
            leaving.schema.get_field_index("exited_at"),
            "exited_at",
            pa.array([at] * n, pa.timestamp("us")),
        ).set_column(
            leaving.schema.get_field_index("evaluated_at"),
            "evaluated_at",
            pa.array([evaluated] * n, pa.timestamp("us")),
        )
        self.wh.delete_keys(MEMBERSHIPS, leaving.select(_KEY))
        self.wh.append(MEMBERSHIPS, closed)

    def append(self, name: str, rows: pa.Table) -> None:
        self.wh.append(name, rows)

    def count_open(self, segment: str) -> int:
        m = self.wh.table(MEMBERSHIPS)
        value = m.filter(m.segment == segment, m.exited_at.isnull()).count().to_pyarrow().as_py()
        return int(value or 0)


class _DuckDBRows:
    """The same as statements on DuckDB's connection: the real-time updater runs these
    for every batch, and Ibis's compilation would cost more than the work itself."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def _staged(self, rows: pa.Table) -> str:
        name = f"_omni_seg_{uuid.uuid4().hex[:12]}"
        self.con.register(name, rows)
        return name

    def open_rows(self, segment: str, scoped: pa.Array | None) -> pa.Table:
        sql = f'SELECT * FROM "{MEMBERSHIPS}" WHERE segment = $segment AND exited_at IS NULL'
        if scoped is None:
            found = self.con.execute(sql, {"segment": segment}).to_arrow_table()
            return conform(SEGMENT_MEMBERSHIPS, found)
        if len(scoped) == 0:
            return conform(SEGMENT_MEMBERSHIPS, pa.table({}))
        name = self._staged(pa.table({"profile_id": scoped}))
        try:
            found = self.con.execute(
                f'{sql} AND profile_id IN (SELECT profile_id FROM "{name}")', {"segment": segment}
            ).to_arrow_table()
        finally:
            self.con.unregister(name)
        return conform(SEGMENT_MEMBERSHIPS, found)

    def changed_after(self, segment: str, at: datetime) -> pa.Array:
        found = self.con.execute(
            f'SELECT DISTINCT profile_id FROM "{MEMBERSHIPS}" '
            "WHERE segment = $segment AND evaluated_at > $at",
            {"segment": segment, "at": at},
        ).to_arrow_table()
        return _ids(found)

    def close(self, segment: str, leaving: pa.Table, at: datetime, evaluated: datetime) -> None:
        name = self._staged(leaving.select(["profile_id", "entered_at"]))
        try:
            self.con.execute(
                f'UPDATE "{MEMBERSHIPS}" SET exited_at = $at, evaluated_at = $evaluated '
                f'FROM "{name}" AS k '
                f'WHERE "{MEMBERSHIPS}".segment = $segment '
                f'AND "{MEMBERSHIPS}".profile_id = k.profile_id '
                f'AND "{MEMBERSHIPS}".entered_at = k.entered_at '
                f'AND "{MEMBERSHIPS}".exited_at IS NULL',
                {"at": at, "evaluated": evaluated, "segment": segment},
            )
        finally:
            self.con.unregister(name)

    def append(self, name: str, rows: pa.Table) -> None:
        staged = self._staged(conform(BY_NAME[name], rows))
        try:
            self.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{staged}"')
        finally:
            self.con.unregister(staged)

    def count_open(self, segment: str) -> int:
        row = self.con.execute(
            f'SELECT count(*) FROM "{MEMBERSHIPS}" WHERE segment = $segment AND exited_at IS NULL',
            {"segment": segment},
        ).fetchone()
        return int(row[0]) if row else 0


def _event_rows(
    segment: str, version: int, entered: pa.Table, exited: pa.Table, stored_at: datetime
) -> pa.Table:
    rows: dict[str, list[object]] = {
        "message_id": [],
        "event": [],
        "timestamp": [],
        "properties": [],
    }
    changes = [(ENTERED_EVENT, entered)] if entered.num_rows else []
    if exited.num_rows:
        changes.append((EXITED_EVENT, exited))
    for event, table in changes:
        for row in table.to_pylist():
            properties = {
                "segment": segment,
                "version": version,
                "profile_id": row["profile_id"],
                "entered_at": row["entered_at"].isoformat(),
            }
            if event == EXITED_EVENT:
                properties["exited_at"] = row["exited_at"].isoformat()
            made = message_id(segment, row["profile_id"], row["entered_at"], event)
            rows["message_id"].append(made)
            rows["event"].append(event)
            rows["timestamp"].append(row.get("exited_at") or row["entered_at"])
            rows["properties"].append(json.dumps(properties, separators=(",", ":")))
    count = len(rows["message_id"])
    # No user_id or anonymous_id: the person is properties.profile_id, and identity
    # resolution must not mistake a profile id for a new identifier.
    return conform(
        EVENTS,
        {
            **rows,
            "type": ["track"] * count,
            "source": [EVENT_SOURCE] * count,
            "channel": ["server"] * count,
            "original_timestamp": rows["timestamp"],
            # Stored now, whatever time the run evaluated at (a refresh may be "as of").
            "received_at": [stored_at] * count,
            "loaded_at": [stored_at] * count,
            "context": ["{}"] * count,
        },
    )


def _publish(wh: Warehouse, segment: str, version: int, entered: pa.Table, exited: pa.Table) -> int:
    """Store the change events the way the loader stores events (``Warehouse.append_new``:
    the next ``load_seq`` numbers under the numbering lock, held until this transaction
    commits), skipping any ``message_id`` stored in the last ``REPUBLISH_WINDOW``."""
    stored_at = _wall_clock()
    rows = _event_rows(segment, version, entered, exited, stored_at)
    if rows.num_rows == 0:
        return 0
    since = stored_at - REPUBLISH_WINDOW
    return wh.append_new(EVENTS.name, rows, ("message_id",), since=since).written
