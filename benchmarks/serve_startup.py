"""``omni serve`` start-up: wall time from starting the process to the first /healthz 200.

Each round starts ``omni serve`` on an installation as a user does, polls ``/healthz``
every 10 ms until it answers 200, then stops the server (SIGTERM) and waits for it. The
baselines run in the same rounds, in turn (A B C A B C ...), so a drift in the machine's
speed touches them all alike; medians are printed:

* ``python -c pass``: the interpreter alone;
* ``import omnichannel.api.app``: the server's imports with nothing run, the floor of
  any start-up that builds the whole API before answering.

The ratio printed is ``omni serve``'s time over the import floor: what start-up costs
beyond importing (opening the stores, the lifespan, Uvicorn binding), 1.0 at best.

    .venv/bin/python benchmarks/serve_startup.py                  # ./omni-home, 5 rounds
    .venv/bin/python benchmarks/serve_startup.py --home /tmp/demo --rounds 9
    # beside another version's source tree (e.g. `git archive HEAD~3 src | tar -x -C /tmp/v`):
    .venv/bin/python benchmarks/serve_startup.py --before /tmp/v/src

Without an installation at ``--home`` it makes an empty one with ``omni init`` in a
temporary directory and says so.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def time_command(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def time_serve(omni: list[str], home: Path, env: dict[str, str]) -> float:
    """Seconds from starting ``omni serve`` to its first /healthz 200."""
    port = _free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [*omni, "--home", str(home), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not _answers(f"http://127.0.0.1:{port}/healthz"):
            if server.poll() is not None:
                _, err = server.communicate()
                raise SystemExit(f"omni serve exited:\n{err.decode()[-2000:]}")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("omni-home"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--before", type=Path, help="a source tree (its src/) to time `omni serve` from too"
    )
    args = parser.parse_args()

    python = sys.executable
    omni = [python, "-m", "omnichannel"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    home = args.home
    scratch = None
    if not (home / "omni.duckdb").exists():
        scratch = tempfile.TemporaryDirectory(prefix="omni-serve-startup-")
        home = Path(scratch.name) / "home"
        subprocess.run(
            [*omni, "--home", str(home), "init"], env=env, check=True, capture_output=True
        )
        print(f"no installation at {args.home}: timing `omni serve` on an empty one ({home})")

    times: dict[str, list[float]] = {"python -c pass": [], "imports (floor)": [], "serve": []}
    before_env = None
    if args.before is not None:
        before_env = {**env, "PYTHONPATH": str(args.before.resolve())}
        times[f"serve from {args.before}"] = []
    for _ in range(args.rounds):
        times["python -c pass"].append(time_command([python, "-c", "pass"], env))
        times["imports (floor)"].append(
            time_command([python, "-c", "import omnichannel.api.app"], env)
        )
        times["serve"].append(time_serve(omni, home, env))
        if before_env is not None:
            times[f"serve from {args.before}"].append(time_serve(omni, home, before_env))
    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds, load average {load:.1f} ({os.cpu_count()} cores)")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:<40} {value:7.2f} s (min {min(times[name]):.2f})")
    ratio = medians["serve"] / medians["imports (floor)"]
    print(
        f"omni serve to the first /healthz: {medians['serve']:.2f} s, "
        f"{ratio:.2f}x its import floor; beyond the imports: "
        f"{medians['serve'] - medians['imports (floor)']:.2f} s"
    )
    if args.before is not None:
        before = medians[f"serve from {args.before}"]
        print(f"this tree against {args.before}: {medians['serve'] / before:.2f}x")
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
