"""Propensity scores over HTTP: a person's scores with their reasons, the summary, rescoring.

Thin calls into ``platform.propensity``; ``omni propensity`` calls these while a server
owns the home. Training and promotion are ``/api/models`` (models
``propensity-purchase-30d`` and ``propensity-churn``).

- ``GET /api/propensity/profiles/{type}:{value}``: the person's score, decile and top
  three reasons per target;
- ``GET /api/propensity/scores``: per target, the version, people scored, people and
  score range per decile;
- ``GET /api/propensity/evaluation?target=``: a version's AUC, PR-AUC, Brier, reliability
  table and lift by decile on its time split, beside the recency baseline;
- ``POST /api/propensity/score``: score every profile again with the models in use.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep
from omnichannel.api.routes.profiles import _answer
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/propensity", tags=["models"])


class ScoreRequest(BaseModel):
    targets: list[str] | None = Field(
        default=None, description="purchase_30d and/or churn (default: every model in use)."
    )


@router.get("/profiles/{identifier:path}", summary="A person's propensity scores explained")
async def explain_profile(platform: PlatformDep, identifier: str) -> Any:
    """Per target: the score, its decile and the features that move it most, in words."""

    def run() -> dict[str, Any]:
        return _answer(lambda: platform.propensity.explain(identifier))

    return jsonable(await run_in_threadpool(run))


@router.get("/scores", summary="Propensity scores per target and decile")
async def scores_summary(platform: PlatformDep) -> Any:
    """Per target: the version in use, people scored, mean, people and range per decile."""
    return jsonable(await run_in_threadpool(platform.propensity.summary))


@router.get("/evaluation", summary="A propensity model's scores on its time split")
async def evaluation(
    platform: PlatformDep,
    target: Annotated[str, Query(description="purchase_30d or churn.")],
    version: Annotated[int | None, Query(description="Default: the version in use.")] = None,
) -> Any:
    """AUC, PR-AUC, Brier, reliability table and lift, beside the recency baseline."""
    return jsonable(await run_in_threadpool(platform.propensity.evaluation, target, version))


@router.post("/score", summary="Score every profile again")
async def score(platform: PlatformDep, body: ScoreRequest | None = None) -> Any:
    """Scores everyone with the models in use and refreshes the profile traits."""
    request = body or ScoreRequest()
    return jsonable(await run_in_threadpool(platform.propensity.score, request.targets))
