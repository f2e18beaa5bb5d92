"""Customer clusters over HTTP: personas, one cluster, a person's cluster, save as segment.

Thin calls into ``platform.clusters``; ``omni clusters`` calls these while a server owns
the home. Fitting a clustering is the model lifecycle's (``POST /api/models/clusters/versions``).

- ``GET /api/clusters``: the personas of the clustering in use, its k and scores;
- ``GET /api/clusters/chart``: the people of each cluster on its two main features;
- ``GET /api/clusters/assign?identifier=TYPE:VALUE``: one person's cluster;
- ``GET /api/clusters/{cluster}``: one persona with some of its members;
- ``POST /api/clusters/{cluster}/segment`` ``{"name": ...}``: save it as a segment
  (``segments:write``; audited as the caller).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/clusters", tags=["models"])


class SaveSegment(BaseModel):
    name: str = Field(description="The new segment's name (a slug: a-z, 0-9, _ and -).")
    actor: str | None = Field(default=None, description="Who, when a token acts for a user.")


@router.get("", summary="Personas of the clustering in use")
async def personas(platform: PlatformDep) -> Any:
    """Each cluster's name, size, share and distinguishing features, with k and scores."""
    return jsonable(await run_in_threadpool(platform.clusters.personas))


@router.get("/chart", summary="The clusters on their two main features")
async def chart(platform: PlatformDep) -> Any:
    """Points (natural units) per cluster on the two features that separate them most."""
    return jsonable(await run_in_threadpool(platform.clusters.chart))


@router.get("/assign", summary="A person's cluster")
async def assign(
    platform: PlatformDep,
    identifier: Annotated[str, Query(description="TYPE:VALUE (email:ann@x.com) or a profile id.")],
) -> Any:
    """The cluster of the person: theirs in the fit, or the nearest for a newer profile."""
    return jsonable(await run_in_threadpool(platform.clusters.assign, identifier))


@router.get("/{cluster}", summary="One persona and its members")
async def show_cluster(
    platform: PlatformDep,
    cluster: int,
    limit: Annotated[int, Query(description="Members listed (0-10000).")] = 20,
) -> Any:
    """One cluster's persona, the first ``limit`` members and the segments saved from it."""
    return jsonable(await run_in_threadpool(lambda: platform.clusters.show(cluster, limit=limit)))


@router.post("/{cluster}/segment", summary="Save a cluster as a segment", status_code=201)
async def save_cluster_segment(
    platform: PlatformDep, who: PrincipalDep, cluster: int, body: SaveSegment
) -> Any:
    """A segment of the cluster's members, rewritten when a new clustering is put in use."""

    def run() -> dict[str, Any]:
        return platform.clusters.save_segment(cluster, body.name, actor=acting(who, body.actor))

    return jsonable(await run_in_threadpool(run))
