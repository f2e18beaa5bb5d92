"""Profile lookup: ``type:value`` -> profile, its traits and its external ids, fast.

Example::

    lookup = ProfileLookup(InstallationConfig.load(settings))
    with open_warehouse(url) as wh:
        ref = lookup.find(wh, "email: Ann@Example.com ")  # normalised like ingestion
        lookup.traits(wh, ref.profile_id, include=["rfm_segment", "tags"])
        external_ids(wh, ref.profile_id)

Why an in-memory index: resolving an identifier is the first step of every Profile API
call and must stay in single-digit milliseconds with millions of identifiers. A query
on ``profile_identifiers`` scans the table (about 30 ms for 3 million rows in DuckDB,
more on PostgreSQL without an index, seconds on Spark), and an engine index would slow
every ``omni identity resolve``, which rewrites the table. So the lookup keeps the
identity graph's answer in memory: every ``type\\x1fvalue`` key, sorted, as an Arrow
string array (about 40 bytes a key: 160 MB for 4 million keys), searched by bisection
(about 25 string comparisons). It is rebuilt when the identity tables change, which is
checked at most every ``check_seconds`` with one aggregate query; in a server (given
``rebuild_with``) that check runs on a watcher thread of its own, so no request waits for
it (about 20 ms, more beside an analytic scan).

The profile row itself is fetched from the ``profiles`` table by ``profile_id``; on
DuckDB and PostgreSQL an index on that column (the build creates it when it swaps the
table in; created here if missing) makes it a point read, and on DuckDB the statement is
compiled from Ibis once per process (the SQL is the same on every thread's cursor) and
then run with a parameter, which saves the 5-80 ms Ibis spends compiling each expression
(it asks the engine for the table's columns); the one row is read with ``fetchone``, not
through Arrow, which costs several milliseconds for a single row of 44 columns.

The lookup carries the installation's configuration (``InstallationConfig``): the region
that normalises phone numbers, and the identity rules the timelines read facts with.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.configuration import InstallationConfig
from omnichannel.errors import OmniError, ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.ingest.normalize import normalize_email, normalize_phone
from omnichannel.warehouse import Warehouse, dialect

log = logging.getLogger(__name__)

PROFILE_ID = "profile_id"
SEP = "\x1f"
# Pseudo-identifiers the identity graph uses for probabilistic links; not a person's ids.
INTERNAL_TYPES = ("linkage",)
# The index the build creates: warehouse.replace.index_name("profiles", ("profile_id",)).
INDEX_NAME = "omni_profiles_profile_id"
_SENTINEL = "omni-lookup-sentinel-7f3a"


class ProfileNotFoundError(OmniError):
    """No profile holds the identifier (the API answers 404)."""

    def __init__(self, id_type: str, id_value: str) -> None:
        self.identifier = f"{id_type}:{id_value}"
        super().__init__(
            f"no profile has identifier {self.identifier} "
            "(run `omni identity resolve` after loading new data)"
        )


class AmbiguousIdentifierError(OmniError):
    """A refused identifier held by several profiles (the API answers 409)."""

    def __init__(self, id_type: str, id_value: str, status: str, profiles: Sequence[str]) -> None:
        self.identifier = f"{id_type}:{id_value}"
        self.profiles = list(profiles)
        shown = ", ".join(self.profiles[:10])
        super().__init__(
            f"identifier {self.identifier} is held by {len(self.profiles)} profiles "
            f"(the identity rules refused it: {status}); look one up by profile_id: {shown}"
        )


@dataclass(frozen=True)
class ProfileRef:
    """The profile an identifier resolved to, with the identifier as normalised."""

    profile_id: str
    id_type: str
    id_value: str
    status: str


def normalise_value(id_type: str, raw: str, *, region: str) -> str:
    """A looked-up value normalised the way ingestion stores it."""
    value = raw.strip()
    if id_type == "email":
        email = normalize_email(value)
        if email is None:
            raise ValidationError("email", raw, "an e-mail address such as ann@example.com")
        return email
    if id_type == "phone":
        phone = normalize_phone(value, region)
        if phone is None:
            raise ValidationError(
                "phone", raw, f"a valid phone number (E.164 such as +8613812345678, or {region})"
            )
        return phone
    return value


def parse_lookup(text: str, *, known_types: Collection[str], region: str) -> tuple[str, str]:
    """``"email:Ann@x.com"`` -> ``("email", "ann@x.com")``; errors name the field."""
    id_type, sep, raw = text.partition(":")
    id_type = id_type.strip()
    if not sep or not id_type or not raw.strip():
        raise ValidationError(
            "identifier", text, "TYPE:VALUE such as email:ann@example.com or user_id:u1"
        )
    if id_type not in known_types:
        raise ValidationError(
            "identifier type", id_type, f"one of {', '.join(sorted(known_types))}"
        )
    return id_type, normalise_value(id_type, raw, region=region)


class _Keys:
    """A sorted Arrow string array seen as a sequence of UTF-8 ``bytes``, for ``bisect``.

    Read straight from the array's offsets and data buffers: one key costs two memoryview
    reads and a slice (about 0.2 us), where ``keys[i].as_py()`` makes an Arrow scalar
    (about 1.5 us); the bisection over 3 million keys takes 22 of them. UTF-8 byte order
    is code-point order, the order the index is sorted in. Nulls (sorted last) are left
    out of the view.
    """

    def __init__(self, keys: pa.Array) -> None:
        _, offsets, data = keys.buffers()
        self._start = keys.offset
        self._length = len(keys) - keys.null_count
        self._offsets: memoryview | None = None
        if offsets is not None:
            wide = pa.types.is_large_string(keys.type)
            self._offsets = memoryview(offsets).cast("q" if wide else "i")
        self._data = memoryview(data) if data is not None else memoryview(b"")

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: int) -> bytes:
        assert self._offsets is not None  # a non-empty view has offsets
        at = self._start + i
        return bytes(self._data[self._offsets[at] : self._offsets[at + 1]])


@dataclass
class ProfileIndex:
    """Sorted ``type\\x1fvalue`` keys with the profile and status of each (Arrow arrays)."""

    keys: pa.Array
    profiles: pa.Array
    statuses: pa.Array
    types: frozenset[str]
    stamp: tuple[Any, ...]
    _keys_view: _Keys | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, wh: Warehouse, stamp: tuple[Any, ...]) -> ProfileIndex:
        pi = wh.table("profile_identifiers")
        pi = pi.filter(~pi.id_type.isin(INTERNAL_TYPES))
        rp = wh.table("record_profiles")
        own = rp.select("profile_id").distinct()
        rows = ibis.union(
            pi.select(
                key=pi.id_type + SEP + pi.id_value, profile_id=pi.profile_id, status=pi.status
            ),
            own.select(
                key=ibis.literal(PROFILE_ID + SEP) + own.profile_id,
                profile_id=own.profile_id,
                status=ibis.literal("linked"),
            ),
            distinct=False,
        ).to_pyarrow()
        # Sorted in Arrow (byte order = Python's str order), not by the engine, whose
        # collation (PostgreSQL's locale) may order strings differently.
        rows = rows.take(pc.sort_indices(rows, sort_keys=[("key", "ascending")]))
        distinct = pi.select("id_type").distinct().to_pyarrow().column(0).to_pylist()
        return cls(
            keys=rows.column("key").combine_chunks(),
            profiles=pc.dictionary_encode(rows.column("profile_id")).combine_chunks(),
            statuses=pc.dictionary_encode(rows.column("status")).combine_chunks(),
            types=frozenset({str(t) for t in distinct} | {PROFILE_ID}),
            stamp=stamp,
        )

    def holders(self, id_type: str, id_value: str) -> list[tuple[str, str]]:
        """``(profile_id, status)`` of every profile holding the identifier."""
        return self._holders_in(*self._range(self._view(), (id_type + SEP + id_value).encode()))

    def sole_linked(self, keys: Iterable[str]) -> dict[str, str]:
        """Of ``type\\x1fvalue`` keys, those linked to exactly one profile, with its id.

        What an event's id resolves to: one bisection per distinct key, so a batch costs
        its own size times log(index), not a scan of the index (the recommendations feed
        runs this on every batch of stored events).
        """
        view = self._view()
        found: dict[str, str] = {}
        for key in set(keys):
            held = self._holders_in(*self._range(view, key.encode()))
            linked = [profile for profile, status in held if status == "linked"]
            if len(linked) == 1:
                found[key] = linked[0]
        return found

    def _holders_in(self, lo: int, hi: int) -> list[tuple[str, str]]:
        return [
            (str(self.profiles[i].as_py()), str(self.statuses[i].as_py())) for i in range(lo, hi)
        ]

    def _view(self) -> _Keys:
        if self._keys_view is None:
            self._keys_view = _Keys(self.keys)
        return self._keys_view

    @staticmethod
    def _range(view: _Keys, key: bytes) -> tuple[int, int]:
        lo = bisect.bisect_left(view, key)
        hi = lo
        while hi < len(view) and view[hi] == key:  # a key is held by one profile or a few
            hi += 1
        return lo, hi

    def __len__(self) -> int:
        return len(self.keys)


def identity_stamp(wh: Warehouse) -> tuple[Any, ...]:
    """Changes whenever ``omni identity resolve`` rewrites its tables."""
    rp = wh.table("record_profiles")
    pi = wh.table("profile_identifiers")
    row = rp.aggregate(n=rp.count(), at=rp.resolved_at.max()).to_pyarrow().to_pylist()[0]
    n_ids = pi.count().to_pyarrow().as_py()
    return (row["n"], row["at"], n_ids)


class ProfileLookup:
    """Identifier -> profile through the in-memory index; traits by prepared statement.

    One instance per process (the API keeps one per app); safe to share between threads.
    """

    def __init__(
        self,
        config: InstallationConfig,
        *,
        check_seconds: float = 2.0,
        rebuild_with: Callable[[], AbstractContextManager[Warehouse]] | None = None,
    ) -> None:
        """``rebuild_with`` lends a warehouse connection to a background thread: then,
        once an index exists, a change of the identity tables is indexed in that thread
        while requests keep using the previous index (a server passes its readers)."""
        self.config = config
        self.rebuild_with = rebuild_with
        self.rebuilding = threading.Event()
        self.region = config.default_region
        self.check_seconds = check_seconds
        self._index: ProfileIndex | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._traits_sql: str | None = None
        self._check_due = threading.Event()
        self._watcher: threading.Thread | None = None
        self._closed = False
        self._rule_types = frozenset(config.rules.types)
        self._coverage: tuple[float, tuple[Any, ...], Any] | None = None

    @property
    def rules(self) -> IdentityRules:
        return self.config.rules

    def timeline_options(self, wh: Warehouse) -> dict[str, Any]:
        """``rules`` and ``stored`` for ``timeline`` / ``conversion_paths``, checked at most
        every ``check_seconds`` (like the index), so a timeline request runs no bookkeeping
        query of its own."""
        from omnichannel.profiles.timeline_store import current_coverage

        stamp = self.index(wh).stamp
        cached = self._coverage
        if (
            cached is None
            or cached[1] != stamp
            or time.monotonic() - cached[0] > self.check_seconds
        ):
            cached = (time.monotonic(), stamp, current_coverage(wh, stamp))
            self._coverage = cached
        return {"rules": self.rules, "stored": cached[2]}

    def index(self, wh: Warehouse) -> ProfileIndex:
        """The current index; the identity tables are checked for a change at most every
        ``check_seconds`` (in the request without ``rebuild_with``, else on the watcher)."""
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked < self.check_seconds:
                return self._index
            if self._index is None:
                self._index = ProfileIndex.build(wh, identity_stamp(wh))
                ensure_profiles_index(wh)
            elif self.rebuild_with is None:
                stamp = identity_stamp(wh)
                if self._index.stamp != stamp:
                    self._index = ProfileIndex.build(wh, stamp)
                    ensure_profiles_index(wh)
            elif not self.rebuilding.is_set() and not self._closed:
                # The check (two aggregate queries, about 20 ms) and any rebuild (about
                # 10 s at a million profiles) run on the watcher; this request answers now.
                self.rebuilding.set()
                self._start_watcher()
                self._check_due.set()
            self._checked = time.monotonic()
            return self._index

    def _start_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="profile-index", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        # One long-lived thread, so its warehouse reader (a cursor per thread) is opened
        # once rather than by a new thread every few seconds.
        assert self.rebuild_with is not None
        while True:
            self._check_due.wait()
            self._check_due.clear()
            if self._closed:
                return
            try:
                self._refresh(self.rebuild_with)
            except Exception:
                log.exception("profile lookup: checking the identifier index failed; will retry")
            finally:
                self.rebuilding.clear()

    def _refresh(self, lend: Callable[[], AbstractContextManager[Warehouse]]) -> None:
        with lend() as wh:
            self.refresh(wh)

    def refresh(self, wh: Warehouse) -> None:
        """Index the identity tables now if they changed since the index was built, while
        other threads keep answering from the previous index until the swap.

        Identity resolution calls it when it ends, so a lookup right after ``omni identity
        resolve`` (through a server) finds the profiles it made, instead of waiting for the
        watcher's next check. Nothing is built before the first lookup asks for an index.
        """
        current = self._index
        if current is None:
            return
        stamp = identity_stamp(wh)
        if current.stamp == stamp:
            return
        fresh = ProfileIndex.build(wh, stamp)
        ensure_profiles_index(wh)
        with self._lock:
            self._index = fresh
            self._checked = time.monotonic()

    def close(self) -> None:
        """Stop the watcher thread (the warehouse it reads is about to close)."""
        self._closed = True
        self._check_due.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(30)

    def known_types(self, wh: Warehouse) -> frozenset[str]:
        return self._rule_types | self.index(wh).types

    def parse(self, wh: Warehouse, text: str) -> tuple[str, str]:
        return parse_lookup(text, known_types=self.known_types(wh), region=self.region)

    def find(self, wh: Warehouse, text: str) -> ProfileRef:
        """The one profile holding ``type:value``; raises not found or ambiguous."""
        id_type, id_value = self.parse(wh, text)
        holders = self.index(wh).holders(id_type, id_value)
        if not holders:
            raise ProfileNotFoundError(id_type, id_value)
        linked = [p for p, status in holders if status == "linked"]
        if len(linked) == 1:
            return ProfileRef(linked[0], id_type, id_value, "linked")
        profiles = sorted({p for p, _ in holders})
        if len(profiles) == 1:
            return ProfileRef(profiles[0], id_type, id_value, holders[0][1])
        raise AmbiguousIdentifierError(id_type, id_value, holders[0][1], profiles)

    def traits(
        self, wh: Warehouse, profile_id: str, include: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """The profile's row of ``profiles`` (all columns, or those in ``include``)."""
        row = self._profile_row(wh, profile_id)
        if include:
            # The canonical schema, not the engine's catalogue: reading that costs 10 ms.
            columns = wh.spec("profiles").schema.names
            unknown = [c for c in include if c not in columns]
            if unknown:
                raise ValidationError("include", unknown[0], f"trait names: {', '.join(columns)}")
            row = {k: row.get(k) for k in include}
        return row

    def _profile_row(self, wh: Warehouse, profile_id: str) -> dict[str, Any]:
        if wh.engine == "duckdb":
            sql = self._traits_sql
            if sql is None:
                p = wh.table("profiles")
                compiled = wh.sql(p.filter(p.profile_id == ibis.literal(_SENTINEL)).limit(1))
                sql = self._traits_sql = compiled.replace(f"'{_SENTINEL}'", "?")
            cursor = wh.con.con.execute(sql, [profile_id])
            found = cursor.fetchone()
            names = [column[0] for column in cursor.description or ()]
            rows = [] if found is None else [dict(zip(names, found, strict=True))]
        else:
            p = wh.table("profiles")
            rows = p.filter(p.profile_id == profile_id).limit(1).to_pyarrow().to_pylist()
        # A resolved profile not yet built (``omni profiles build`` not run since) has no
        # traits: an empty mapping, not an error, since the person exists.
        return dict(rows[0]) if rows else {}


def ensure_profiles_index(wh: Warehouse) -> None:
    """An index on ``profiles.profile_id`` so fetching one row is a point read."""
    if wh.engine in ("duckdb", "postgres"):
        dialect.execute(
            wh.con, f'CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON "profiles" ("profile_id")'
        )


def external_ids(wh: Warehouse, profile_id: str) -> list[dict[str, Any]]:
    """Every identifier of the profile, one row per source that carried it.

    ``status`` is ``linked`` or the rule that refused the identifier (it is then listed
    under every profile that carries it, without joining them).
    """
    rp = wh.table("record_profiles")
    records = rp.filter(rp.profile_id == profile_id).select("source", "record_id")
    obs = wh.table("identity_observations")
    mine = obs.semi_join(records, ["source", "record_id"])
    mine = mine.filter(~mine.id_type.isin(INTERNAL_TYPES))
    per_source = mine.group_by(["id_type", "id_value", "source"]).agg(
        records=mine.count(), first_seen=mine.observed_at.min(), last_seen=mine.observed_at.max()
    )
    pi = wh.table("profile_identifiers")
    status = pi.filter(pi.profile_id == profile_id).select("id_type", "id_value", "status")
    joined = per_source.left_join(status, ["id_type", "id_value"])
    out = joined.select(
        type=joined.id_type,
        id=joined.id_value,
        source=joined.source,
        status=joined.status.coalesce("linked"),
        records=joined.records,
        first_seen=joined.first_seen,
        last_seen=joined.last_seen,
    ).order_by(["type", "id", "source"])
    return list(out.to_pyarrow().to_pylist())


def profile_records(wh: Warehouse, profile_id: str) -> ir.Table:
    """The ``(source, record_id)`` records of a profile."""
    rp = wh.table("record_profiles")
    return rp.filter(rp.profile_id == profile_id).select("source", "record_id")
