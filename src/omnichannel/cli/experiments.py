"""``omni experiments``: define experiments, assign people, read results and journey holdouts.

Each command calls ``platform.experiments`` (``analytics/experiments/service.py``), or,
while ``omni serve`` owns the home, ``/api/experiments``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    key_value_table,
    rows_table,
)

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Experiments and journey holdouts: assignment, z/Welch tests, CUPED, SRM, mSPRT."
)
ACTOR_HELP = "Who does it (recorded in the audit log); a user's email once users exist."
ACTOR = "cli"


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The experiment document (YAML or JSON)."),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Store an experiment (docs/experiments.md describes the document)."""
    text = file.read_text(encoding="utf-8")

    def local(platform: Platform) -> dict[str, Any]:
        return platform.experiments.create(text, actor=actor)

    def remote(server: ServerClient) -> dict[str, Any]:
        body = {"document": text, "actor": actor}
        answer: dict[str, Any] = server.post("/api/experiments", json=body)
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"experiment {result['name']} created ({result['status']})"))


@app.command("list")
def list_(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """Every experiment with its status and exposures per variant."""

    def remote(server: ServerClient) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = server.get("/api/experiments")
        return answer

    result = _run(ctx, lambda p: p.experiments.list(), remote)
    if as_json:
        emit_json(result)
        return
    console.print(
        rows_table(
            "experiments",
            ["name", "status", "winner", "exposures"],
            [
                [
                    r["name"],
                    r["status"],
                    r.get("winner") or "",
                    ", ".join(f"{k} {v:,}" for k, v in r["exposures"].items()),
                ]
                for r in result
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The experiment."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One experiment: its state (running, stopped, the winner), exposures and document."""

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get(f"/api/experiments/{name}")
        return answer

    result = _run(ctx, lambda p: p.experiments.show(name), remote)
    emit_json(result) if as_json else _print_experiment(result)


@app.command("stop")
def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The experiment."),
    winner: str | None = typer.Option(
        None, "--winner", help="Conclude with this arm: everyone is assigned it from now on."
    ),
    actor: str = typer.Option(ACTOR, "--actor", help=ACTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Stop recording exposures; with --winner, conclude it (audited)."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.experiments.stop(name, winner=winner, actor=actor)

    def remote(server: ServerClient) -> dict[str, Any]:
        body = {"winner": winner, "actor": actor}
        answer: dict[str, Any] = server.post(f"/api/experiments/{name}/stop", json=body)
        return answer

    result = _run(ctx, local, remote)
    emit_json(result) if as_json else _print_experiment(result)


def _print_experiment(result: dict[str, Any]) -> None:
    summary = {
        "status": result["status"],
        "winner": result.get("winner") or "-",
        "stopped": (
            f"{str(result['stopped_at'])[:19]} by {result['stopped_by']}"
            if result.get("stopped_at")
            else "-"
        ),
        "exposures": ", ".join(f"{k} {v:,}" for k, v in result["exposures"].items()) or "-",
        "created": f"{str(result['created_at'])[:19]} by {result['created_by']}",
    }
    console.print(key_value_table(f"experiment {result['name']}", summary))


@app.command("assign")
def assign(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The experiment."),
    person: str = typer.Argument(..., help="A profile id (or an identifier's value)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The person's variant (the same every time); records their first exposure."""

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post(f"/api/experiments/{name}/assignment", person=person)
        return answer

    result = _run(ctx, lambda p: p.experiments.assign(name, person), remote)
    if as_json:
        emit_json(result)
        return
    console.print(Text(f"{person}: {result['variant']}"))


@app.command("analyse")
def analyse(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="The experiment (or give --journey)."),
    journey: str | None = typer.Option(None, "--journey", help="A journey's holdout vs treated."),
    segment: list[str] = typer.Option([], "--segment", help="Uplift split by this segment."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Read an experiment: each metric's test and CI, CUPED, SRM and the mSPRT reading."""

    def local(platform: Platform) -> dict[str, Any]:
        return platform.experiments.analyse(
            name, journey=journey, segments=list(segment), alpha=alpha
        )

    def remote(server: ServerClient) -> dict[str, Any]:
        params: dict[str, Any] = {"alpha": alpha, "segment": list(segment)}
        if journey is not None:
            answer: dict[str, Any] = server.get(f"/api/experiments/journeys/{journey}", **params)
        else:
            answer = server.get(f"/api/experiments/{name}/analysis", **params)
        return answer

    result = _run(ctx, local, remote)
    if as_json:
        emit_json(result)
        return
    _print(result)


@app.command("sample-size")
def sample_size(
    baseline: float = typer.Option(..., "--baseline", help="Control rate (or mean, with --sd)."),
    mde: float | None = typer.Option(None, "--mde", help="Relative effect to detect (0.1 = +10%)."),
    n: int | None = typer.Option(None, "--n", help="People per control arm: gives the MDE."),
    sd: float | None = typer.Option(None, "--sd", help="Standard deviation of a mean metric."),
    alpha: float = typer.Option(0.05, "--alpha"),
    power: float = typer.Option(0.8, "--power"),
    ratio: float = typer.Option(1.0, "--ratio", help="Treatment size over control size."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """People per arm to detect an effect, or the smallest effect a size detects."""
    from omnichannel.analytics.experiments.stats import sample_size as compute

    result = compute(baseline=baseline, mde=mde, n=n, sd=sd, alpha=alpha, power=power, ratio=ratio)
    if as_json:
        emit_json(result)
        return
    console.print(Text(", ".join(f"{k}={v}" for k, v in result.items())))


def _print(result: dict[str, Any]) -> None:
    subject = result.get("experiment") or f"journey {result.get('journey')}"
    srm = result["srm"]
    console.print(
        Text(
            f"{subject}: {result['units']:,} units, "
            + ", ".join(f"{v['name']} {v['units']:,}" for v in result["variants"])
            + (f"; SRM p={srm['p_value']:.3g}" if srm["p_value"] is not None else "")
            + (" MISMATCH" if srm["mismatch"] else "")
        )
    )
    for metric in result["metrics"]:
        rows = []
        for c in metric["comparisons"]:
            t = c["test"] or {}
            rows.append(
                [
                    f"{c['variant']} vs {c['against']}",
                    _num(t.get("difference")),
                    _ci(t.get("ci")),
                    _num(t.get("relative")),
                    _num(t.get("p_value")),
                    _num(c["cuped"].get("p_value")),
                    _num(c["sequential"].get("p_value")),
                ]
            )
        console.print(
            rows_table(
                f"{metric['role']}: {metric['metric']}",
                ["comparison", "difference", "CI", "relative", "p", "CUPED p", "always-valid p"],
                rows,
            )
        )


def _num(x: Any) -> str:
    return "" if x is None else f"{x:.4g}"


def _ci(ci: Any) -> str:
    return "" if not ci else f"[{_num(ci[0])}, {_num(ci[1])}]"
