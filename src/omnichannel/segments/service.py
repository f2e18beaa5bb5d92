"""``platform.segments``: what the CLI, the API and the pages do with segments, in one place.

Each method is keyword-only past its subject and returns JSON-ready data (dicts of
strings, numbers and lists), so the CLI prints the same thing whether it ran here or
through a running server, and the API's response models validate it as it is.

Example::

    with Platform.open("omni-home") as platform:
        platform.segments.create(open("vip.yaml").read(), created_by="ana")
        platform.segments.members("vip", limit=20)["profile_ids"]
        platform.segments.why("vip", profile="p_1a2b3c")        # which condition failed
        platform.segments.trend("vip", days=30)["points"][-1]   # members at the end of today
        with open("vip.csv", "w") as out:
            platform.segments.export("vip", fmt="google", out=out)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from omnichannel.errors import NotFoundError

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.segments.definition import SegmentDefinition
    from omnichannel.segments.export import ExportResult
    from omnichannel.segments.store import SegmentStore, StoredSegment

Document = Mapping[str, Any] | str
PREVIEW_NAME = "preview"  # the name a preview's definition gets when it has none
SAMPLE = 10


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def definition_of(doc: Document | SegmentDefinition, *, name: str | None = None) -> Any:
    """A parsed definition; ``name`` fills in (or must equal) the document's name."""
    from omnichannel.errors import ValidationError
    from omnichannel.segments.definition import SegmentDefinition, parse_definition

    if isinstance(doc, SegmentDefinition):
        definition = doc
    else:
        if name is not None and not isinstance(doc, str) and "name" not in doc:
            doc = {**doc, "name": name}
        definition = parse_definition(doc)
    if name is not None and definition.name != name:
        raise ValidationError(
            "name", definition.name, f"the segment's own name {name!r} (renaming is not supported)"
        )
    return definition


def document_of(definition: SegmentDefinition) -> dict[str, Any]:
    """The definition as the JSON document a user writes (what ``show`` prints)."""
    return dict(definition.model_dump(mode="json", by_alias=True, exclude_none=True))


class SegmentsCapability:
    """Segments of one installation: definitions, members, previews, explanations, exports."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def store(self) -> SegmentStore:
        from omnichannel.segments.store import SegmentStore

        return SegmentStore(self._platform.opstore)

    def _stored(self, name: str) -> StoredSegment:
        from omnichannel.segments.store import check_name

        found = self.store.get(check_name(name))
        if found is None:
            raise NotFoundError(f"no segment named {name!r} (see `omni segments list`)")
        return found

    # --- definitions ---------------------------------------------------------------

    def create(
        self,
        doc: Document | SegmentDefinition,
        *,
        created_by: str = "system",
        refresh: bool = True,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Save a new segment and (unless ``refresh=False``) compute its members at once."""
        stored = self.store.create(definition_of(doc), created_by=created_by)
        result = self._refresh(stored, now) if refresh else None
        return self._public(stored, refreshed=result)

    def update(
        self,
        name: str,
        doc: Document | SegmentDefinition,
        *,
        actor: str = "system",
        refresh: bool = True,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Replace a segment's definition (its version goes up) and recompute its members."""
        self._stored(name)
        stored = self.store.update(name, definition_of(doc, name=name), actor=actor)
        result = self._refresh(stored, now) if refresh else None
        return self._public(stored, refreshed=result)

    def list(
        self, *, trend_days: int | None = None, now: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every segment with its version and current member count, by name; with
        ``trend_days``, also ``trend``: members at the end of each of those last days."""
        counts = self._member_counts()
        listed = [self._public(s, members=counts.get(s.name, 0)) for s in self.store.list()]
        if trend_days is not None:
            from omnichannel.segments.trend import trends

            with self._platform.warehouse.reader() as wh:
                found = trends(wh, [s["name"] for s in listed], days=trend_days, now=_now(now))
            for s in listed:
                s["trend"] = [p.members for p in found[s["name"]]]
        return listed

    def show(self, name: str) -> dict[str, Any]:
        """One segment: its document, version, member count and last refresh."""
        from omnichannel.segments.membership import last_refresh

        stored = self._stored(name)
        with self._platform.warehouse.reader() as wh:
            last = last_refresh(wh, stored.name)
        public = self._public(stored, members=self._member_counts().get(stored.name, 0))
        public["last_refresh"] = _json_ready(last) if last else None
        return public

    def delete(self, name: str, *, actor: str = "system") -> dict[str, Any]:
        """Remove a segment and its membership (refused while another refers to it)."""
        from omnichannel.segments.membership import forget

        stored = self._stored(name)
        self.store.delete(stored.name, actor=actor)
        with self._platform.warehouse.writer() as wh:
            forget(wh, stored.name)
        return {"deleted": stored.name, "version": stored.version}

    # --- members -------------------------------------------------------------------

    def members(self, name: str, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """The current members (profile ids, sorted), ``limit`` of them from ``offset``."""
        from omnichannel.segments.membership import current_members

        stored = self._stored(name)
        with self._platform.warehouse.reader() as wh:
            ids = current_members(wh, stored.name)
            total = int(ids.count().to_pyarrow().as_py())
            page = ids.order_by("profile_id")
            if limit is not None or offset:
                page = page.limit(limit, offset=offset)
            profile_ids = page.to_pyarrow().column("profile_id").to_pylist()
        return {
            "segment": stored.name,
            "version": stored.version,
            "total": total,
            "offset": offset,
            "profile_ids": profile_ids,
        }

    def refresh(
        self, name: str | None = None, *, full: bool = False, now: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Recompute one segment's members (or every segment's, in dependency order)."""
        from omnichannel.segments.refresh import refresh_all

        if name is not None:
            return [self._refresh(self._stored(name), now).as_dict()]
        platform = self._platform
        results = refresh_all(
            platform.warehouse, self.store, platform.config.rules, now=_now(now), full=full
        )
        return [r.as_dict() for r in results]

    # --- before saving, and why ----------------------------------------------------

    def preview(
        self,
        doc: Document | SegmentDefinition,
        *,
        sample: int = SAMPLE,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Size, a sample, and each top-level condition's size alone, without saving."""
        from omnichannel.segments.estimate import estimate

        if isinstance(doc, Mapping) and "name" not in doc:
            doc = {**doc, "name": PREVIEW_NAME}  # a preview need not be named
        definition = definition_of(doc)
        self._check_references(definition)
        with self._platform.warehouse.reader() as wh:
            found = estimate(
                definition, wh, now=_now(now), sample=sample, rules=self._platform.config.rules
            )
        return {"name": definition.name, **found.as_dict()}

    def sql(
        self, subject: str | Document | SegmentDefinition, *, now: datetime | None = None
    ) -> str:
        """The SQL the warehouse's engine runs for a segment (by name) or a definition."""
        from omnichannel.segments.compile import sql

        definition = self._definition(subject)
        with self._platform.warehouse.reader() as wh:
            return sql(definition, wh, _now(now), rules=self._platform.config.rules)

    def explain(
        self, name: str, *, profile: str | None = None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The SQL of a segment and, for ``profile``, why it is or is not a member."""
        stored = self._stored(name)
        answer: dict[str, Any] = {
            "segment": stored.name,
            "version": stored.version,
            "sql": self.sql(stored.definition, now=now),
            "why": None if profile is None else self.why(stored.name, profile=profile, now=now),
        }
        return answer

    def why(self, name: str, *, profile: str, now: datetime | None = None) -> dict[str, Any]:
        """Whether ``profile`` (a profile id, or ``TYPE:VALUE`` such as ``email:ann@x.cn``)
        is a member of ``name`` now, condition by condition, with what was observed
        (``lines`` is the same as text)."""
        from omnichannel.segments.explain import explain

        stored = self._stored(name)
        profile_id = self._profile_id(profile)
        with self._platform.warehouse.reader() as wh:
            found = explain(
                stored.definition, wh, profile_id, now=_now(now), rules=self._platform.config.rules
            )
        return {"segment": stored.name, **_json_ready(found.as_dict()), "lines": found.lines()}

    def trend(self, name: str, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
        """Members at the end of each of the last ``days`` UTC days (today: now), with the
        entries and exits of each day, from the stays in ``segment_memberships``."""
        from omnichannel.segments.trend import check_days, trend

        check_days(days)
        stored = self._stored(name)
        with self._platform.warehouse.reader() as wh:
            points = trend(wh, stored.name, days=days, now=_now(now))
        return {
            "segment": stored.name,
            "days": days,
            "from": points[0].day.isoformat(),
            "to": points[-1].day.isoformat(),
            "points": [p.as_dict() for p in points],
        }

    # --- exports -------------------------------------------------------------------

    def export(
        self,
        name: str,
        *,
        fmt: str,
        out: TextIO,
        columns: Sequence[str] = (),
        channel: str | None = None,
    ) -> ExportResult:
        """Write the current members of ``name`` as ``fmt`` (csv, google, meta) to ``out``."""
        from omnichannel.segments.export import export_members
        from omnichannel.segments.membership import current_members

        stored = self._stored(name)
        platform = self._platform
        with platform.warehouse.reader() as wh:
            return export_members(
                wh,
                current_members(wh, stored.name),
                fmt=fmt,
                out=out,
                columns=columns,
                consents=platform.config.consents(),
                region=platform.settings.default_region,
                channel=channel,
            )

    # --- helpers -------------------------------------------------------------------

    def _definition(self, subject: str | Document | SegmentDefinition) -> SegmentDefinition:
        from omnichannel.segments.store import NAME

        if isinstance(subject, str) and NAME.match(subject):
            return self._stored(subject).definition
        definition: SegmentDefinition = definition_of(subject)
        return definition

    def _check_references(self, definition: SegmentDefinition) -> None:
        from omnichannel.segments.compile import check_references

        def resolve(other: str) -> SegmentDefinition | None:
            found = self.store.get(other)
            return None if found is None else found.definition

        check_references(definition, resolve)

    def _profile_id(self, profile: str) -> str:
        """A profile id as given (``p_...``), or the profile holding ``TYPE:VALUE``."""
        from omnichannel.profiles.lookup import ProfileNotFoundError

        platform = self._platform
        with platform.warehouse.reader() as wh:
            if ":" in profile:
                try:
                    return platform.lookup.find(wh, profile).profile_id
                except ProfileNotFoundError as exc:
                    raise NotFoundError(str(exc)) from None
            p = wh.table("profiles")
            found = int(p.filter(p.profile_id == profile).count().to_pyarrow().as_py())
        if not found:
            raise NotFoundError(
                f"no profile with id {profile!r} (give a profile id such as p_1a2b3c, or "
                "TYPE:VALUE such as email:ann@example.com)"
            )
        return profile

    def _refresh(self, stored: StoredSegment, now: datetime | None) -> Any:
        from omnichannel.segments.refresh import refresh

        platform = self._platform
        return refresh(
            platform.warehouse, stored, now=_now(now), rules=platform.config.rules, reason="saved"
        )

    def _member_counts(self) -> dict[str, int]:
        from omnichannel.segments.membership import MEMBERSHIPS

        with self._platform.warehouse.reader() as wh:
            m = wh.table(MEMBERSHIPS)
            current = m.filter(m.exited_at.isnull())
            counts = current.group_by("segment").agg(n=current.profile_id.nunique())
            return {r["segment"]: int(r["n"]) for r in counts.to_pyarrow().to_pylist()}

    @staticmethod
    def _public(
        stored: StoredSegment, *, members: int | None = None, refreshed: Any = None
    ) -> dict[str, Any]:
        public: dict[str, Any] = {
            "name": stored.name,
            "description": stored.description,
            "version": stored.version,
            "definition": document_of(stored.definition),
            "created_by": stored.created_by,
            "created_at": _iso(stored.created_at),
            "updated_at": _iso(stored.updated_at),
            "members": refreshed.members if refreshed is not None else members,
            # Always present (the API's SegmentPublic has them), so both faces print alike.
            "refresh": refreshed.as_dict() if refreshed is not None else None,
            "last_refresh": None,
        }
        return public


def _json_ready(value: Any) -> Any:
    # The one rule of every face (omnichannel/jsonable.py): a Decimal as exact text.
    from omnichannel.jsonable import jsonable

    return jsonable(value)
