"""``omni propensity``: score everyone with the propensity models in use, explain one person.

Each command calls ``platform.propensity`` on the installation, or, while ``omni serve``
owns the home, ``/api/propensity``. Training, versions and promotion are ``omni models``
(models ``propensity-purchase-30d`` and ``propensity-churn``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    help="Propensity: purchase-in-30-days and churn scores as traits, explained per person.",
    no_args_is_help=True,
)


@app.command("score")
def score(
    ctx: typer.Context,
    target: list[str] | None = typer.Option(
        None, "--target", "-t", help="purchase_30d or churn (repeat; default: every model in use)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Score every profile with the models in use; the scores become profile traits."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.propensity.score(target or None)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.post("/api/propensity/score", json={"targets": target})
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    print_summary(answer)


def print_summary(answer: dict[str, Any]) -> None:
    for name, t in answer["targets"].items():
        console.print(
            rows_table(
                f"{name}: {t['model']} v{t['version']}, {t['people']} people, mean {t['mean']}"
                f" (as of {str(t['as_of'])[:10]})",
                ["decile", "people", "mean", "lowest", "highest"],
                [
                    [
                        d["decile"],
                        d["people"],
                        f"{d['mean']:.3f}",
                        f"{d['low']:.3f}",
                        f"{d['high']:.3f}",
                    ]
                    for d in t["deciles"]
                ],
            )
        )


@app.command("explain")
def explain(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="TYPE:VALUE, e.g. email:ann@example.com."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """A person's scores, deciles and the three features that move each score most."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.propensity.explain(identifier)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get(f"/api/propensity/profiles/{identifier}")
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    if not answer["targets"]:
        console.print(Text(f"{answer['profile_id']}: not scored (no history before the cut-off)"))
    for name, t in answer["targets"].items():
        console.print(
            rows_table(
                f"{answer['profile_id']} {name}: {t['propensity']:.3f}, decile {t['decile']} "
                f"({t['model']} v{t['version']})",
                ["reason", "effect"],
                [[r["text"], f"{r['effect']:+.3f}"] for r in t["reasons"]],
            )
        )
