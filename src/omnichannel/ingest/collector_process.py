"""The collector in a process of its own (``OMNI_COLLECTOR_PORT``).

``omni serve`` then starts a second Python process answering the same collector routes
(``/v1/batch``, ``/v1/track``, ...) on that port, with the same checks, write keys, dead
letters and group-committed log, so parsing and checking events does not share the
lookup process's GIL. The two processes split the work on files:

- the collector process is the only writer of its log, ``<home>/log/collector``; it
  answers a request once its record is fsync'd there, as the in-process collector does;
- after each group commit it writes the log's durable end to a pipe; the main process's
  loader reads the log up to that end (``PreparedTail``), stores, publishes and
  checkpoints it beside its own log's records;
- every loader interval it also turns the durable records not yet prepared into Arrow
  batch files (``prepared.py``: decode, checks, in-batch dedupe, rows to Arrow, the
  loader's per-event Python work) and writes their end to the pipe; the main loader
  appends a batch as it is, so that work never holds the lookup process's GIL (it
  decodes the log itself when a batch is missing or late);
- the main process writes one line of settings to the collector's stdin, then commands
  (``forget``: a write key was revoked); when the main process ends, even by SIGKILL, the
  stdin pipe closes and the collector stops (what it acknowledged is in its log, and the
  next ``omni serve`` drains it);
- the main process restarts a collector process that exits on its own.

Example::

    tail = PreparedTail(collector_log_dir(settings))
    process = CollectorProcess(settings, tail)
    process.start()                 # answers on settings.collector_port
    loader = Loader(own_log, lease, stream=stream, also=(tail,))
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from omnichannel.config import Settings
from omnichannel.ingest.bus_redis import RedisBus
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.prepared import PreparedBatches, PreparedTail
from omnichannel.ingest.sources import KeyResolver
from omnichannel.opstore import OpStore

log = logging.getLogger(__name__)

# What the pipe carries: (kind, offset), 16 bytes, written whole (under PIPE_BUF).
MESSAGE = struct.Struct("<QQ")
DURABLE = 0  # the log is durable up to offset
PREPARED = 1  # batches are prepared up to offset
FORGET = b"forget\n"
RESTART_MAX_SECONDS = 30.0


def collector_log_dir(settings: Settings) -> Path:
    """The collector process's log, beside (inside) the server's own."""
    return settings.log_dir / "collector"


class CollectorProcess:
    """Starts, feeds and restarts the collector process; tells ``tail`` what is durable."""

    def __init__(self, settings: Settings, tail: PreparedTail) -> None:
        self.settings = settings
        self.tail = tail
        self.restarts = 0
        self.last_exit: int | None = None
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._stdin_lock = threading.Lock()
        self._thread = threading.Thread(target=self._supervise, name="collector-process")

    @property
    def url(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.settings.collector_port}"

    def start(self) -> None:
        self._thread.start()

    def health(self) -> dict[str, Any]:
        process = self._process
        return {
            "url": self.url,
            "pid": None if process is None else process.pid,
            "running": process is not None and process.poll() is None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }

    def answering(self, timeout: float = 2.0) -> bool:
        """Its ``/healthz`` answers (running is not enough: it may still be starting)."""
        import httpx

        try:
            return httpx.get(self.url + "/healthz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def readiness(self) -> dict[str, Any]:
        """What ``/readyz`` reports: alive and answering, and its log's durable end
        against what the loader has prepared batches for and stored (the checkpoint)."""
        health = self.health()
        answering = health["running"] and self.answering()
        checkpoint = self.tail.checkpoint()
        detail = {
            **health,
            "answering": answering,
            "durable_end": self.tail.end,
            "prepared_end": self.tail.prepared_end,
            "stored_end": checkpoint,
            "pending_bytes": self.tail.pending_bytes(),
            # Stored from its prepared batches, or decoded by the loader (late or missing).
            "records_prepared": self.tail.records_prepared,
            "records_decoded": self.tail.records_decoded,
        }
        if not answering:
            reason = f"the collector process at {self.url} does not answer"
            if not health["running"]:
                reason = (
                    f"the collector process is not running (last exit {self.last_exit}, "
                    f"{self.restarts} restarts); it is restarted, its port {self.url} "
                    "refuses calls meanwhile"
                )
            return {"ok": False, "reason": reason, **detail}
        return detail

    def metrics_text(self) -> str:
        """Its ``/metrics`` (the main ``/metrics`` forwards its collector families)."""
        import httpx

        response = httpx.get(self.url + "/metrics", timeout=2.0)
        response.raise_for_status()
        return response.text

    def forget_keys(self) -> None:
        """Drop the collector process's write-key cache (a key was revoked here)."""
        self._send(FORGET)

    def _send(self, line: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        with self._stdin_lock:
            try:
                process.stdin.write(line)
                process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # it is exiting; the supervisor restarts it

    def _supervise(self) -> None:
        # The thread that starts a child lives as long as it: Linux ties
        # PR_SET_PDEATHSIG to the starting thread, and the pipes end with this loop.
        wait = 1.0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self._run_once()
            except Exception:
                log.exception("collector process: could not start it")
            if self._stopping.is_set():
                return
            if time.monotonic() - began > 60:
                wait = 1.0
            log.error(
                "collector process exited; restarting it",
                extra={"exit_code": self.last_exit, "retry_seconds": wait},
            )
            self.restarts += 1
            self._stopping.wait(wait)
            wait = min(wait * 2, RESTART_MAX_SECONDS)

    def _run_once(self) -> None:
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "omnichannel.ingest.collector_process", str(write_end)],
                stdin=subprocess.PIPE,
                pass_fds=(write_end,),
                # Its own session: a Ctrl-C at the terminal reaches this process, which
                # then stops the collector in order (stdin closed) after its last answers.
                start_new_session=True,
            )
        finally:
            os.close(write_end)
        self._process = process
        assert process.stdin is not None
        settings = self.settings.model_dump(mode="json")
        self._send(json.dumps({"settings": settings}).encode("utf-8") + b"\n")
        buffer = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(4096)
                if not chunk:
                    break  # the process ended (or closed its end)
                buffer += chunk
                whole = len(buffer) - len(buffer) % MESSAGE.size
                # Only the latest of each kind matters: each covers the ones before it.
                latest: dict[int, int] = {}
                for kind, offset in MESSAGE.iter_unpack(buffer[:whole]):
                    latest[kind] = offset
                buffer = buffer[whole:]
                if DURABLE in latest:
                    self.tail.advance(latest[DURABLE])
                if PREPARED in latest:
                    self.tail.prepared_to(latest[PREPARED])
        self.last_exit = process.wait()

    def stop(self, timeout: float = 60) -> None:
        """Close its stdin (it drains its requests, closes its log and exits), then wait."""
        self._stopping.set()
        process = self._process
        if process is not None and process.stdin is not None:
            with self._stdin_lock, contextlib.suppress(OSError):
                process.stdin.close()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("collector process did not stop in %ss; killing it", timeout)
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout)


class ForwardingKeys(KeyResolver):
    """The main process's write-key cache: a revocation here also reaches the collector's."""

    def __init__(self, store: OpStore, ttl: float, process: CollectorProcess) -> None:
        super().__init__(store, ttl)
        self.process = process

    def forget(self) -> None:
        super().forget()
        self.process.forget_keys()


# -- the collector process itself ---------------------------------------------------------


def _tell(pipe: int, end: int, kind: int = DURABLE) -> bool:
    try:
        os.write(pipe, MESSAGE.pack(kind, end))
    except OSError:  # the main process is gone; its successor reads the log from files
        return False
    return True


def _tell_ends(event_log: EventLog | RedisBus, pipe: int, stopped: threading.Event) -> None:
    if isinstance(event_log, RedisBus):
        return  # no log of its own: the loaders read the bus, its lag is the bus's
    written = threading.Event()
    event_log.notify_on_write(written)
    last = -1
    while not stopped.is_set():
        written.wait(0.5)
        written.clear()
        end = event_log.end
        if end != last:
            if not _tell(pipe, end):
                return
            last = end


# A batch covers at most this much log (the loader's micro-batch).
PREPARE_BYTES = 8 * 1024 * 1024


def _prepare(event_log: EventLog, pipe: int, stopped: threading.Event, interval: float) -> None:
    """Prepare each loader interval's durable records as a batch, until ``stopped``
    (then prepare what is left: ``event_log`` is closed and fsync'd by then)."""
    from omnichannel.ingest.loader import prepare_rows

    batches = PreparedBatches(event_log.directory)
    written = threading.Event()
    event_log.notify_on_write(written)
    position = batches.resume(event_log.checkpoint())
    while True:
        last_round = stopped.is_set()
        # The main loader may have gone past (it decodes what is overdue) and trimmed.
        position = max(position, event_log.checkpoint())
        # What is durable now, not what arrives meanwhile: under steady traffic a record
        # is always arriving, and following them made batches of a few requests each,
        # which the main loader then appended one by one (its cost is per batch).
        target = event_log.end
        try:
            while position < target:
                entries = event_log.read(position, max_bytes=PREPARE_BYTES)
                if not entries:
                    break
                end = entries[-1].next_offset
                batches.write(position, end, prepare_rows(entries))
                position = end
                if not _tell(pipe, position, PREPARED):
                    return
        except Exception:
            # The main loader decodes what is not prepared; keep trying each interval.
            log.exception("collector process: could not prepare a batch at %d", position)
        if last_round:
            return
        written.wait(interval)
        written.clear()
        stopped.wait(interval)  # gather an interval's records into one batch


def _follow_stdin(stdin: IO[bytes], keys: KeyResolver, server: Any) -> None:
    for line in stdin:
        if line == FORGET:
            keys.forget()
    server.should_exit = True  # the main process closed the pipe or is gone


def main(argv: list[str]) -> int:
    """Entry point of the collector process (``CollectorProcess`` starts it)."""
    import uvicorn
    from fastapi import Response

    from omnichannel.api.collector_app import create_collector_app
    from omnichannel.ingest.loader import Loader
    from omnichannel.ingest.runtime import IngestRuntime, limits_of
    from omnichannel.ingest.stream import InProcessStream
    from omnichannel.ingest.unauthorized import UnauthorizedRequests
    from omnichannel.logs import configure_logging
    from omnichannel.metrics import RequestMetrics
    from omnichannel.opstore import open_opstore
    from omnichannel.opstore.sealed import home_sealer

    pipe = int(argv[0])
    stdin = sys.stdin.buffer
    first = stdin.readline()
    if not first:
        return 0  # the main process went away before it said anything
    settings = Settings(**json.loads(first)["settings"])
    configure_logging(settings.log_level, settings.log_format)
    if settings.collector_nice:
        os.nice(settings.collector_nice)
    sys.setswitchinterval(0.001)
    opstore = open_opstore(settings.resolved_opstore_url, sealer=home_sealer(settings.home))
    event_log: EventLog | RedisBus
    if settings.bus_url is not None:  # acknowledged once in Redis; loaders read it there
        event_log = RedisBus.from_settings(settings)
    else:
        event_log = EventLog.open(
            collector_log_dir(settings), segment_bytes=settings.log_segment_bytes
        )
    keys = KeyResolver(opstore, settings.write_key_cache_seconds)

    def no_warehouse() -> Any:
        raise RuntimeError("the collector process stores nothing in the warehouse")

    runtime = IngestRuntime(
        event_log,
        # Never started: the main process's loader stores this log (its PreparedTail).
        Loader(event_log, no_warehouse, stream=None),
        keys,
        InProcessStream(),
        limits_of(settings),
        UnauthorizedRequests(
            opstore,
            sample_per_hour=settings.unauthorized_sample_per_hour,
            sample_bytes=settings.unauthorized_sample_bytes,
        ),
    )
    app = create_collector_app(runtime, title="Omnichannel collector process")
    services = app.state.services
    # Requests by route and latency, forwarded to the main /metrics (metrics.py).
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    # The collector's guards (rate per key, erased people) read the installation's settings.
    services.settings = settings

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "role": "collector"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = services.metrics.exposition()
        return Response(body, media_type=content_type)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.collector_port or 0,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=settings.log_level == "DEBUG",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    stopped = threading.Event()
    teller = threading.Thread(
        target=_tell_ends, args=(event_log, pipe, stopped), name="log-end", daemon=True
    )
    teller.start()
    # With the bus, the loaders read Redis: there is no local log to prepare.
    preparer = threading.Thread(
        target=_prepare,
        args=(event_log, pipe, stopped, settings.loader_interval),
        name="prepare-batches",
        daemon=True,
    )
    if isinstance(event_log, EventLog):
        preparer.start()
    threading.Thread(
        target=_follow_stdin, args=(stdin, keys, server), name="control", daemon=True
    ).start()
    try:
        server.run()
    finally:
        try:
            runtime.unauthorized.flush()
        except Exception:
            log.exception("collector process: could not store the count of unauthenticated")
        event_log.close()  # what was queued is written and fsync'd
        stopped.set()
        teller.join(5)
        if preparer.is_alive():
            preparer.join(30)
        if isinstance(event_log, EventLog):
            _tell(pipe, event_log.end)
        os.close(pipe)
        opstore.close()
    return 0 if server.started else 3


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
