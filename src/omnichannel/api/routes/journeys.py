"""Journeys over HTTP: the same operations as ``omni journeys`` (which calls these remotely).

Every route is a thin call into ``platform.journeys`` (``journeys/service.py``). Errors
(``api/errors.py``): 400 names the path inside the document (``steps.reminder.send.template``),
the value and what is accepted; 404 names the unknown journey; 409 says why a lifecycle
change is refused (the status it is in, and what it can do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/journeys", tags=["journeys"])

NamePath = Annotated[str, Path(description="The journey's name (a slug, e.g. abandoned-cart).")]
DOC_HELP = "See docs/journeys.md and docs/journey.schema.json."


class JourneyDocument(BaseModel):
    """A journey document as a user writes it (docs/journey.schema.json)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="A slug: lower-case letters, digits, '-' and '_'.")
    description: str = ""
    entry: dict[str, Any] = Field(description="event, segment, date or schedule. " + DOC_HELP)
    reentry: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    goal: dict[str, Any] | None = None
    start: str = Field(description="The first step's name.")
    steps: dict[str, Any] = Field(description="Steps by name. " + DOC_HELP)


class JourneyCreate(JourneyDocument):
    actor: str = Field(default="api", description="Who saves it (recorded and audited).")


class JourneyUpdate(JourneyDocument):
    name: str | None = None  # type: ignore[assignment]
    actor: str = Field(default="api", description="Who saves the new version (audited).")


class ActorBody(BaseModel):
    actor: str = Field(default="api", description="Who does it (recorded in the audit log).")


class SimulateRequest(BaseModel):
    """A dry run: a stored journey by ``name`` (its newest version) or a ``definition``."""

    name: str | None = Field(None, description="A stored journey.")
    definition: dict[str, Any] | None = Field(None, description="A journey document.")
    days: int = Field(7, ge=1, le=366, description="Replay the events of these last days.")
    now: datetime | None = Field(None, description="The end of the window (default: now).")


class JourneyPublic(BaseModel):
    name: str
    description: str
    status: str = Field(description="draft, approved, live, paused or archived.")
    version: int = Field(description="The newest saved version.")
    approved_version: int | None
    live_version: int | None = Field(description="The version new entries follow.")
    pending_approval: bool = Field(description="The newest version is not approved yet.")
    entry: str | None = Field(description="event, segment, date or schedule.")
    definition: dict[str, Any] = Field(description="The newest version's document.")
    created_by: str
    version_by: str = Field(description="Who saved the newest version.")
    approved_by: str | None
    approved_at: str | None
    started_at: str | None
    created_at: str | None
    updated_at: str | None


class JourneyListed(JourneyPublic):
    enrolled: int = Field(description="Enrolments ever.")
    in_flight: int = Field(description="Enrolments open now (active or waiting).")


class VersionPublic(BaseModel):
    version: int
    created_by: str
    created_at: str | None
    approved: bool
    live: bool


class JourneyShown(JourneyPublic):
    versions: list[VersionPublic]
    live_definition: dict[str, Any] | None = Field(
        description="The live version's document when it is not the newest."
    )
    enrolments: dict[str, int] = Field(description="Enrolments by state.")
    actions: list[str] = Field(description="What can be done to it now.")


class JourneyArchived(JourneyPublic):
    exited: int = Field(description="Open enrolments exited (exit_reason archived).")


class JourneyValidation(BaseModel):
    valid: bool
    name: str
    entry: str
    start: str
    steps: int
    channels: list[str]
    templates: list[str]
    segments: list[str]
    journeys: list[str]
    events: list[str] = Field(description="Event names it listens for (entry, waits, goal).")


class EnrolmentPublic(BaseModel):
    id: int
    journey_version: int
    subject: str = Field(description="The profile id, or the entry event's type:value.")
    profile_id: str | None
    entry_key: str
    entry_ref: str
    state: str
    step: str | None = Field(description="The step to run next.")
    visit: int = Field(description="Steps executed so far.")
    due_at: str | None
    wait_event: str | None
    arm: str | None
    entered_at: str | None
    converted_at: str | None
    exit_reason: str | None
    finished_at: str | None


class EnrolmentPage(BaseModel):
    journey: str
    state: str | None
    total: int = Field(description="Enrolments (of that state), however many are listed.")
    enrolments: list[EnrolmentPublic] = Field(description="The newest first.")


class StepCounts(BaseModel):
    step: str
    kind: str
    executed: int
    outcomes: dict[str, int] = Field(description="Route taken, or a send's status, with counts.")


class GroupConversion(BaseModel):
    entered: int
    converted: int
    rate: float | None


class ArmConversion(GroupConversion):
    pass


class ConversionPublic(BaseModel):
    overall: GroupConversion
    treated: GroupConversion = Field(description="Everyone a split gave an arm.")
    holdout: GroupConversion
    difference: float | None = Field(description="Treated rate minus holdout rate.")
    p_value: float | None
    test: str | None = Field(description="fisher_exact (two-sided).")
    significant: bool | None = Field(description="p_value < 0.05.")


class JourneyStats(BaseModel):
    journey: str
    status: str
    live_version: int | None
    entered: int
    in_flight: int
    completed: int
    exited: int
    converted: int
    conversion_rate: float | None
    by_state: dict[str, int]
    exit_reasons: dict[str, int]
    steps: list[StepCounts]
    arms: dict[str, ArmConversion]
    conversion: ConversionPublic


class SimulatedStep(BaseModel):
    step: str
    kind: str
    reached: int = Field(description="Visits of the step (people may loop).")
    routes: dict[str, int] = Field(description="Where they went on: route name -> people.")
    waiting: int = Field(description="Still waiting there at the end of the window.")


class SimulatedSend(BaseModel):
    step: str
    channel: str
    template: str | None
    would_send: int = Field(description="People with an address on the channel.")
    no_address: int = Field(description="People with a profile but no address there.")
    no_profile: int = Field(description="Entered by an identifier no profile holds yet.")


class Simulation(BaseModel):
    journey: str
    days: int
    start: str
    end: str
    events_read: int
    entries_seen: int = Field(description="Entry occasions in the window.")
    entered: int
    refused: dict[str, int] = Field(description="Entries refused, by reason.")
    people: int = Field(description="Distinct people who entered.")
    steps: list[SimulatedStep]
    sends: list[SimulatedSend]
    completed: int
    exited: dict[str, int]
    in_flight: int = Field(description="Still in the journey at the end of the window.")
    converted: int
    sent_nothing: bool = Field(description="Always true: a simulation sends and writes nothing.")


def _document(body: BaseModel, *drop: str) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_none=True).items() if k not in drop}


@router.get("", summary="Every journey with its status, versions and enrolments")
def list_journeys(platform: PlatformDep) -> list[JourneyListed]:
    return [JourneyListed.model_validate(j) for j in platform.journeys.list()]


@router.post(
    "",
    status_code=201,
    summary="Save a new journey (version 1, a draft)",
    responses={409: {"description": "A journey has this name already."}},
)
def create_journey(body: JourneyCreate, platform: PlatformDep, who: PrincipalDep) -> JourneyPublic:
    actor = acting(who, body.actor)
    saved = platform.journeys.create(_document(body, "actor"), actor=actor)
    return JourneyPublic.model_validate(saved)


@router.post("/validate", summary="Check a document against this installation, saving nothing")
def validate_journey(body: JourneyDocument, platform: PlatformDep) -> JourneyValidation:
    return JourneyValidation.model_validate(platform.journeys.validate(_document(body)))


@router.post(
    "/simulate",
    summary="Dry-run a journey over the last days of stored events: sends and writes nothing",
)
def simulate_journey(body: SimulateRequest, platform: PlatformDep) -> Simulation:
    from omnichannel.errors import ValidationError

    if (body.name is None) == (body.definition is None):
        raise ValidationError("name", body.name, "either name (a stored journey) or definition")
    subject: Any = body.name if body.name is not None else body.definition
    answer = platform.journeys.simulate(subject, days=body.days, now=body.now)
    return Simulation.model_validate(answer)


@router.get(
    "/{name}", summary="One journey", responses={404: {"description": "No journey has this name."}}
)
def show_journey(name: NamePath, platform: PlatformDep) -> JourneyShown:
    return JourneyShown.model_validate(platform.journeys.show(name))


@router.put(
    "/{name}",
    summary="Save a new version (a live journey keeps its live version until this is started)",
    responses={404: {"description": "No journey has this name."}},
)
def save_journey(
    name: NamePath, body: JourneyUpdate, platform: PlatformDep, who: PrincipalDep
) -> JourneyPublic:
    saved = platform.journeys.save(name, _document(body, "actor"), actor=acting(who, body.actor))
    return JourneyPublic.model_validate(saved)


_LIFECYCLE: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not allowed from its status (which, and what is)."}
}


@router.post("/{name}/approve", summary="Approve the newest version", responses=_LIFECYCLE)
def approve_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyPublic:
    actor = acting(who, body.actor if body is not None else None)
    return JourneyPublic.model_validate(platform.journeys.approve(name, actor=actor))


@router.post("/{name}/start", summary="Go live on the approved version", responses=_LIFECYCLE)
def start_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyPublic:
    actor = acting(who, body.actor if body is not None else None)
    return JourneyPublic.model_validate(platform.journeys.start(name, actor=actor))


@router.post("/{name}/pause", summary="No entries and no steps until resumed", responses=_LIFECYCLE)
def pause_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyPublic:
    actor = acting(who, body.actor if body is not None else None)
    return JourneyPublic.model_validate(platform.journeys.pause(name, actor=actor))


@router.post("/{name}/resume", summary="Live again after a pause", responses=_LIFECYCLE)
def resume_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyPublic:
    actor = acting(who, body.actor if body is not None else None)
    return JourneyPublic.model_validate(platform.journeys.resume(name, actor=actor))


@router.post("/{name}/archive", summary="Archive: open enrolments exit", responses=_LIFECYCLE)
def archive_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyArchived:
    actor = acting(who, body.actor if body is not None else None)
    return JourneyArchived.model_validate(platform.journeys.archive(name, actor=actor))


class JourneyReset(BaseModel):
    journey: str
    deleted: dict[str, int] = Field(
        description="Rows deleted: messages, steps, enrolments, versions (the journey too)."
    )


@router.post(
    "/{name}/reset",
    summary="Delete a journey with its versions, enrolments, steps and queued messages",
    responses={
        404: {"description": "No journey has this name."},
        409: {"description": "The journey is live: pause it first."},
    },
)
def reset_journey(
    name: NamePath, platform: PlatformDep, who: PrincipalDep, body: ActorBody | None = None
) -> JourneyReset:
    """What `omni journeys reset NAME` and `omni demo --reset` do; audited (journey.reset)."""
    actor = acting(who, body.actor if body is not None else None)
    gone = platform.journeys.reset([name], actor=actor)
    return JourneyReset(journey=name, deleted=gone.get(name, {}))


@router.get("/{name}/enrolments", summary="The newest enrolments and where each one is")
def journey_enrolments(
    name: NamePath,
    platform: PlatformDep,
    state: Annotated[str | None, Query(description="active, waiting, completed or exited.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> EnrolmentPage:
    page = platform.journeys.enrolments(name, state=state, limit=limit)
    return EnrolmentPage.model_validate(page)


@router.get("/{name}/stats", summary="Counts per step and branch, conversions, holdout vs treated")
def journey_stats(name: NamePath, platform: PlatformDep) -> JourneyStats:
    return JourneyStats.model_validate(platform.journeys.stats(name))
