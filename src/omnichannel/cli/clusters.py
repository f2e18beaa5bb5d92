"""``omni clusters``: the personas of the clustering in use, one cluster, a person's
cluster, and a cluster saved as a segment.

Each command calls ``platform.clusters`` on the installation, or, while ``omni serve``
owns the home, ``/api/clusters``. Fitting is ``omni models train clusters``.
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
    help="Customer clusters: personas in words, a person's cluster, a cluster as a segment.",
    no_args_is_help=True,
)


@app.command("list")
def list_clusters(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Every cluster of the clustering in use: id, name, size, share, what sets it apart."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.clusters.personas()

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get("/api/clusters")
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    chosen = "lowest BIC" if answer["chosen_by"] == "bic" else "highest silhouette"
    console.print(
        Text(
            f"clusters v{answer['model']['version']} ({answer['algorithm']}): k={answer['k']} "
            f"of {answer['k_range'][0]}-{answer['k_range'][1]} by {chosen}; "
            f"silhouette {answer['silhouette']:.3f}"
            + (f", BIC {answer['bic']:.1f}" if answer.get("bic") is not None else "")
            + f"; {answer['profiles']} profiles as of {answer['as_of']}"
        )
    )
    console.print(
        rows_table(
            "scores per k",
            ["k", "silhouette", "bic"],
            [
                [s["k"], f"{s['silhouette']:.4f}", f"{s['bic']:.1f}" if "bic" in s else ""]
                for s in answer["scores"]
            ],
        )
    )
    console.print(
        rows_table(
            "personas",
            ["cluster", "name", "size", "share", "distinguishing features"],
            [
                [
                    p["cluster"],
                    p["name"],
                    p["size"],
                    f"{p['share']:.1%}",
                    "; ".join(f["text"] for f in p["features"]),
                ]
                for p in answer["personas"]
            ],
        )
    )
    if answer["segments"]:
        console.print(
            rows_table(
                "segments saved from clusters",
                ["segment", "cluster", "persona", "members", "from version", "stale"],
                [
                    [
                        s["segment"],
                        s["cluster"],
                        s["persona"],
                        s["members"],
                        s["version"],
                        s.get("stale") or "",
                    ]
                    for s in answer["segments"]
                ],
            )
        )


@app.command("show")
def show(
    ctx: typer.Context,
    cluster: int = typer.Argument(..., help="The cluster id (omni clusters list)."),
    limit: int = typer.Option(20, "--limit", help="Members listed."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One persona: its description, features with numbers, and some of its members."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.clusters.show(cluster, limit=limit)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get(f"/api/clusters/{cluster}", limit=limit)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    console.print(
        Text(
            f"cluster {answer['cluster']} of clusters v{answer['model']['version']}: "
            f"{answer['size']} people ({answer['share']:.1%})"
        )
    )
    console.print(Text(answer["description"]))
    console.print(
        rows_table(
            "distinguishing features",
            ["feature", "cluster", "everyone", "ratio", "difference (sd)"],
            [
                [
                    f["feature"],
                    f["value"],
                    f["population"],
                    "" if f["ratio"] is None else f"{f['ratio']:.2f}x",
                    f"{f['difference']:+.2f}",
                ]
                for f in answer["features"]
            ],
        )
    )
    if answer["members"]:
        console.print(Text("members: " + ", ".join(answer["members"])))


@app.command("assign")
def assign(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="TYPE:VALUE (email:ann@example.com) or p_..."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The cluster a person belongs to, and its persona."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.clusters.assign(identifier)

    def remote(server: ServerClient) -> dict[str, Any]:
        answer: dict[str, Any] = server.get("/api/clusters/assign", identifier=identifier)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    console.print(
        Text(
            f"{answer['profile_id']}: cluster {answer['cluster']} ({answer['assigned']})\n"
            f"{answer['description']}"
        )
    )


@app.command("save-segment")
def save_segment(
    ctx: typer.Context,
    cluster: int = typer.Argument(..., help="The cluster id (omni clusters list)."),
    name: str = typer.Option(..., "--name", help="The new segment's name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Save a cluster as a segment; its members follow the cluster at each refit."""
    from omnichannel.access.principal import cli_actor
    from omnichannel.cli.remote import on_installation

    def local(platform: Platform) -> dict[str, Any]:
        return platform.clusters.save_segment(cluster, name, actor=cli_actor())

    def remote(server: ServerClient) -> dict[str, Any]:
        body = {"name": name, "actor": cli_actor()}
        answer: dict[str, Any] = server.post(f"/api/clusters/{cluster}/segment", json=body)
        return answer

    answer = on_installation(settings_of(ctx), local=local, remote=remote)
    if as_json:
        emit_json(answer)
        return
    segment = answer["segment"]
    console.print(
        Text(
            f"segment {segment['name']} v{segment['version']}: {segment['members']} members, "
            f"cluster {answer['cluster']} ({answer['persona']}); its members follow the "
            "cluster each time a new clustering is put in use"
        )
    )
