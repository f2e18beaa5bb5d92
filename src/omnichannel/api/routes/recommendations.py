"""Recommendations per person, their offline evaluation, and the model lifecycle over HTTP.

Thin calls into ``platform.recommendations`` and ``platform.models``; ``omni recs`` and
``omni models`` call these while a server owns the home.

- ``GET /v1/profiles/{type}:{value}/recommendations?slot=&k=``: the slot's items, each with
  its reason (the Profile API's identifiers and errors);
- ``GET /api/recommendations/evaluation``: every algorithm on one time split;
- ``GET /api/recommendations/rules``: the association rules (bought X, also buy Y);
- ``/api/models``: versions with metrics, train, promote (409 names both scores when a
  version scores worse than the one in use).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import MaskingRoute, PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.api.routes.profiles import _answer
from omnichannel.jsonable import jsonable
from omnichannel.recommendations.config import ALGORITHMS, MAX_K, SLOT_NAMES

profiles_router = APIRouter(prefix="/v1/profiles", tags=["profiles"], route_class=MaskingRoute)
router = APIRouter(prefix="/api", tags=["models"])


class RecommendedItem(BaseModel):
    product_id: str
    name: str
    category: str
    score: float = Field(description="The model's score (higher first; comparable per person).")
    reason: str = Field(
        description='Why: "bought together with X", "similar to Y you viewed", "popular in Z"...'
    )
    because_of: str | None = Field(description="The product the reason names, if any.")


class RecommendationsPublic(BaseModel):
    identifier: str
    profile_id: str
    model: dict[str, Any] = Field(description="name and version of the model in use.")
    slot: str
    k: int
    strategy: str = Field(description="The algorithm that ranked, or content (cold start).")
    stock: str = Field(description="Where the in-stock rule reads stock from.")
    items: list[RecommendedItem]


@profiles_router.get(
    "/{identifier:path}/recommendations",
    response_model=RecommendationsPublic,
    summary="A person's recommendations",
)
def recommendations_route(
    identifier: str,
    platform: PlatformDep,
    slot: Annotated[str | None, Query(description="One of " + ", ".join(SLOT_NAMES))] = None,
    k: Annotated[int | None, Query(description=f"Items wanted, 1-{MAX_K} (the slot's k).")] = None,
) -> Any:
    """The slot's recommended products for the person, with the reason for each."""
    return _answer(lambda: platform.recommendations.for_identifier(identifier, slot=slot, k=k))


@router.get("/recommendations/evaluation", summary="Evaluate every recommender on a time split")
async def evaluation(
    platform: PlatformDep,
    algorithm: Annotated[
        list[str] | None, Query(description="Algorithms (" + ", ".join(ALGORITHMS) + ").")
    ] = None,
    holdout_days: Annotated[int | None, Query(description="Days held out at the end.")] = None,
) -> Any:
    """Recall@10, NDCG@10, MAP@10 and coverage of each algorithm, popularity first."""
    result = await run_in_threadpool(
        platform.recommendations.evaluate, algorithm, holdout_days=holdout_days
    )
    return jsonable(result)


@router.get("/recommendations/rules", summary="Association rules of the baskets")
def association_rules_route(
    platform: PlatformDep,
    top: Annotated[int, Query(description="Rules wanted, strongest lift first (1-1000).")] = 20,
    product: Annotated[str | None, Query(description="Only rules with this product.")] = None,
) -> Any:
    """FP-growth rules of the model in use: support, confidence, lift, baskets."""
    return jsonable(platform.recommendations.rules(top=top, product=product))


class TrainRequest(BaseModel):
    algorithm: str | None = Field(default=None, description="Default: the configured one.")
    promote: bool = Field(default=False, description="Put it in use unless it scores worse.")
    holdout_days: int | None = None
    actor: str | None = None


@router.get("/models", summary="Model versions")
async def list_models(platform: PlatformDep, model: str | None = None) -> Any:
    """Every version (of ``model``, or of all), newest first, with its metrics."""
    versions = await run_in_threadpool(platform.models.list, model)
    return jsonable({"models": platform.models.kinds(), "versions": versions})


@router.get("/models/{model}", summary="A model version with its evaluations")
async def show_model(platform: PlatformDep, model: str, version: int | None = None) -> Any:
    """One version (the one in use without ``version``) with every evaluation of it."""
    return jsonable(await run_in_threadpool(platform.models.show, model, version))


@router.post("/models/{model}/versions", summary="Train a new version", status_code=201)
async def train_model(
    platform: PlatformDep, who: PrincipalDep, model: str, body: TrainRequest | None = None
) -> Any:
    """Fit, score (time split) and store a new version; the first one is put in use."""
    request = body or TrainRequest()
    options = {"holdout_days": request.holdout_days} if request.holdout_days else {}

    def run() -> dict[str, Any]:
        return platform.models.train(
            model,
            request.algorithm,
            options=options,
            by=acting(who, request.actor),
            promote=request.promote,
        )

    return jsonable(await run_in_threadpool(run))


@router.post("/models/{model}/versions/{version}/promote", summary="Put a version in use")
async def promote_model(platform: PlatformDep, model: str, version: int) -> Any:
    """Refused (409, both scores named) when it scores worse than the version in use."""
    return jsonable(await run_in_threadpool(platform.models.promote, model, version))
