"""Experiments over HTTP: thin calls into ``platform.experiments`` (analytics/experiments/).

``omni experiments ...`` calls these while a server owns the home.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


class ExperimentCreate(BaseModel):
    document: dict[str, Any] | str = Field(description="The experiment (object, YAML or JSON).")
    actor: str = Field("api", description="Who creates it (audited; a user is always themselves).")


class ExperimentStop(BaseModel):
    winner: str | None = Field(
        None, description="Conclude with this arm: everyone is assigned it from now on."
    )
    actor: str = Field("api", description="Who stops it (audited; a user is always themselves).")


Alpha = Annotated[float, Query(description="Significance level.")]
Segments = Annotated[list[str] | None, Query(description="Uplift split by these segments.")]


@router.get("", summary="List experiments")
async def list_experiments(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.experiments.list))


@router.post("", summary="Create an experiment", status_code=201)
async def create_experiment(
    body: ExperimentCreate, platform: PlatformDep, who: PrincipalDep
) -> Any:
    actor = acting(who, body.actor)
    return jsonable(
        await run_in_threadpool(platform.experiments.create, body.document, actor=actor)
    )


@router.get("/journeys/{journey}", summary="A journey's holdout against its treated people")
async def analyse_journey(
    journey: str, platform: PlatformDep, alpha: Alpha = 0.05, segment: Segments = None
) -> Any:
    result = await run_in_threadpool(
        platform.experiments.analyse, journey=journey, segments=segment or [], alpha=alpha
    )
    return jsonable(result)


@router.get("/{name}", summary="One experiment")
async def show_experiment(name: str, platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.experiments.show, name))


@router.get("/{name}/assignment", summary="A person's variant (not recorded)")
async def peek_assignment(
    name: str, platform: PlatformDep, person: Annotated[str, Query(min_length=1)]
) -> Any:
    result = await run_in_threadpool(platform.experiments.assign, name, person, record=False)
    return jsonable(result)


@router.post("/{name}/assignment", summary="Assign a person and record their exposure")
async def assign_person(
    name: str, platform: PlatformDep, person: Annotated[str, Query(min_length=1)]
) -> Any:
    return jsonable(await run_in_threadpool(platform.experiments.assign, name, person))


@router.post("/{name}/stop", summary="Stop an experiment, or conclude it with a winner")
async def stop_experiment(
    name: str, platform: PlatformDep, who: PrincipalDep, body: ExperimentStop | None = None
) -> Any:
    body = body or ExperimentStop(winner=None, actor="api")
    result = await run_in_threadpool(
        platform.experiments.stop, name, winner=body.winner, actor=acting(who, body.actor)
    )
    return jsonable(result)


@router.get("/{name}/analysis", summary="Read an experiment")
async def analyse_experiment(
    name: str, platform: PlatformDep, alpha: Alpha = 0.05, segment: Segments = None
) -> Any:
    result = await run_in_threadpool(
        platform.experiments.analyse, name, segments=segment or [], alpha=alpha
    )
    return jsonable(result)
