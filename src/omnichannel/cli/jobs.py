"""``omni jobs``: the background jobs, their schedules and history; run one now."""

from __future__ import annotations

import time
from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    errors,
    progress_bars,
    rows_table,
)
from omnichannel.errors import OmniError

app = typer.Typer(no_args_is_help=True, help="Background jobs: schedules, history, run one now.")

# How often a run started on the server is polled for progress.
POLL_SECONDS = 0.5


class JobFailedError(OmniError):
    """The job ran and failed; its error is in the run record."""


def _every(seconds: float | None) -> str:
    from omnichannel.jobs.registry import format_period

    period = format_period(seconds)
    return "on demand" if period is None else f"every {period}"


def _last(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never"
    took = f" in {run['seconds']:.1f}s" if run.get("seconds") is not None else ""
    return f"{run['status']} {run['started_at'][:19]}{took}"


@app.command("list")
def list_jobs(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every job: what it does, how often it runs, whether it runs now, its last run."""
    from omnichannel.cli.remote import on_installation

    settings = settings_of(ctx)
    rows = on_installation(
        settings,
        local=lambda platform: platform.jobs.describe(),
        remote=lambda server: server.get("/api/jobs"),
    )
    if as_json:
        emit_json(rows)
        return
    console.print(
        rows_table(
            f"{len(rows)} jobs",
            ["job", "schedule", "running", "last run", "what it does"],
            [
                [
                    r["name"],
                    _every(r["every_seconds"]),
                    r["running"] or "",
                    _last(r["last_run"]),
                    r["description"],
                ]
                for r in rows
            ],
        )
    )


def _follow(server: Any, run: dict[str, Any], show_progress: bool) -> dict[str, Any]:
    """Poll a run the server started until it ends, drawing its progress."""
    with progress_bars(show_progress) as progress:
        while run["status"] == "running":
            report = run.get("progress") or {}
            if report:
                progress(str(report["stage"]), int(report["done"]), int(report["total"]))
            time.sleep(POLL_SECONDS)
            run = server.get(f"/api/jobs/runs/{run['id']}")
    return run


def run_as_job(
    settings: Any,
    name: str,
    options: dict[str, Any],
    *,
    show_progress: bool,
    raise_failure: bool = True,
) -> dict[str, Any]:
    """Run a job here, or on the server that owns the home, and return its run record.

    What a long command (``omni identity resolve``, ``omni profiles build``) does, so it
    runs the same way in both places, shows progress, and is kept in the job history.
    A failed run raises its error, as the library would have (unless ``raise_failure``
    is false: ``omni jobs run`` prints the failed run itself).
    """
    from omnichannel.cli.remote import on_installation

    def local(platform: Any) -> dict[str, Any]:
        with progress_bars(show_progress) as progress:
            record: dict[str, Any] = platform.jobs.run(
                name, options=options, progress=progress
            ).public()
        return record

    def remote(server: Any) -> dict[str, Any]:
        started = server.post(f"/api/jobs/{name}/runs", json={"options": options})
        return _follow(server, started, show_progress)

    run = on_installation(settings, local=local, remote=remote)
    if raise_failure and run["status"] != "succeeded":
        raise JobFailedError(str(run["error"]))
    return run


@app.command("run")
def run_job(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The job, e.g. profiles (see `omni jobs list`)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Run a job now and wait for it; on a running server it runs there, as one of its jobs."""
    run = run_as_job(settings_of(ctx), name, {}, show_progress=not as_json, raise_failure=False)
    if as_json:
        emit_json(run)
    else:
        console.print(
            rows_table(
                f"job {run['job']} run {run['id']}: {run['status']}",
                ["rows", "seconds", "detail"],
                [[run["rows"] if run["rows"] is not None else "", run["seconds"], run["detail"]]],
            )
        )
    if run["status"] != "succeeded":
        errors.print(f"job {run['job']} failed: {run['error']}", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command("runs")
def recent_runs(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The job whose runs to list."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Recent runs of one job, newest first: trigger, outcome, rows, duration, error."""
    from omnichannel.cli.remote import on_installation

    settings = settings_of(ctx)
    runs = on_installation(
        settings,
        local=lambda platform: [
            r.public()
            for r in platform.jobs.history.recent(platform.job_registry.get(name).name, limit)
        ],
        remote=lambda server: server.get(f"/api/jobs/{name}/runs", limit=limit),
    )
    if as_json:
        emit_json(runs)
        return
    console.print(
        rows_table(
            f"last {len(runs)} runs of {name}",
            ["run", "trigger", "status", "started", "seconds", "rows", "error"],
            [
                [
                    r["id"],
                    r["trigger"],
                    r["status"],
                    r["started_at"][:19],
                    r["seconds"] or "",
                    r["rows"] if r["rows"] is not None else "",
                    r["error"] or "",
                ]
                for r in runs
            ],
        )
    )
