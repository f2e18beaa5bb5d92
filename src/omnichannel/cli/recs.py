"""``omni recs``: one person's recommendations with their reasons, and the offline evaluation.

Each command calls ``platform.recommendations`` on the installation, or, while ``omni
serve`` owns the home, the same capability through its HTTP API.
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
    help="Recommendations: one person's products with a reason each; offline evaluation.",
    no_args_is_help=True,
)


@app.command("show")
def show(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="TYPE:VALUE, e.g. email:ann@example.com."),
    slot: str | None = typer.Option(
        None, "--slot", help="email, home, push or in_app (recommendations.yaml)."
    ),
    k: int | None = typer.Option(None, "--k", help="Items wanted (default: the slot's)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """A person's recommended products for a slot, each with its reason."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.recommendations.for_identifier(identifier, slot=slot, k=k)

    def remote(server: ServerClient) -> dict[str, Any]:
        params = {key: value for key, value in (("slot", slot), ("k", k)) if value is not None}
        answer: dict[str, Any] = server.get(f"/v1/profiles/{identifier}/recommendations", **params)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    model = answer["model"]
    console.print(
        rows_table(
            f"{answer['profile_id']}: {answer['slot']} ({answer['strategy']}, "
            f"{model['name']} v{model['version']})",
            ["#", "product", "name", "category", "score", "reason"],
            [
                [i + 1, r["product_id"], r["name"], r["category"], f"{r['score']:.4f}", r["reason"]]
                for i, r in enumerate(answer["items"])
            ],
        )
    )
    console.print(Text(f"stock: {answer['stock']}"))


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    algorithm: list[str] | None = typer.Option(
        None, "--algorithm", "-a", help="als, bpr, item_knn, content, popularity (repeat)."
    ),
    holdout_days: int | None = typer.Option(
        None, "--holdout-days", help="Days held out at the end (recommendations.yaml's)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Recall@10, NDCG@10, MAP@10 and coverage of each algorithm on one time split."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.recommendations.evaluate(algorithm, holdout_days=holdout_days)

    def remote(server: ServerClient) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if algorithm:
            params["algorithm"] = algorithm
        if holdout_days:
            params["holdout_days"] = holdout_days
        answer: dict[str, Any] = server.get("/api/recommendations/evaluation", **params)
        return answer

    result = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(result)
        return
    print_evaluation(result)


@app.command("rules")
def rules(
    ctx: typer.Context,
    top: int = typer.Option(20, "--top", help="Rules wanted, strongest lift first."),
    product: str | None = typer.Option(None, "--product", help="Only rules with this product."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Association rules of online and store baskets (FP-growth): bought X, also buy Y."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.recommendations.rules(top=top, product=product)

    def remote(server: ServerClient) -> dict[str, Any]:
        params: dict[str, Any] = {"top": top}
        if product:
            params["product"] = product
        answer: dict[str, Any] = server.get("/api/recommendations/rules", **params)
        return answer

    result = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(result)
        return
    summary = result["summary"]
    console.print(
        rows_table(
            f"rules of {summary.get('baskets', 0):,} baskets "
            f"(min support {summary.get('min_support', 0):.4f}, "
            f"{summary.get('rules', 0):,} rules)",
            ["bought", "also buy", "support", "confidence", "lift", "baskets"],
            [
                [
                    ", ".join(r["antecedent_names"]),
                    ", ".join(r["consequent_names"]),
                    f"{r['support']:.4f}",
                    f"{r['confidence']:.2f}",
                    f"{r['lift']:.2f}",
                    r["baskets"],
                ]
                for r in result["rules"]
            ],
        )
    )


def print_evaluation(result: dict[str, Any]) -> None:
    console.print(
        rows_table(
            f"time split at {result['cutoff']} ({result['holdout_days']} days held out, "
            f"{result['people']:,} people with new items)",
            ["algorithm", "Recall@10", "NDCG@10", "MAP@10", "coverage"],
            [
                [
                    name,
                    f"{m['recall_at_10']:.4f}",
                    f"{m['ndcg_at_10']:.4f}",
                    f"{m['map_at_10']:.4f}",
                    f"{m['coverage']:.1%}",
                ]
                for name, m in result["metrics"].items()
            ],
        )
    )
