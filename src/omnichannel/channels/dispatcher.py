"""Each channel's worker: claim due messages, check them again, send, settle, log.

One thread and one asyncio event loop per enabled channel, each with its own adapter,
rate limiter (aiolimiter), circuit breaker, timeout and ``concurrency`` sends in flight.
A provider that hangs fills only its own channel's slots; one that answers 500 opens
only its own breaker; a 429's ``Retry-After`` delays only its own messages. The other
channels' loops never wait for it (tested with a hanging, a failing and a throttling
receiver side by side).

Database work (claims, settlements) runs on one helper thread per channel, so the event
loop keeps sending while a transaction commits; outcomes are settled in small batches
(every 50 ms or 200 outcomes, one transaction), which is what lets a channel reach
thousands of messages a second on SQLite.

A channel whose provider takes no idempotency key (SMTP: ``settle_at_once`` on the
adapter) records each accepted message at once instead: a ``Sent`` outcome wakes the
settler, which commits every outcome waiting (a group commit), so a message the server
accepted is unrecorded (and would be sent again after a kill) for one or two commits'
time, not for the 50 ms batch. With the channel's ``record_before_next: true`` the
send's slot moreover waits for that commit before it sends another message: at most
``concurrency`` messages can be in that window, at the price of throughput (each send
waits for a commit).

Each message gets its signed unsubscribe link here (``{{ unsubscribe_url }}`` in any
part, on every channel), so no adapter has to remember to add it.

Right before sending, consent and the suppression list are read again for the claimed
messages (the profile's and the address's own decisions): someone who unsubscribed while
their message waited in the queue (a quiet-hours hold, a retry) is not contacted.

A message to several of a person's devices (push: content ``devices``) is one outbox
message sent as one provider call per device (each through the rate limit), its copies
settled one by one (``channels.devices``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiolimiter import AsyncLimiter

from omnichannel.channels import policy, queue, registry
from omnichannel.channels.adapter import (
    DEVICES,
    AdapterContext,
    ChannelSettings,
    Delivery,
    Rejected,
    RetryLater,
    SendOutcome,
    Sent,
    trim_response,
)
from omnichannel.channels.backoff import exhausted, retry_delay
from omnichannel.channels.breaker import BreakerState, CircuitBreaker
from omnichannel.channels.deliveries import DeliveryEvent, DeliveryLog
from omnichannel.channels.devices import devices_of, fans_out, settle_copies, without_devices
from omnichannel.channels.settings import ChannelsConfig
from omnichannel.channels.suppressions import add_suppression, suppressed_among
from omnichannel.channels.tracking import fill_unsubscribe
from omnichannel.opstore.consent import PROFILE_SUBJECT
from omnichannel.opstore.models import OutboxMessage, OutboxStatus, utcnow

if TYPE_CHECKING:
    from omnichannel.opstore import OpStore

log = logging.getLogger(__name__)

SETTLE_EVERY = 0.05
# Seconds a stopping worker lets sends in flight finish.
STOP_GRACE = 5.0
SETTLE_BATCH = 200
# Outcomes the error rate is computed over.
RATE_WINDOW = timedelta(minutes=5)


def holder_id() -> str:
    """Who holds a lease: host, pid and a random tag (a restarted pid is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class ChannelStats:
    """What a channel's worker did since it started (read by status and /metrics)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    breaker_opened: int = 0
    in_flight: int = 0
    last_error: str | None = None
    recent: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=10_000))

    def outcome(self, ok: bool) -> None:
        self.recent.append((time.monotonic(), ok))

    def error_rate(self) -> float | None:
        """Share of provider calls that failed in the last five minutes (None: no calls)."""
        since = time.monotonic() - RATE_WINDOW.total_seconds()
        window = [ok for at, ok in self.recent if at >= since]
        return None if not window else 1 - sum(window) / len(window)


class ChannelWorker:
    """One channel's dispatcher (see the module docstring)."""

    def __init__(
        self,
        channel: str,
        *,
        config: ChannelsConfig,
        opstore: OpStore,
        log_writer: DeliveryLog,
        context: AdapterContext,
        holder: str | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.channel = registry.known(channel)
        self.settings: ChannelSettings = config.channel(channel)
        self.config = config
        self.opstore = opstore
        self.log = log_writer
        self.context = context
        self.holder = holder or holder_id()
        self.poll_seconds = poll_seconds
        self.stats = ChannelStats()
        self.breaker = CircuitBreaker(self.settings.breaker)
        # Channels whose addresses are separate destinations (webhook endpoints) isolate
        # them: a breaker and a share of the slots per address, so one broken endpoint
        # neither opens the channel's breaker nor fills its slots.
        self.isolated = bool(getattr(self.settings, "isolate_endpoints", False))
        self._breakers: dict[str, CircuitBreaker] = {}
        self._address_slots: dict[str, asyncio.Semaphore] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"omni-{channel}-db")
        self._settlements: list[Settling] = []
        # See the module docstring: a Sent outcome is committed at once (the adapter says
        # so), and with the channel's record_before_next its slot waits for that commit.
        self.settle_at_once = bool(
            getattr(registry.adapter_class(self.channel), "settle_at_once", False)
        )
        self.record_before_next = self.settle_at_once and bool(
            getattr(self.settings, "record_before_next", False)
        )
        self._urgent: asyncio.Event | None = None
        self._batch_done: asyncio.Future[None] | None = None
        self._settler_done = False
        self.error: BaseException | None = None

    # --- control, from any thread ------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"omni-channel-{self.channel}", daemon=True
        )
        self._thread.start()
        self._ready.wait(timeout=10)

    def wake(self) -> None:
        """New messages are queued: look now rather than at the next poll."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(event.set)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
        self._db.shutdown(wait=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> BreakerState:
        return self.breaker.state

    def open_addresses(self) -> list[str]:
        """Addresses whose own breaker is not closed (isolated channels)."""
        return sorted(a for a, b in self._breakers.items() if b.state is not BreakerState.CLOSED)

    def _breaker_of(self, row: OutboxMessage) -> CircuitBreaker:
        if not self.isolated:
            return self.breaker
        found = self._breakers.get(row.address)
        if found is None:
            found = self._breakers[row.address] = CircuitBreaker(self.settings.breaker)
        return found

    def _slots_of(self, row: OutboxMessage) -> asyncio.Semaphore | None:
        if not self.isolated:
            return None
        found = self._address_slots.get(row.address)
        if found is None:
            share = getattr(self.settings, "endpoint_concurrency", None)
            share = share or max(1, self.settings.concurrency // 2)
            found = self._address_slots[row.address] = asyncio.Semaphore(share)
        return found

    # --- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._main())
        except BaseException as exc:
            self.error = exc
            log.exception("channel worker stopped", extra={"channel": self.channel})
        finally:
            self._ready.set()

    async def _db_call(self, work: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, work, *args)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        adapter = registry.adapter_class(self.channel)(self.settings, self.context)
        self._ready.set()
        if not await self._open(adapter):
            return
        limiter = AsyncLimiter(self.settings.rate_per_second, 1.0)
        slots = asyncio.Semaphore(self.settings.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        settler = asyncio.create_task(self._settle_loop())
        log.info("channel worker started", extra={"channel": self.channel, "holder": self.holder})
        try:
            while not self._stopping.is_set():
                wait = self.breaker.wait_seconds()
                room = self._prefetch() - len(tasks)
                # Claim again when half the prefetch is left: big claims, not many small ones.
                if wait > 0 or len(tasks) > max(self.settings.concurrency, self._prefetch() // 2):
                    await self._sleep(wait if wait > 0 else 0.01)
                    continue
                half_open = self.breaker.state is BreakerState.HALF_OPEN
                rows = await self._db_call(self._claim, 1 if half_open else room)
                if not rows:
                    await self._sleep(await self._db_call(self._idle_seconds))
                    continue
                for row in rows:
                    task = asyncio.create_task(self._deliver(adapter, limiter, slots, row))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if half_open:
                    await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if tasks:
                # Sends in flight may finish (a short grace); the rest go back to the queue.
                grace = min(STOP_GRACE, self.settings.timeout.total_seconds() + 1)
                _, late = await asyncio.wait(tasks, timeout=grace)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late, timeout=1)
            self._stopping.set()
            self._settler_done = True
            if self._urgent is not None:
                self._urgent.set()
            await settler
            await self._settle_now()
            await adapter.close()
            log.info("channel worker stopped", extra={"channel": self.channel})

    async def _open(self, adapter: Any) -> bool:
        """Open the adapter, trying again (1 s, doubling to a minute) while it fails: an
        SMTP relay or a token endpoint that is down at start must not end the worker."""
        delay = 1.0
        while not self._stopping.is_set():
            try:
                await adapter.open()
                return True
            except Exception as exc:
                self.stats.last_error = trim_response(
                    f"could not open: {type(exc).__name__}: {exc}"
                )
                log.warning(
                    "channel could not open its provider; retrying",
                    extra={"channel": self.channel, "retry_seconds": delay, "error": str(exc)},
                )
                await self._sleep(delay)
                delay = min(60.0, delay * 2)
        return False

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        self._wake.clear()

    def _idle_seconds(self) -> float:
        with self.opstore.session() as session:
            due = queue.next_due(session, self.channel)
        if due is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due - utcnow()).total_seconds()))

    def _prefetch(self) -> int:
        """Messages claimed ahead of the free slots: two seconds of the channel's rate (at
        least two rounds of its concurrency, at most 500), so a claim's queries are paid
        for hundreds of messages, not a handful."""
        rate = int(self.settings.rate_per_second * 2)
        return max(2 * self.settings.concurrency, min(500, rate))

    def _lease(self) -> timedelta:
        # Long enough for the last claimed message to wait its turn and time out twice.
        waiting = self._prefetch() / self.settings.rate_per_second
        return self.settings.timeout * 2 + timedelta(seconds=waiting + 30)

    def _claim(self, limit: int) -> list[OutboxMessage]:
        """Lease due messages and check consent and suppressions again, in one transaction:
        a message a rule now forbids is dropped there, never seen as ``sending``."""
        with self.opstore.session() as session:
            rows = queue.claim(
                session, channel=self.channel, holder=self.holder, limit=limit, lease=self._lease()
            )
            if not rows:
                return []
            reachable: dict[int, list[str]] = {}
            checked = self._recheck(session, rows, reachable)
            drops = [(row, rule) for row, rule in checked if rule is not None]
            settlements = []
            for row, rule in drops:
                reason, _, detail = rule.partition(": ")
                settlements.append(
                    queue.Settlement(row.id, self.holder, OutboxStatus.DROPPED, reason, detail)
                )
            queue.settle(session, settlements)
            session.expunge_all()
        for claimed, forbidden in checked:
            if forbidden is None and fans_out(claimed):
                # Detached: the worker's view only, the outbox keeps the devices it has.
                claimed.content = {**claimed.content, DEVICES: reachable[claimed.id]}
        if drops:
            self.stats.dropped += len(drops)
            self.log.record(
                DeliveryEvent.of(row, "dropped", reason=s.reason, detail=s.detail)
                for (row, _), s in zip(drops, settlements, strict=True)
            )
        return [row for row, rule in checked if rule is None]

    def _recheck(
        self, session: Any, rows: list[OutboxMessage], reachable: dict[int, list[str]]
    ) -> list[tuple[OutboxMessage, str | None]]:
        """Per row the rule that now forbids it (None: send). A row to several devices is
        checked device by device; ``reachable`` gets the devices still allowed."""
        adapter: Any = registry.adapter_class(self.channel)
        address_type = (adapter.address_types or (None,))[0]

        def subjects_of(row: OutboxMessage, address: str) -> list[policy.Subject]:
            mine: list[policy.Subject] = []
            if row.profile_id:
                mine.append((PROFILE_SUBJECT, row.profile_id))
            if address_type:
                mine.append((address_type, address))
            return mine

        wanted = {row.id: devices_of(row) for row in rows}
        decisions = policy.load_decisions(
            session,
            self.channel,
            (s for row in rows for a in wanted[row.id] for s in subjects_of(row, a)),
        )
        suppressed = suppressed_among(
            session, channel=self.channel, addresses=[a for ds in wanted.values() for a in ds]
        )
        checked: list[tuple[OutboxMessage, str | None]] = []
        for row in rows:
            rule = None
            allowed: list[str] = []
            for address in wanted[row.id]:
                verdict = policy.consent_verdict(
                    self.config, self.channel, subjects_of(row, address), decisions
                )
                if verdict is not None:
                    rule = rule or f"consent: {verdict.detail}"
                elif address in suppressed:
                    found = suppressed[address]
                    rule = rule or (
                        f"suppression: {found.address} is suppressed on {self.channel} "
                        f"({found.reason})"
                    )
                else:
                    allowed.append(address)
            reachable[row.id] = allowed
            checked.append((row, None if allowed else rule))
        return checked

    async def _deliver(
        self,
        adapter: Any,
        limiter: AsyncLimiter,
        slots: asyncio.Semaphore,
        row: OutboxMessage,
    ) -> None:
        breaker = self._breaker_of(row)
        mine = self._slots_of(row)
        settled = False
        try:
            if mine is not None:
                await mine.acquire()  # before the channel's slots: a hung address waits here
            async with slots:
                if not breaker.allow():
                    self._postpone(row, breaker)
                    return
                self.stats.in_flight += 1
                try:
                    if fans_out(row):
                        outcomes = await asyncio.gather(
                            *(self._call_limited(adapter, limiter, row, d) for d in devices_of(row))
                        )
                    else:
                        async with limiter:
                            outcome = await self._call(adapter, row)
                finally:
                    self.stats.in_flight -= 1
                if self.settle_at_once and not fans_out(row):
                    self._outcome(row, outcome, breaker)
                    settled = True
                    if isinstance(outcome, Sent):
                        if self.record_before_next:
                            # Recorded before this slot sends anything else.
                            await self._committed()
                        elif self._urgent is not None:
                            self._urgent.set()  # the next commit, now
                    return
        except asyncio.CancelledError:
            # The worker is stopping: back in the queue now, not when its lease ends.
            if not settled:
                self._postpone(row, breaker, reason="worker_stopped")
            raise
        finally:
            if mine is not None:
                mine.release()
        if fans_out(row):
            self._device_outcomes(row, list(zip(devices_of(row), outcomes, strict=True)), breaker)
        else:
            self._outcome(row, outcome, breaker)

    async def _call_limited(
        self, adapter: Any, limiter: AsyncLimiter, row: OutboxMessage, address: str
    ) -> SendOutcome:
        async with limiter:  # each device's copy is its own provider call
            return await self._call(adapter, row, address)

    async def _call(
        self, adapter: Any, row: OutboxMessage, address: str | None = None
    ) -> SendOutcome:
        # The message's own unsubscribe link, made here once for every channel: the
        # outbox keeps the rendered content with the placeholder (its id was not known).
        tracking = self.context.tracking
        unsubscribe = tracking.unsubscribe_url(row.id) if tracking is not None else None
        delivery = Delivery(
            outbox_id=row.id,
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            kind=row.kind,
            profile_id=row.profile_id,
            address=address or row.address,
            content=fill_unsubscribe(without_devices(row.content or {}), unsubscribe),
            attempt=row.attempts,
            template=row.template,
            template_version=row.template_version,
            campaign=row.campaign,
            unsubscribe_url=unsubscribe,
        )
        seconds = self.settings.timeout.total_seconds()
        try:
            # asyncio.timeout, not wait_for: wait_for (3.11) wraps each send in a task.
            async with asyncio.timeout(seconds):
                return await adapter.send(delivery)
        except TimeoutError:
            return RetryLater(f"no answer from the {self.channel} provider within {seconds:g} s")
        except Exception as exc:
            return RetryLater(trim_response(f"{type(exc).__name__}: {exc}"))

    # --- outcomes ----------------------------------------------------------------------

    def _queue(
        self, settlement: queue.Settlement, event: DeliveryEvent, reject: Rejected | None = None
    ) -> None:
        address = event.address or ""
        self._settlements.append((settlement, [event], [(address, reject)] if reject else []))

    def _postpone(
        self, row: OutboxMessage, breaker: CircuitBreaker, reason: str = "breaker_open"
    ) -> None:
        """The breaker is open (or the worker stops): back in the queue, attempt unspent."""
        wait = breaker.wait_seconds() if reason == "breaker_open" else 0.0
        until = utcnow() + timedelta(seconds=max(wait, 0.05))
        s = queue.Settlement(
            row.id,
            self.holder,
            OutboxStatus.QUEUED,
            reason,
            f"the {self.channel} circuit breaker is open"
            + (f" for {row.address}" if self.isolated else "")
            if reason == "breaker_open"
            else "the channel's worker stopped before sending it",
            next_attempt_at=until,
            uncount_attempt=True,
        )
        self._queue(s, DeliveryEvent.of(row, "retrying", reason=reason, detail=s.detail))

    def _outcome(self, row: OutboxMessage, outcome: SendOutcome, breaker: CircuitBreaker) -> None:
        was_open = breaker.opened_count
        if isinstance(outcome, Sent):
            breaker.success()
            self.stats.sent += 1
            self.stats.outcome(True)
            s = queue.Settlement(
                row.id,
                self.holder,
                OutboxStatus.SENT,
                provider_message_id=outcome.provider_message_id,
                provider_response=trim_response(outcome.response),
            )
            event = DeliveryEvent.of(
                row,
                "sent",
                reason=None,
                detail=None,
                provider_message_id=outcome.provider_message_id,
            )
            self._queue(s, event)
        elif isinstance(outcome, RetryLater):
            breaker.failure()
            self.stats.outcome(False)
            self.stats.last_error = outcome.response
            response = trim_response(outcome.response)
            if exhausted(self.settings.retry, row.attempts):
                self.stats.failed += 1
                s = queue.Settlement(
                    row.id,
                    self.holder,
                    OutboxStatus.FAILED,
                    "retries_exhausted",
                    f"{row.attempts} attempts; last: {response}",
                    provider_response=response,
                )
                self._queue(s, DeliveryEvent.of(row, "failed", reason=s.reason, detail=s.detail))
            else:
                self.stats.retried += 1
                delay = retry_delay(
                    self.settings.retry, row.attempts, retry_after=outcome.retry_after
                )
                s = queue.Settlement(
                    row.id,
                    self.holder,
                    OutboxStatus.QUEUED,
                    "retrying",
                    response,
                    provider_response=response,
                    next_attempt_at=utcnow() + delay,
                )
                event = DeliveryEvent.of(
                    row,
                    "retrying",
                    reason="retrying",
                    detail=f"next attempt in {delay.total_seconds():.1f} s: {response}",
                )
                self._queue(s, event)
        else:
            # The provider answered (it is up) and refused this one message.
            breaker.success()
            self.stats.outcome(True)
            self.stats.failed += 1
            self.stats.last_error = outcome.response
            response = trim_response(outcome.response)
            s = queue.Settlement(
                row.id,
                self.holder,
                OutboxStatus.FAILED,
                outcome.reason,
                response,
                provider_response=response,
            )
            event = DeliveryEvent.of(row, "failed", reason=outcome.reason, detail=response)
            self._queue(s, event, outcome if outcome.suppress else None)
        if breaker.opened_count != was_open:
            self.stats.breaker_opened += 1
            log.warning(
                "channel circuit breaker opened",
                extra={
                    "channel": self.channel,
                    "address": row.address if self.isolated else None,
                    "error": self.stats.last_error,
                },
            )

    def _device_outcomes(
        self,
        row: OutboxMessage,
        outcomes: list[tuple[str, SendOutcome]],
        breaker: CircuitBreaker,
    ) -> None:
        """Settle a message sent as one copy per device (``channels.devices``)."""
        done = settle_copies(row, outcomes, retry=self.settings.retry, holder=self.holder)
        if done.answered:
            breaker.success()
        else:
            breaker.failure()
        self.stats.outcome(done.answered)
        if done.last_error is not None:
            self.stats.last_error = done.last_error
        status = done.settlement.status
        if status == OutboxStatus.SENT:
            self.stats.sent += 1
        elif status == OutboxStatus.QUEUED:
            self.stats.retried += 1
        else:
            self.stats.failed += 1
        self._settlements.append((done.settlement, done.events, done.suppress))

    async def _committed(self) -> None:
        """Until the outcomes queued so far are committed (the next settle, started now)."""
        if self._batch_done is None:
            self._batch_done = asyncio.get_running_loop().create_future()
        done = self._batch_done
        assert self._urgent is not None
        self._urgent.set()
        # Shielded: a send cancelled while it waits must not cancel the others' wait.
        await asyncio.shield(done)

    async def _settle_loop(self) -> None:
        assert self._urgent is not None
        while not self._settler_done:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_EVERY):
                    await self._urgent.wait()
            self._urgent.clear()
            await self._settle_now()

    async def _settle_now(self) -> None:
        # Swapped on the loop's thread, which is the only one appending.
        batch, self._settlements = self._settlements, []
        done, self._batch_done = self._batch_done, None
        try:
            if batch:
                await self._db_call(self._write_settlements, batch)
        finally:
            if done is not None and not done.done():
                done.set_result(None)

    def _write_settlements(self, batch: list[Settling]) -> None:
        for start in range(0, len(batch), SETTLE_BATCH):
            part = batch[start : start + SETTLE_BATCH]
            try:
                with self.opstore.session() as session:
                    queue.settle(session, [s for s, _, _ in part])
                    for _, _, rejects in part:
                        for address, reject in rejects:
                            self._suppress(session, address, reject)
            except Exception:
                # The leases expire and the messages come back: nothing is lost, and the
                # idempotency key lets the provider (or the receiver) skip a repeat.
                log.exception("could not settle channel outcomes", extra={"channel": self.channel})
                continue
            self.log.record(e for _, events, _ in part for e in events)

    def _suppress(self, session: Any, address: str, reject: Rejected) -> None:
        add_suppression(
            session,
            channel=self.channel,
            address=address,
            reason=_suppression_reason(reject.reason),
            source=f"{self.channel} provider",
            detail={"response": reject.response[:500]},
            actor=f"dispatcher {self.holder}",
        )


# A settlement, its delivery-log rows, and the addresses to suppress with why.
Settling = tuple[queue.Settlement, list[DeliveryEvent], list[tuple[str, Rejected]]]


def _loop_factory() -> Any:
    """uvloop's event loop where it is installed (it comes with uvicorn[standard]): the
    HTTP adapters spend much of their time in the loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _suppression_reason(reason: str) -> str:
    word = "".join(ch if ch.isalnum() else "_" for ch in reason.lower()).strip("_")
    return word[:64] or "rejected"
