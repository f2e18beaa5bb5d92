"""``omni profile show TYPE:VALUE``: one person's 360° card in the terminal."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, escaped
from omnichannel.profiles.card import card_data, render_card

app = typer.Typer(help="One profile: the 360° view of a person.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    identifier: str = typer.Argument(
        ..., help="TYPE:VALUE, e.g. email:ann@example.com, phone:13812345678, profile_id:p_..."
    ),
    recent: int = typer.Option(10, "--recent", min=1, max=200, help="Timeline items to show."),
    lookback_days: int = typer.Option(
        30, "--lookback-days", min=1, max=366, help="Conversion path window before the order."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Identifiers, sources and channels, key traits and tags, timeline, orders, path."""
    from omnichannel.cli.remote import on_installation

    def local(platform: Any) -> dict[str, Any]:
        with platform.warehouse.reader() as wh:
            return card_data(
                wh, platform.lookup, identifier, recent=recent, lookback_days=lookback_days
            )

    data = on_installation(
        settings_of(ctx),
        local=local,
        remote=lambda server: server.get(
            f"/v1/profiles/{quote(identifier, safe=':@')}/card",
            recent=recent,
            lookback_days=lookback_days,
        ),
    )
    if as_json:
        emit_json(data)
        return
    # The card builds markup strings from the data: escape the data, not the card.
    console.print(render_card(escaped(data)))
