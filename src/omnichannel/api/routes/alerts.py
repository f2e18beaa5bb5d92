"""Alerts over HTTP: thin calls into ``platform.alerts`` (``analytics/alerts/service.py``);
``omni alerts`` calls these while a server owns the home, and the dashboard reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import ActorDep
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class RulesDocument(BaseModel):
    document: str | dict[str, Any] = Field(
        description='The rule document: YAML or JSON text, or the object {"rules": [...]}.'
    )


class CheckRequest(BaseModel):
    as_of: datetime | None = Field(None, description="Judge as at this time (default now).")
    rules: list[str] | None = Field(None, description="Only these rules.")
    notify: bool = True


@router.get("", summary="Alerts, newest first")
async def list_alerts(
    platform: PlatformDep,
    state: Annotated[str | None, Query(description="open or resolved.")] = None,
    rule: Annotated[str | None, Query(description="Only this rule's alerts.")] = None,
    limit: Annotated[int, Query(description="At most this many.")] = 100,
) -> Any:
    """Each alert: rule, subject, state, value, its normal range, message and times."""
    return jsonable(platform.alerts.list(state=state, rule=rule, limit=limit))


@router.get("/rules", summary="The stored alert rules")
async def rules(platform: PlatformDep) -> Any:
    return jsonable(platform.alerts.rules())


@router.put("/rules", summary="Store alert rules")
async def save_rules(
    platform: PlatformDep,
    actor: ActorDep,
    body: Annotated[RulesDocument, Body()],
    replace: Annotated[
        bool, Query(description="Drop stored rules the document does not name.")
    ] = False,
) -> Any:
    """Check and store a rule document's rules by name; errors name the path (rules[1].k)."""
    saved = await run_in_threadpool(
        platform.alerts.save_rules, body.document, actor=actor, replace=replace
    )
    return jsonable(saved)


@router.delete("/rules/{name}", summary="Delete an alert rule", status_code=204)
async def delete_rule(platform: PlatformDep, actor: ActorDep, name: str) -> None:
    await run_in_threadpool(platform.alerts.delete_rule, name, actor=actor)


@router.post("/check", summary="Evaluate the alert rules now")
async def check(platform: PlatformDep, body: Annotated[CheckRequest | None, Body()] = None) -> Any:
    """Open, resolve and notify alerts (what the ``alerts`` job of ``omni serve`` runs)."""
    request = body or CheckRequest(as_of=None, rules=None)
    result = await run_in_threadpool(
        platform.alerts.check, as_of=request.as_of, rules=request.rules, notify=request.notify
    )
    return jsonable(result)


@router.post("/{alert_id}/ack", summary="Acknowledge an alert")
async def ack(platform: PlatformDep, actor: ActorDep, alert_id: int) -> Any:
    """The signed-in user (or the CLI's named actor) is recorded as who acknowledged it."""
    return jsonable(await run_in_threadpool(platform.alerts.ack, alert_id, actor=actor))
