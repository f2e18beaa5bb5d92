"""``omni models``: train, list, show and promote versions of the platform's models.

Each command calls ``platform.models`` on the installation, or, while ``omni serve`` owns
the home, ``/api/models``. A promotion of a version that scores worse than the one in use
is refused with both scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    errors,
    key_value_table,
    rows_table,
)

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Models: train versions, keep their metrics, promote the better one.",
    no_args_is_help=True,
)
METRICS = ("recall_at_10", "ndcg_at_10", "map_at_10", "coverage", "auc", "pr_auc", "brier")


def _shown(versions: list[dict[str, Any]]) -> list[str]:
    """The scores any of ``versions`` has (recommendations and propensity keep others)."""
    return [m for m in METRICS if any(m in v["metrics"] for v in versions)]


@app.command("train")
def train(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model, e.g. recommendations."),
    algorithm: str | None = typer.Option(
        None, "--algorithm", "-a", help="e.g. als, bpr, item_knn, content, popularity."
    ),
    promote: bool = typer.Option(
        False, "--promote", help="Put it in use unless it scores worse than the one in use."
    ),
    holdout_days: int | None = typer.Option(
        None, "--holdout-days", help="Days held out at the end to score it."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Train a new version, score it on a time split and store it (the first is put in use)."""
    from omnichannel.access.principal import cli_actor
    from omnichannel.cli.remote import on_installation

    options = {"holdout_days": holdout_days} if holdout_days else {}

    def local(platform: Platform) -> dict[str, Any]:
        return platform.models.train(
            model, algorithm, options=options, by=cli_actor(), promote=promote
        )

    def remote(server: ServerClient) -> dict[str, Any]:
        body = {"algorithm": algorithm, "promote": promote, "holdout_days": holdout_days}
        answer: dict[str, Any] = server.post(f"/api/models/{model}/versions", json=body)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    _print_version(answer)
    if answer.get("promotion_refused"):
        errors.print(Text(answer["promotion_refused"]))


@app.command("list")
def list_versions(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, help="Only this model's versions."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Every version with its status and scores, newest first (the history of metrics)."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> list[dict[str, Any]]:
        return platform.models.list(model)

    def remote(server: ServerClient) -> list[dict[str, Any]]:
        params = {"model": model} if model else {}
        answer: list[dict[str, Any]] = server.get("/api/models", **params)["versions"]
        return answer

    versions = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(versions)
        return
    shown = _shown(versions)
    console.print(
        rows_table(
            "model versions",
            ["model", "version", "algorithm", "status", *shown, "trained", "retrain"],
            [
                [
                    v["model"],
                    v["version"],
                    v["algorithm"],
                    v["status"],
                    *[_figure(v["metrics"].get(m)) for m in shown],
                    (v["trained_at"] or "")[:19],
                    # A version trained before an erasure learned from rows now gone.
                    "after erasure" if v.get("needs_retraining") else "",
                ]
                for v in versions
            ],
        )
    )


@app.command("show")
def show(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model, e.g. recommendations."),
    version: int | None = typer.Argument(None, help="The version (default: the one in use)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One version with its parameters, metrics and every evaluation of it."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.models.show(model, version)

    def remote(server: ServerClient) -> dict[str, Any]:
        params = {"version": version} if version is not None else {}
        answer: dict[str, Any] = server.get(f"/api/models/{model}", **params)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    _print_version(answer)
    for e in answer.get("evaluations", []):
        scores = ", ".join(f"{m}={_figure(e['metrics'].get(m))}" for m in _shown([e]))
        console.print(Text(f"{e['evaluated_at'][:19]} {e['reason']}: {scores}"))


@app.command("promote")
def promote(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model, e.g. recommendations."),
    version: int = typer.Argument(..., help="The version to put in use."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Put a version in use; refused, with both scores, if it scores worse than the current."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.models.promote(model, version)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post(f"/api/models/{model}/versions/{version}/promote")
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    _print_version(answer)


def _figure(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"


def _print_version(v: dict[str, Any]) -> None:
    rows = {
        "model": v["model"],
        "version": v["version"],
        "algorithm": v["algorithm"],
        "status": v["status"],
        f"score ({v['primary_metric']})": _figure(v["score"]),
        **{m: _figure(v["metrics"].get(m)) for m in METRICS if m in v["metrics"]},
        "split cut-off": v["metrics"].get("cutoff"),
        "trained": f"{v['trained_at']} by {v['trained_by']}",
        "promoted": v["promoted_at"] or "",
        "artefact": v["artefact"],
    }
    console.print(key_value_table(f"{v['model']} v{v['version']}", rows))
