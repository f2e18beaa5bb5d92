"""CLI start-up: whole-process time of ``omni --version``, ``--help`` and ``status``.

Each command is started as a new process, as a user starts it, and timed from start
to exit (wall) and by the CPU time the finished child used (user + system, from the
OS). Commands run in turn, A B C A B C ..., so a drift in the machine's speed touches
them all alike; medians are printed. The baselines run in the same rounds:

* ``python -c pass``: the interpreter alone, the floor of any Python command;
* ``python -c "import typer, rich.console"``: the CLI framework alone, the floor of a
  Typer + Rich command that imports nothing of its own;
* for ``status``: the imports it cannot avoid on the embedded default (Typer, Rich,
  pydantic-settings, DuckDB) with nothing run, its floor; and, for comparison, the
  imports of the full path it used to take (Ibis + DuckDB backend, pyarrow, pandas,
  SQLAlchemy, Alembic), also with nothing run: what status cost before it read the
  warehouse with plain DuckDB and the store with sqlite3 (``omnichannel.fast_status``).

    .venv/bin/python benchmarks/cli_startup.py                     # ./omni-home, 7 rounds
    .venv/bin/python benchmarks/cli_startup.py --home /tmp/demo --rounds 11

Without an installation at ``--home`` (e.g. before ``make demo``) it makes an empty one
with ``omni init`` in a temporary directory and says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_S = {"omni --version": 0.3, "omni status": 1.0}
STATUS_FLOOR_IMPORTS = "import typer, rich.console, pydantic_settings, duckdb"
FULL_PATH_IMPORTS = (
    "import typer, rich.console, pydantic_settings, ibis, duckdb, pyarrow, pandas, "
    "sqlalchemy, alembic.runtime.migration, alembic.script; ibis.duckdb.connect"
)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``argv`` to its exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{completed.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("omni-home"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    python = sys.executable
    omni = [python, "-m", "omnichannel"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    home = args.home
    scratch = None
    if not (home / "omni.duckdb").exists():
        scratch = tempfile.TemporaryDirectory(prefix="omni-startup-")
        home = Path(scratch.name) / "home"
        subprocess.run(
            [*omni, "--home", str(home), "init"], env=env, check=True, capture_output=True
        )
        print(f"no installation at {args.home}: timing `omni status` on an empty one ({home})")

    commands = {
        "python -c pass": [python, "-c", "pass"],
        "import typer, rich (framework floor)": [python, "-c", "import typer, rich.console"],
        "status's imports, nothing run (floor)": [python, "-c", STATUS_FLOOR_IMPORTS],
        "full path's imports, nothing run (before)": [python, "-c", FULL_PATH_IMPORTS],
        "omni --version": [*omni, "--version"],
        "omni --help": [*omni, "--help"],
        "omni status": [*omni, "--home", str(home), "status"],
    }
    for argv in commands.values():  # warm the OS file cache; not counted
        run_once(argv, env)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, argv in commands.items():
            wall, cpu = run_once(argv, env)
            walls[name].append(wall)
            cpus[name].append(cpu)

    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds, medians; load average {load:.1f} on {os.cpu_count()} cores")
    base = statistics.median(walls["python -c pass"])
    framework = statistics.median(walls["import typer, rich (framework floor)"])
    floor = statistics.median(walls["status's imports, nothing run (floor)"])
    before = statistics.median(walls["full path's imports, nothing run (before)"])
    print(f"{'command':<40} {'wall s':>8} {'cpu s':>8} {'/python':>8} {'/floor':>8}  target")
    for name in commands:
        wall = statistics.median(walls[name])
        cpu = statistics.median(cpus[name])
        ref = floor if name == "omni status" else framework
        ratio = f"{wall / ref:8.2f}" if name.startswith("omni") else f"{'':>8}"
        target = TARGETS_S.get(name)
        verdict = (
            "" if target is None else f"< {target:g} s: {'met' if wall < target else 'MISSED'}"
        )
        print(f"{name:<40} {wall:8.3f} {cpu:8.3f} {wall / base:8.1f} {ratio}  {verdict}")
    status = statistics.median(walls["omni status"])
    print("/floor: omni --version and --help against the Typer + Rich import; status against")
    print("the libraries it must import (Typer, Rich, pydantic-settings, DuckDB).")
    print(
        f"omni status / the full path's imports alone: {status / before:.2f} "
        f"({status:.3f} s against {before:.3f} s)"
    )
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
