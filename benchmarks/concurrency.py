"""Profile API p99 over HTTP while the server also collects events and runs analytics.

The warehouse of ``benchmarks/profile_lookup.py`` (N profiles, 3N identifiers, 5N events,
2N orders, profiles built) plus another 5N events, so an analytic query scans 10N
events. ``omni serve`` runs in a second process; this one times
``GET /v1/profiles/{type}:{value}/traits`` over random identifiers in four phases:

(a) alone (the baseline, same server, same process, same run; after ``/readyz`` and one
    untimed pass over the same identifiers, so every phase reads warm rows);
(b) while a sender posts ``/v1/batch`` to the collector at ``--rate`` events/s;
(c) while another client runs an analytic query over every event again and again
    (``POST /v1/warehouse/query``, a GROUP BY over 10N events);
(d) both at once.

Target (issue "platform core"): p99 in (d) under 50 ms and at most 2x (a).

    .venv/bin/python benchmarks/concurrency.py                    # 1,000,000 profiles
    .venv/bin/python benchmarks/concurrency.py --profiles 200000 --lookups 1000
    # build the warehouse once, copy it into a fresh home for every run:
    .venv/bin/python benchmarks/concurrency.py --cache /tmp/omni-concurrency
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

# The load processes import this module again (spawn): only httpx at the top, so they
# start in a moment; the warehouse and the server's modules are imported in main().
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENDERS = 4  # concurrent collector connections
ANALYTIC = (
    "SELECT channel, context_campaign_name, count(*) AS events, "
    "count(DISTINCT user_id) AS people FROM events GROUP BY 1, 2 ORDER BY 3 DESC"
)


def add_events(path: Path, n: int) -> int:
    """Double the events (new message ids, older loads) so the analytic scan covers 10N."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO events BY NAME SELECT * REPLACE ('x' || message_id AS message_id) FROM events"
    )
    total = int(con.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]
    con.close()
    return total


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The process's children, whichever of its threads started them (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@contextmanager
def server(
    home: Path, port: int, collector_port: int | None = None
) -> Iterator[tuple[str, str, int]]:
    """``omni serve`` on ``port``; yields its URL, the collector's URL and its pid."""
    env = dict(os.environ)
    if collector_port is not None:
        env["OMNI_COLLECTOR_PORT"] = str(collector_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    collector = base if collector_port is None else f"http://127.0.0.1:{collector_port}"
    try:
        deadline = time.monotonic() + 600
        for url in dict.fromkeys((base, collector)):
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=5)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, "omni serve exited"
                    assert time.monotonic() < deadline, "omni serve did not start"
                    time.sleep(0.5)
        yield base, collector, process.pid
    finally:
        began = time.monotonic()
        process.terminate()
        # A clean stop stores what is left in the logs first (the loader's final drain).
        process.wait(timeout=600)
        print(f"omni serve stopped {time.monotonic() - began:.1f} s after SIGTERM")


def ready(base: str, timeout: float = 300) -> None:
    """Wait until ``/readyz`` says the jobs and consumers are up (they start after /healthz)."""
    deadline = time.monotonic() + timeout
    while httpx.get(base + "/readyz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "omni serve did not become ready"
        time.sleep(0.5)


class Background:
    """A load that runs in a process of its own until stopped, counting what it did.

    A process, not a thread: the timed lookups must not share this interpreter's GIL
    with the load's own JSON and HTTP work, or the figures measure the client.
    """

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.started = context.Event()
        self._done = context.Value("q", 0)
        self._errors = context.Value("q", 0)
        self._process = context.Process(
            target=target,
            args=(*args, self.started, self.stop, self._done, self._errors),
            daemon=True,
        )

    @property
    def done(self) -> int:
        return int(self._done.value)

    @property
    def errors(self) -> int:
        return int(self._errors.value)

    def __enter__(self) -> Background:
        self._process.start()
        # Timing starts once the load is on: its process has started and made a call.
        if not self.started.wait(120):
            raise RuntimeError("the load process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._process.join(600)


LOAD_NICE = 10


def collector_load(
    base: str, write_key: str, rate: int, started: Any, stop: Any, done: Any, errors: Any
) -> None:
    """Post batches of 100 track calls to ``/v1/batch`` at ``rate`` events/s in all.

    Several senders, each on its own connection: a request is answered once its calls
    are fsync'd, so one sender waiting for each answer cannot reach the rate.
    """
    # The load stands for clients on other machines: on this one it must not take the
    # server's cores from its lookups (nothing else here is timed from this process).
    os.nice(LOAD_NICE)
    senders = SENDERS
    batch = 100
    interval = batch * senders / rate
    run = uuid.uuid4().hex[:8]

    def send(sender: int) -> None:
        with httpx.Client(base_url=base, auth=(write_key, ""), timeout=30) as client:
            next_at = time.monotonic() + interval * sender / senders
            for n in itertools.count():
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                if stop.is_set():
                    return
                calls = [
                    {
                        "type": "track",
                        "event": "Product Viewed",
                        "userId": f"u{(n * batch + i)}",
                        "messageId": f"{run}-{sender}-{n}-{i}",
                        "properties": {"sku": f"S{i}"},
                    }
                    for i in range(batch)
                ]
                response = client.post("/v1/batch", json={"batch": calls})
                started.set()
                counter = done if response.status_code == 200 else errors
                with counter.get_lock():
                    counter.value += batch if response.status_code == 200 else 1

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def analytic_load(
    base: str, headers: dict[str, str], started: Any, stop: Any, done: Any, errors: Any
) -> None:
    """Run the analytic query over every event again and again."""
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        while not stop.is_set():
            started.set()  # the first scan is on its way
            response = client.post("/v1/warehouse/query", json={"sql": ANALYTIC, "limit": 10})
            counter = done if response.status_code == 200 else errors
            with counter.get_lock():
                counter.value += 1


@contextmanager
def sampled(directory: Path | None, label: str, pid: int) -> Iterator[None]:
    """py-spy on the server while the block runs: where its GIL goes, and which threads hold it.

    ``--gil`` keeps only samples of the thread holding the GIL, ``--nonblocking`` does not
    stop the process to read its stacks (so the timed lookups are not slowed by sampling
    beyond py-spy's own CPU).
    """
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    name = label.split()[0].strip("()")
    spy = str(Path(sys.executable).with_name("py-spy"))
    common = ["--pid", str(pid), "--gil", "--nonblocking", "--rate", "200", "--format", "raw"]
    run = subprocess.Popen(
        [spy, "record", *common, "--threads", "--output", str(directory / f"{name}.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # py-spy attached
    try:
        yield
    finally:
        run.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        run.wait(60)


def lookups(base: str, headers: dict[str, str], sample: list[tuple[str, str, int]]) -> list[float]:
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for kind, value, _ in sample:
            began = time.perf_counter()
            response = client.get(f"/v1/profiles/{kind}:{value}/traits")
            times.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--rate", type=int, default=5_000, help="Collector events per second.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--collector-process",
        action="store_true",
        help="Run the collector in a process of its own (OMNI_COLLECTOR_PORT) and send the "
        "collector load to its port.",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="Sample the server process with py-spy (--gil --nonblocking) during each phase "
        "and write DIR/<phase>.txt (collapsed stacks, by thread).",
    )
    parser.add_argument("--home", type=Path, help="Keep the home here; reuse it if it exists.")
    parser.add_argument(
        "--cache",
        type=Path,
        help="Keep the built warehouse here (one file per --profiles) and copy it into a "
        "fresh home for each run, so reruns skip the build and start from the same data.",
    )
    args = parser.parse_args()
    from benchmarks.profile_lookup import EVENTS_PER_PROFILE, free_port, keys, prepare

    from omnichannel.config import Settings
    from omnichannel.ingest.sources import create_source
    from omnichannel.installation import initialise
    from omnichannel.opstore import open_opstore
    from omnichannel.opstore.admin_tokens import create_admin_token

    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        path = home / "omni.duckdb"
        n = args.profiles
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            cached = None if args.cache is None else args.cache / f"concurrency-{n}.duckdb"
            if cached is None or not cached.exists():
                built = cached or path
                built.parent.mkdir(parents=True, exist_ok=True)
                prepare(built, n)
                total = add_events(built, n)
                print(f"events for the analytic scan: {total:,} ({2 * EVENTS_PER_PROFILE}/profile)")
            if cached is not None:
                shutil.copyfile(cached, path)
        settings = Settings(home=home)
        initialise(settings)
        with open_opstore(settings.resolved_opstore_url) as store, store.session() as session:
            token = create_admin_token(session, actor="benchmark")
            info = create_source(session, name=f"bench-{uuid.uuid4().hex[:6]}", actor="bench")
            write_key = str(info.write_key)
        headers = {"Authorization": f"Bearer {token}"}
        sample = keys(n, args.lookups, args.seed)
        collector_port = free_port() if args.collector_process else None
        with server(home, free_port(), collector_port) as (base, collector, pid):
            lookups(base, headers, sample[:50])  # builds the identifier index
            ready(base)
            # One untimed pass: every phase then reads the same warm rows. Without it (a),
            # the first pass, paid DuckDB's cold blocks and the server's start-up work
            # (jobs and consumers starting) and came out slower than (c) at the median.
            lookups(base, headers, sample)
            results: dict[str, tuple[float, float]] = {}
            load: dict[str, float] = {}
            # CPU seconds per second of each phase: the lookup process (omni serve) and
            # the collector's own process when it has one.
            cpu: dict[str, tuple[float, float]] = {}
            spent: dict[str, tuple[float, float]] = {}

            def phase(label: str) -> None:
                others = children(pid)
                before = cpu_seconds(pid), sum(cpu_seconds(c) for c in others)
                began = time.monotonic()
                with sampled(args.py_spy, label, pid):
                    results[label] = quantiles(lookups(base, headers, sample))
                took = time.monotonic() - began
                after = cpu_seconds(pid), sum(cpu_seconds(c) for c in others)
                cpu[label] = ((after[0] - before[0]) / took, (after[1] - before[1]) / took)
                # The same lookups in every phase: what the lookup process spends beyond
                # (a) in CPU seconds is the load's cost there, however slow the phase ran.
                spent[label] = (after[0] - before[0], took)
                load[label] = os.getloadavg()[0]

            phase("(a) alone")
            with Background(collector_load, collector, write_key, args.rate) as sent:
                before, started = sent.done, time.monotonic()
                phase("(b) collector")
                rate_b = (sent.done - before) / (time.monotonic() - started)
            with Background(analytic_load, base, headers) as scans:
                time.sleep(0.5)  # the first scan is running
                phase("(c) analytic scan")
            scans_c = scans.done
            with (
                Background(collector_load, collector, write_key, args.rate) as sent_d,
                Background(analytic_load, base, headers) as scans_d,
            ):
                time.sleep(0.5)
                before, started = sent_d.done, time.monotonic()
                phase("(d) both")
                rate_d = (sent_d.done - before) / (time.monotonic() - started)
            if args.collector_process:
                # How the loader stored the collector process's log: from its batches, or
                # decoded here because a batch was late (ingest/prepared.py).
                check = httpx.get(base + "/readyz", timeout=60).json()["checks"]
                detail = check["collector_process"]["detail"]
                print(
                    f"collector process log records stored from its batches "
                    f"{detail.get('records_prepared')}, decoded by the loader "
                    f"{detail.get('records_decoded')}"
                )
            # Printed before the server stops: its stop may take long (the final drain).
            where = "its own process" if args.collector_process else "the lookup process"
            print(f"\n{n:,} profiles, {args.lookups:,} lookups per phase, GET .../traits over HTTP")
            print(f"the collector runs in {where}")
            for label, (p50, p99) in results.items():
                print(
                    f"{label:<22} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   "
                    f"(load average {load[label]:.1f})"
                    f"   CPU s/s: lookup process {cpu[label][0]:.2f}, collector process "
                    f"{cpu[label][1]:.2f}; lookup process {spent[label][0]:.1f} CPU-s in "
                    f"{spent[label][1]:.1f} s"
                )
            print(
                f"collector sent: {rate_b:,.0f} events/s in (b), {rate_d:,.0f} in (d) "
                f"(asked {args.rate:,}; errors {sent.errors + sent_d.errors})"
            )
            print(
                f"analytic scans completed: {scans_c} in (c), {scans_d.done} in (d) "
                f"(errors {scans.errors + scans_d.errors})"
            )
            base_p99 = results["(a) alone"][1]
            both_p99 = results["(d) both"][1]
            print(
                f"ratio p99 (d)/(a): {both_p99 / base_p99:.2f}x  (target: at most 2x, (d) < 50 ms)"
            )


if __name__ == "__main__":
    main()
