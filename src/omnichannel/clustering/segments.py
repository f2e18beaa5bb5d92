"""A cluster saved as a segment, whose members follow the cluster as clusterings are refit.

**How.** The segment is an ordinary saved segment (``platform.segments``: versioned,
audited, refreshed, usable by journeys and exports) whose condition is the cluster's
members, ``{trait: {field: profile_id, in: [...]}}``, with a description naming the
persona. The link (segment -> cluster id) is kept in ``<home>/models/clusters/segments.json``.
Each time a clustering version is put in use (a promotion, the first fit, the daily
``models-retrain`` job), every linked segment is rewritten with the members of the
**same cluster id** in the new version: ids are kept across versions by matching
centroids (``fit.py``), so the segment keeps meaning "this persona". A cluster the new
version no longer has leaves its segment as it was, marked ``stale`` (``omni clusters
list`` shows it); a deleted segment's link is dropped.

**Why not a ``cluster`` trait on the profile.** The ``profiles`` table is rebuilt from the
warehouse's facts by the profile build, which does not run models; a member list kept in
step with the version in use gives the same meaning without the build depending on a
model. The cost: a person's cluster in a segment is the one of the fit (daily), and a
very large cluster makes a long definition (each segment version stores the list).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.errors import NotFoundError

if TYPE_CHECKING:
    from omnichannel.clustering.fit import ClusterModel
    from omnichannel.clustering.service import ClustersCapability
    from omnichannel.platform import Platform

LINKS_FILE = Path("models") / "clusters" / "segments.json"


def definition(
    name: str, persona: dict[str, Any], version: int, members: list[str]
) -> dict[str, Any]:
    """The segment document of a cluster's members (none: a condition no one meets)."""
    condition: dict[str, Any] = (
        {"trait": {"field": "profile_id", "in": members}}
        if members
        else {"not": {"trait": {"field": "profile_id", "exists": True}}}
    )
    description = (
        f"Persona {persona['name']!r}: cluster {persona['cluster']} of the clusters model "
        f"(v{version}, {len(members)} people). Its members are rewritten each time a new "
        "clustering is put in use."
    )
    return {"name": name, "description": description, "condition": condition}


class ClusterSegments:
    """The segments saved from clusters, and keeping them in step (module docstring)."""

    def __init__(self, platform: Platform, clusters: ClustersCapability) -> None:
        self._platform = platform
        self._clusters = clusters
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._platform.settings.home / LINKS_FILE

    def links(self) -> list[dict[str, Any]]:
        """Every cluster segment: segment, cluster, persona, members, model version, stale."""
        if not self.path.exists():
            return []
        found: list[dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        return sorted(found, key=lambda link: link["segment"])

    def save(self, cluster: int, name: str, *, actor: str) -> dict[str, Any]:
        """Create segment ``name`` of the cluster's members and link it to the cluster."""
        version, model = self._clusters.model()
        persona = self._clusters.persona(model, cluster)
        members = self._clusters.member_ids(model, cluster)
        created = self._platform.segments.create(
            definition(name, persona, version, members), created_by=actor
        )
        link = _link(created["name"], persona, version, len(members), actor)
        with self._lock:
            links = [x for x in self.links() if x["segment"] != created["name"]]
            self._write([*links, link])
        return {"cluster": cluster, "persona": persona["name"], "link": link, "segment": created}

    def follow(self, *, actor: str) -> list[dict[str, Any]]:
        """Rewrite every linked segment with its cluster's members in the version in use."""
        with self._lock:
            links = self.links()
            if not links:
                return []
            version, model = self._clusters.model()
            kept = []
            for link in links:
                try:
                    self._platform.segments.show(link["segment"])
                except NotFoundError:
                    continue  # the segment was deleted: so is its link
                kept.append(self._follow_one(link, version, model, actor))
            self._write(kept)
            return kept

    def _follow_one(
        self, link: dict[str, Any], version: int, model: ClusterModel, actor: str
    ) -> dict[str, Any]:
        cluster = int(link["cluster"])
        if cluster not in {p["cluster"] for p in model.personas}:
            return {**link, "stale": f"cluster {cluster} is not in clusters v{version}"}
        if link.get("version") == version:
            return link
        persona = self._clusters.persona(model, cluster)
        members = self._clusters.member_ids(model, cluster)
        doc = definition(link["segment"], persona, version, members)
        self._platform.segments.update(link["segment"], doc, actor=actor)
        return {
            **_link(link["segment"], persona, version, len(members), link["saved_by"]),
            "saved_at": link["saved_at"],
        }

    def _write(self, links: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(links, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(self.path)


def _link(
    segment: str, persona: dict[str, Any], version: int, members: int, by: str
) -> dict[str, Any]:
    return {
        "segment": segment,
        "cluster": int(persona["cluster"]),
        "persona": persona["name"],
        "members": members,
        "version": version,
        "saved_by": by,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stale": None,
    }
