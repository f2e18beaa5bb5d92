"""``omni partners share|receive|list|overlap|attribute|purge``: partner audiences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, rows_table

app = typer.Typer(
    help="Partner audiences: salted-hash files, overlap and joint-campaign attribution as counts.",
    no_args_is_help=True,
)

SALT_HELP = "File holding the salt agreed with the partner (mode 0600); else $OMNI_PARTNER_SALT."
EXPIRY_HELP = "Days the exchange is kept before its file is removed (1-365)."
MIN_GROUP_HELP = "Counts below this are withheld (default: OMNI_PARTNER_MIN_GROUP, 50)."


def _salt_file(path: Path | None) -> str | None:
    return str(path.resolve()) if path is not None else None


def _salt(path: Path | None) -> bytes:
    from omnichannel.privacy.partner_files import salt_from

    return salt_from(path)


def _count(value: dict[str, Any]) -> str:
    return "below minimum" if value["below_minimum"] else str(value["count"])


@app.command("share")
def share(
    ctx: typer.Context,
    audience: str = typer.Argument(..., help="A segment's name, or all."),
    partner: str = typer.Option(..., "--partner", help="Who receives the file."),
    out: Path = typer.Option(..., "--out", help="The CSV to write."),
    salt_file: Path | None = typer.Option(None, "--salt-file", help=SALT_HELP),
    expires_days: int = typer.Option(30, "--expires-days", help=EXPIRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Write the hashed emails and phones of the audience's people who granted sharing."""
    from omnichannel.cli.remote import on_installation

    body = {
        "audience": audience,
        "partner": partner,
        "out": str(out.resolve()),
        "salt_file": _salt_file(salt_file),
        "expires_days": expires_days,
    }
    sent = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.share(
            audience,
            partner=partner,
            salt=_salt(salt_file),
            out=out,
            actor="cli",
            expires_days=expires_days,
        ),
        remote=lambda server: server.post("/api/partners/share", json=body),
    )
    if as_json:
        emit_json(sent)
        return
    d = sent["details"]
    console.print(
        f"Wrote {sent['file']}: {sent['rows']} hashes of {d['shared']} of {d['people']} people "
        f"({d['left_out_without_consent']} left out: no third_party_sharing consent); "
        f"exchange {sent['id']}, expires {sent['expires_at'][:10]}."
    )


@app.command("receive")
def receive(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The partner's CSV (identifier_type,identifier_hash)."),
    partner: str = typer.Option(..., "--partner", help="Who sent it."),
    salt_file: Path | None = typer.Option(None, "--salt-file", help=SALT_HELP),
    expires_days: int = typer.Option(30, "--expires-days", help=EXPIRY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Check a partner's file and keep a copy in the home until it expires."""
    from omnichannel.cli.remote import on_installation

    body = {
        "file": str(file.resolve()),
        "partner": partner,
        "salt_file": _salt_file(salt_file),
        "expires_days": expires_days,
    }
    got = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.receive(
            file, partner=partner, salt=_salt(salt_file), actor="cli", expires_days=expires_days
        ),
        remote=lambda server: server.post("/api/partners/receive", json=body),
    )
    if as_json:
        emit_json(got)
        return
    console.print(
        f"Exchange {got['id']}: {got['rows']} hashes from {got['partner']}, "
        f"kept until {got['expires_at'][:10]}."
    )


@app.command("list")
def list_exchanges(
    ctx: typer.Context,
    partner: str | None = typer.Option(None, "--partner", help="Only this partner's."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Files sent and received, newest first, with their expiry."""
    from omnichannel.cli.remote import on_installation

    rows: list[dict[str, Any]] = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.exchanges(partner=partner),
        remote=lambda server: server.get("/api/partners", partner=partner),
    )
    if as_json:
        emit_json(rows)
        return
    columns = ["id", "partner", "direction", "audience", "rows", "expires_at", "expired"]
    console.print(rows_table("Partner exchanges", columns, [[r[c] for c in columns] for r in rows]))


@app.command("overlap")
def overlap(
    ctx: typer.Context,
    exchange: int = typer.Argument(..., help="A received file's exchange id."),
    audience: str = typer.Option("all", "--audience", help="A segment's name, or all."),
    salt_file: Path | None = typer.Option(None, "--salt-file", help=SALT_HELP),
    min_group: int | None = typer.Option(None, "--min-group", help=MIN_GROUP_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """How many of the audience the partner's file also holds (counts only)."""
    from omnichannel.cli.remote import on_installation

    body = {"audience": audience, "salt_file": _salt_file(salt_file), "min_group": min_group}
    answer = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.overlap(
            exchange,
            audience=audience,
            salt=lambda: _salt(salt_file),
            min_group=min_group,
            actor="cli",
        ),
        remote=lambda server: server.post(f"/api/partners/{exchange}/overlap", json=body),
    )
    if as_json:
        emit_json(answer)
        return
    console.print(
        f"{answer['partner']} x {answer['audience']} ({answer['audience_people']} people): "
        f"overlap {_count(answer['overlap'])} (minimum group {answer['min_group']}); "
        + ", ".join(f"by {t} {_count(v)}" for t, v in answer["by_type"].items())
    )


@app.command("attribute")
def attribute(
    ctx: typer.Context,
    campaign: str = typer.Argument(..., help="The joint campaign (orders.campaign_id)."),
    exchanges: list[int] = typer.Option(..., "--exchange", help="A received file; repeatable."),
    salt_file: Path | None = typer.Option(None, "--salt-file", help=SALT_HELP),
    min_group: int | None = typer.Option(None, "--min-group", help=MIN_GROUP_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The joint campaign's orders per partner whose file holds the buyer (counts only)."""
    from omnichannel.cli.remote import on_installation

    body = {
        "campaign": campaign,
        "exchanges": exchanges,
        "salt_file": _salt_file(salt_file),
        "min_group": min_group,
    }
    answer = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.attribute(
            campaign,
            exchanges,
            salt=lambda: _salt(salt_file),
            min_group=min_group,
            actor="cli",
        ),
        remote=lambda server: server.post("/api/partners/attribute", json=body),
    )
    if as_json:
        emit_json(answer)
        return
    console.print(
        rows_table(
            f"{answer['campaign']}: {answer['orders']} orders by {answer['buyers']} buyers "
            f"(minimum group {answer['min_group']})",
            ["partner", "buyers", "orders", "revenue"],
            [
                [p["partner"], _count(p["buyers"]), p["orders"], p["revenue"]]
                for p in answer["partners"]
            ],
        )
    )


@app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Remove the kept files of exchanges past their expiry (also done on every use)."""
    from omnichannel.cli.remote import on_installation

    purged = on_installation(
        settings_of(ctx),
        local=lambda platform: platform.partners.purge_expired(actor="cli"),
        remote=lambda server: server.post("/api/partners/purge")["purged"],
    )
    console.print(f"Purged {len(purged)} expired exchange(s): {purged}")
