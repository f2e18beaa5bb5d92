"""Experiments over HTTP: thin calls into ``platform.experiments`` (analytics/experiments/).

``omni experiments ...`` calls these while a server owns the home.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/experiments", tags=["experiments"])


class ExperimentCreate(BaseModel):
    document: dict[str, Any] | str = Field(description="The experiment (object, YAML or JSON).")


Alpha = Annotated[float, Query(description="Significance level.")]
Segments = Annotated[list[str] | None, Query(description="Uplift split by these segments.")]


@router.get("", summary="List experiments")
async def list_experiments(platform: PlatformDep) -> Any:
    return jsonable(await run_in_threadpool(platform.experiments.list))


@router.post("", summary="Create an experiment", status_code=201)
async def create_experiment(body: ExperimentCreate, platform: PlatformDep) -> Any:
    return jsonable(
        await run_in_threadpool(platform.experiments.create, body.document, actor="api")
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


@router.get("/{name}/analysis", summary="Read an experiment")
async def analyse_experiment(
    name: str, platform: PlatformDep, alpha: Alpha = 0.05, segment: Segments = None
) -> Any:
    result = await run_in_threadpool(
        platform.experiments.analyse, name, segments=segment or [], alpha=alpha
    )
    return jsonable(result)
