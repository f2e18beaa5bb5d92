"""What each step kind does, for a whole claimed batch at once.

``decide(platform, claimed, now)`` returns one ``engine.Decision`` per claimed enrolment.
Steps that read or write elsewhere do it once per batch, not once per person: one
``send_many`` for every send and webhook step of the batch, one segment query per
condition step, one time-zone read, one ``next_best`` call per channel, one store of
the identify events of update steps. Every effect carries the key
``journey:{enrolment}:{visit}``, so running a step again after a crash has no second
effect (see ``journeys/engine.py``).

A failure of one kind's group (the warehouse unreachable for a condition) is raised as
``StepGroupFailed`` naming the enrolments concerned; the runtime releases those to be
run again and records the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnichannel.journeys import split as splitting
from omnichannel.journeys.definition import (
    WEEKDAYS,
    ConditionStep,
    ExitStep,
    SendStep,
    SplitStep,
    WaitForStep,
    WaitSendTimeStep,
    WaitStep,
    WaitUntilStep,
    WebhookStep,
    step_kind,
)
from omnichannel.journeys.engine import Claimed, Decision
from omnichannel.opstore.models import EnrolmentState

if TYPE_CHECKING:
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

# A send to a person whose profile is not built yet is tried again this often, this long.
NO_PROFILE_RETRY = timedelta(minutes=5)
NO_PROFILE_GIVE_UP = timedelta(hours=1)
WAITING_FOR_PROFILE = "waiting_for_profile"  # context key: when the first try was
EVENT_SOURCE = "journeys"


class StepGroupFailed(Exception):
    """The steps of ``enrolments`` could not run now (they are released and retried)."""

    def __init__(self, enrolments: Sequence[int], cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.enrolments = list(enrolments)


def effect_key(c: Claimed) -> str:
    """The idempotency key of every effect of this visit of this enrolment."""
    return f"journey:{c.id}:{c.visit}"


def _executed(c: Claimed, outcome: str, route: str = "next", **extra: Any) -> Decision:
    step = c.definition.steps[c.step or ""]
    decision = Decision(c, outcome=outcome, route=route, **extra)
    decision.detail = {"kind": step_kind(step), **decision.detail}
    return decision


def decide(platform: Platform, claimed: Sequence[Claimed], now: datetime) -> list[Decision]:
    """One decision per claimed enrolment (see the module docstring)."""
    decisions: list[Decision] = []
    groups: dict[str, list[Claimed]] = defaultdict(list)
    for c in claimed:
        if c.step is None:  # a path ended after a wait, or a holdout's goal window closed
            reason = "holdout" if c.arm == splitting.HOLDOUT else None
            decisions.append(Decision(c, finish=EnrolmentState.COMPLETED, exit_reason=reason))
        elif c.step not in c.definition.steps:
            decisions.append(Decision(c, finish=EnrolmentState.EXITED, exit_reason="invalid_step"))
        else:
            kind = step_kind(c.definition.steps[c.step])
            # Sends and webhooks (sends on the webhook channel) share one send_many.
            groups["send" if kind == "webhook" else kind].append(c)
    failures: list[StepGroupFailed] = []
    for kind, group in groups.items():
        try:
            decisions.extend(EXECUTORS[kind](platform, group, now))
        except StepGroupFailed as failed:
            failures.append(failed)
        except Exception as exc:  # one kind failing costs the others nothing
            log.warning(
                "journey steps failed; they run again",
                extra={"kind": kind, "enrolments": len(group), "error": str(exc)},
            )
            failures.append(StepGroupFailed([c.id for c in group], exc))
    if failures:
        raise PartialBatch(decisions, failures)
    return decisions


class PartialBatch(Exception):
    """Some groups of a batch failed: ``decisions`` holds the others' decisions."""

    def __init__(self, decisions: list[Decision], failures: list[StepGroupFailed]) -> None:
        super().__init__("; ".join(str(f) for f in failures))
        self.decisions = decisions
        self.failed = [i for f in failures for i in f.enrolments]


# --- waits ---------------------------------------------------------------------------


def _wait(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    out = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, WaitStep)
        until = now + step.wait
        out.append(_executed(c, "next", due_at=until, detail={"until": until.isoformat()}))
    return out


def zones_of(platform: Platform, profile_ids: Sequence[str]) -> dict[str, ZoneInfo]:
    """Each profile's time zone (its latest event's), else the installation's."""
    from omnichannel.channels.addresses import identifiers_of, timezones_of

    fallback = ZoneInfo(platform.config.timezone)
    found: dict[str, str] = {}
    ids = sorted({p for p in profile_ids if p})
    if ids:
        with platform.warehouse.reader() as wh:
            found = timezones_of(wh, identifiers_of(wh, ids))
    zones: dict[str, ZoneInfo] = {}
    for pid in ids:
        try:
            zones[pid] = ZoneInfo(found[pid]) if pid in found else fallback
        except (ZoneInfoNotFoundError, ValueError):
            zones[pid] = fallback
    return defaultdict(lambda: fallback, zones)


def next_local_time(now: datetime, at: str, days: Sequence[str], zone: ZoneInfo) -> datetime:
    """The first moment after ``now`` that is ``at`` (HH:MM) on one of ``days`` (any day
    when empty) in ``zone``, as UTC. A time the clocks skip (spring forward) is read as
    zoneinfo does: shifted by the gap."""
    hour, minute = (int(p) for p in at.split(":"))
    local = now.astimezone(zone)
    allowed = {WEEKDAYS.index(d) for d in days} or set(range(7))
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        moment = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if moment > now:
            return moment
    raise AssertionError("a weekday always comes round within eight days")


def _wait_until(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    zones = zones_of(platform, [c.profile_id for c in group if c.profile_id])
    out = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, WaitUntilStep)
        zone = zones[c.profile_id or ""]
        until = next_local_time(now, step.wait_until.time, step.wait_until.days, zone)
        detail = {"until": until.isoformat(), "zone": zone.key}
        out.append(_executed(c, "next", due_at=until, detail=detail))
    return out


def best_send_times(
    platform: Platform, profile_ids: Sequence[str], channel: str, now: datetime, within: timedelta
) -> dict[str, datetime]:
    """``platform.send_times.next_best`` (naive UTC) as aware UTC; people it has no
    answer for (no profile) are sent at ``now``."""
    send_times = getattr(platform, "send_times", None)
    if send_times is None:
        return send_now_without_send_times(profile_ids, now)
    found = send_times.next_best(profile_ids, channel, after=now, within=within)
    return {pid: at.replace(tzinfo=UTC) if at.tzinfo is None else at for pid, at in found.items()}


def send_now_without_send_times(profile_ids: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Where this installation has no send-time capability (``sendtime/``), ``now``."""
    return dict.fromkeys(profile_ids, now)


def _wait_send_time(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    by_ask: dict[tuple[str, timedelta], list[Claimed]] = defaultdict(list)
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, WaitSendTimeStep)
        by_ask[(step.wait_send_time.channel, step.wait_send_time.within)].append(c)
    out = []
    for (channel, within), members in by_ask.items():
        ids = [c.profile_id for c in members if c.profile_id]
        best = best_send_times(platform, ids, channel, now, within) if ids else {}
        for c in members:
            until = max(best.get(c.profile_id or "", now), now)
            detail = {"until": until.isoformat(), "channel": channel}
            out.append(_executed(c, "next", due_at=until, detail=detail))
    return out


def _wait_for(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    out = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, WaitForStep)
        if c.matched_at is not None:
            matched = c.context.get("matched")
            detail = {"matched_at": c.matched_at.isoformat(), "event": step.wait_for.event}
            if matched is not None:
                detail["matched"] = matched
            out.append(_executed(c, "on_event", route="on_event", detail=detail))
        elif c.state == EnrolmentState.WAITING:
            # Recorded only if no event matched between our claim and this commit.
            decision = _executed(c, "on_timeout", route="on_timeout", unless_matched=True)
            decision.detail["event"] = step.wait_for.event
            out.append(decision)
        else:  # the wait begins: the trigger (entries) matches the event, or it times out
            changes = {
                "state": EnrolmentState.WAITING,
                "wait_event": step.wait_for.event,
                "matched_at": None,
            }
            out.append(Decision(c, due_at=now + step.wait_for.timeout, changes=changes))
    return out


# --- branches ------------------------------------------------------------------------


def _condition(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    import ibis
    import pyarrow as pa

    from omnichannel.segments.compile import members
    from omnichannel.segments.definition import SegmentDefinition

    by_step: dict[tuple[int, int, str], list[Claimed]] = defaultdict(list)
    for c in group:
        by_step[(c.journey_id, c.journey_version, c.step or "")].append(c)
    out = []
    for (_, _, name), batch in by_step.items():
        step = batch[0].definition.steps[name]
        assert isinstance(step, ConditionStep)
        ids = sorted({c.profile_id for c in batch if c.profile_id})
        held: set[str] = set()
        if ids:
            definition = SegmentDefinition(name=batch[0].journey_name, condition=step.condition)
            scope = ibis.memtable(pa.table({"profile_id": pa.array(ids, pa.string())}))
            with platform.warehouse.reader() as wh:
                expr = members(
                    definition,
                    wh,
                    now=now.astimezone(UTC).replace(tzinfo=None),
                    profile_ids=scope,
                    rules=platform.config.rules,
                )
                held = set(expr.to_pyarrow().column("profile_id").to_pylist())
        for c in batch:
            route = "then" if c.profile_id in held else "else"
            detail = {} if c.profile_id else {"reason": "no_profile"}
            out.append(_executed(c, route, route=route, detail=detail))
    return out


def _split(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    out = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, SplitStep)
        arm = splitting.arm_for(f"{c.id}:{c.step}", step.split)
        if arm == splitting.HOLDOUT:
            # Nothing more is sent; the enrolment stays open until its goal window closes,
            # so a conversion still counts for the holdout group.
            until = max(c.goal_until or now, now)
            changes = {"arm": arm, "state": EnrolmentState.WAITING}
            out.append(_executed(c, arm, route=arm, due_at=until, changes=changes))
        else:
            out.append(_executed(c, arm, route=arm, changes={"arm": arm}))
    return out


# --- effects -------------------------------------------------------------------------


def _send_requests(c: Claimed) -> dict[str, Any]:
    step = c.definition.steps[c.step or ""]
    common = {
        "idempotency_key": effect_key(c),
        "origin": "journey",
        "journey_id": c.journey_id,
        "journey_step": c.step,
        "profile_id": c.profile_id,
    }
    if isinstance(step, WebhookStep):
        return {
            **common,
            "channel": "webhook",
            "address": step.webhook.endpoint,
            "content": {"body": step.webhook.body},
            "data": {"journey": c.journey_name, "entry": c.context.get("entry", {})},
        }
    assert isinstance(step, SendStep)
    send = step.send
    return {
        **common,
        "channel": send.channel,
        "template": send.template,
        "template_version": send.template_version,
        "content": send.content,
        "kind": send.kind,
        "campaign": send.campaign or c.journey_name,
        "data": {"journey": c.journey_name, "entry": c.context.get("entry", {}), **send.data},
    }


def profiles_of(platform: Platform, subjects: Sequence[str]) -> dict[str, str | None]:
    """The profile each subject (``user_id:42``) belongs to now, through the Profile
    lookup (its index is rebuilt when identity changes); None while there is none."""
    from omnichannel.errors import OmniError

    answers: dict[str, str | None] = {}
    with platform.warehouse.reader() as wh:
        for subject in dict.fromkeys(subjects):
            try:
                answers[subject] = platform.lookup.find(wh, subject).profile_id
            except OmniError:  # not found, ambiguous, or not an identifier at all
                answers[subject] = None
    return answers


def _no_profile_yet(c: Claimed, now: datetime) -> Decision:
    """Try again in five minutes, for up to an hour; then record ``no_profile``."""
    since_text = c.context.get(WAITING_FOR_PROFILE)
    since = datetime.fromisoformat(since_text) if since_text else now
    if now - since >= NO_PROFILE_GIVE_UP:
        context = {k: v for k, v in c.context.items() if k != WAITING_FOR_PROFILE}
        return _executed(
            c, "no_profile", changes={"context": context}, detail={"subject": c.subject}
        )
    context = {**c.context, WAITING_FOR_PROFILE: since.isoformat()}
    return Decision(c, due_at=now + NO_PROFILE_RETRY, changes={"context": context})


def _sends(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    out: list[Decision] = []
    ready: list[Claimed] = []
    unknown = [
        c
        for c in group
        if c.profile_id is None and isinstance(c.definition.steps[c.step or ""], SendStep)
    ]
    found = profiles_of(platform, [c.subject for c in unknown]) if unknown else {}
    waiting = {c.id for c in unknown}
    resolved: set[int] = set()
    for c in group:
        if c.id in waiting:
            if found.get(c.subject) is None:
                out.append(_no_profile_yet(c, now))
                continue
            c = replace(c, profile_id=found[c.subject])
            resolved.add(c.id)
        ready.append(c)
    if not ready:
        return out
    answers = platform.messages.send_many([_send_requests(c) for c in ready], now=now)
    for c, answer in zip(ready, answers, strict=True):
        changes: dict[str, Any] = {"profile_id": c.profile_id} if c.id in resolved else {}
        if WAITING_FOR_PROFILE in c.context:
            changes["context"] = {k: v for k, v in c.context.items() if k != WAITING_FOR_PROFILE}
        if answer.get("error"):
            detail = {"error": answer["error"], "field": answer.get("error_field")}
            out.append(_executed(c, "error", detail=detail, changes=changes))
            continue
        detail = {k: answer[k] for k in ("reason", "detail", "duplicate") if answer.get(k)}
        out.append(
            _executed(
                c,
                str(answer["status"]),
                detail=detail,
                outbox_id=answer.get("outbox_id"),
                changes=changes,
            )
        )
    return out


def _update(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    from omnichannel.journeys.updates import identify_calls, store_calls

    calls, who = identify_calls(platform, group, now)
    stored = store_calls(platform, calls) if calls else {}
    out = []
    for c in group:
        if c.id not in who:
            out.append(_executed(c, "no_identifier", detail={"subject": c.subject}))
            continue
        refusal = stored.get(effect_key(c))
        if refusal is not None:
            out.append(_executed(c, "refused", detail={"error": refusal}))
        else:
            out.append(_executed(c, "updated", detail={"identifier": who[c.id]}))
    return out


def _enter(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    from omnichannel.journeys.entering import enter_other

    return enter_other(platform, group, now, executed=_executed)


def _exit(platform: Platform, group: list[Claimed], now: datetime) -> list[Decision]:
    out = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, ExitStep)
        reason = step.exit.reason
        decision = _executed(c, "exit", finish=EnrolmentState.EXITED, exit_reason=reason)
        out.append(decision)
    return out


Executor = Callable[["Platform", list[Claimed], datetime], list[Decision]]

EXECUTORS: dict[str, Executor] = {
    "wait": _wait,
    "wait_until": _wait_until,
    "wait_send_time": _wait_send_time,
    "wait_for": _wait_for,
    "condition": _condition,
    "split": _split,
    "send": _sends,
    "webhook": _sends,
    "update": _update,
    "enter": _enter,
    "exit": _exit,
}
