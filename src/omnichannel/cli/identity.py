"""``omni identity``: resolve the deterministic identity graph, explain it, show its rules."""

from __future__ import annotations

from pathlib import Path

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import (
    JSON_OPTION_HELP,
    console,
    emit_json,
    escape,
    key_value_table,
    rows_table,
)
from omnichannel.config import Settings
from omnichannel.configuration import InstallationConfig
from omnichannel.identity import explain as explain_identifier
from omnichannel.identity import parse_identifier
from omnichannel.identity.rules import RULES_FILE_NAME, IdentityRules
from omnichannel.warehouse import open_warehouse

app = typer.Typer(
    help="Unified identity: join records that share identifiers into profiles, under rules.",
    no_args_is_help=True,
)

IDENTIFIER_COLUMNS = ("id_type", "id_value", "status", "records", "first_seen", "last_seen")
MERGE_COLUMNS = ("id_type", "id_value", "source", "record_id", "rule", "merged_at")
RULES_HELP = (
    f"YAML rules file overriding the defaults (default: HOME/{RULES_FILE_NAME} if it exists)."
)


def _rules(settings: Settings, path: Path | None) -> IdentityRules:
    return InstallationConfig.load(settings, rules_file=path).rules


@app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    full: bool = typer.Option(
        False, "--full", help="Rebuild the whole graph instead of adding what is new."
    ),
    rules_file: Path | None = typer.Option(None, "--rules", help=RULES_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Resolve identities: incremental by default (new observations only), --full rebuilds."""
    from omnichannel.cli.jobs import run_as_job

    settings = settings_of(ctx)
    options = {"full": full, "rules": str(rules_file.resolve()) if rules_file else None}
    # The `identity` job, here or on the server that owns the home: same work, same output.
    data = run_as_job(settings, "identity", options, show_progress=not as_json)["detail"]
    if as_json:
        emit_json(data)
        return
    refusals = data.pop("refusals")
    assert isinstance(refusals, dict)
    console.print(key_value_table(f"Identity resolution ({data['mode']})", data))
    if refusals:
        console.print(
            rows_table("Refused identifiers", ["rule", "identifiers"], sorted(refusals.items()))
        )


@app.command("explain")
def explain_command(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="TYPE:VALUE, e.g. email:ann@example.cn"),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Which profile holds an identifier, its records and identifiers, and the merges."""
    settings = settings_of(ctx)
    id_type, id_value = parse_identifier(identifier)
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        story = explain_identifier(wh, id_type, id_value)
    if as_json:
        emit_json(story)
        return
    ident = story["identifier"]
    console.print(
        f"[bold]{escape(ident['id_type'])}:{escape(ident['id_value'])}[/] "
        f"status {escape(str(ident['status']))}"
    )
    for refusal in story["refusals"]:
        console.print(f"  refused ({escape(refusal['rule'])}): {escape(refusal['detail'])}")
    for profile in story["profiles"]:
        console.print(
            f"\n[bold]profile {escape(profile['profile_id'])}[/]: "
            f"{profile['record_count']:,} records, "
            f"{profile['merge_count']:,} merge rows"
        )
        console.print(
            rows_table(
                "Identifiers",
                ["type", "value", "status", "records", "first seen", "last seen"],
                [[r[k] for k in IDENTIFIER_COLUMNS] for r in profile["identifiers"]],
            )
        )
        console.print(
            rows_table(
                "Merges (identifier -> record it joined)",
                ["type", "value", "source", "record", "rule", "at"],
                [[m[k] for k in MERGE_COLUMNS] for m in profile["merges"]],
            )
        )


@app.command("rules")
def rules_command(
    ctx: typer.Context,
    rules_file: Path | None = typer.Option(None, "--rules", help=RULES_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """The effective identity rules: priority and limit per type, blocked values."""
    rules = _rules(settings_of(ctx), rules_file)
    data = rules.as_dict()
    if as_json:
        emit_json(data)
        return
    console.print(f"Rules from {escape(str(rules.origin))}")
    console.print(
        rows_table(
            "Identifier types (1 = most trusted; limit = values one profile may hold)",
            ["type", "priority", "limit"],
            [
                [r.id_type, r.priority, "none" if r.limit is None else r.limit]
                for r in rules.ordered()
            ]
            + [["(other types)", rules.default.priority, rules.default.limit or "none"]],
        )
    )
    blocked = [[t, "value", ", ".join(sorted(v))] for t, v in sorted(rules.blocked_values.items())]
    blocked += [[t, "pattern", ", ".join(p)] for t, p in sorted(rules.blocked_patterns.items())]
    console.print(rows_table("Blocked", ["type", "kind", "values"], blocked))
    console.print(
        rows_table(
            "Per-source identifier types",
            ["source", "type", "read as"],
            [
                [source, from_type, to_type]
                for source, mapping in sorted(rules.source_id_types.items())
                for from_type, to_type in sorted(mapping.items())
            ],
        )
    )
    console.print(f"Events read for identifiers: {escape(', '.join(rules.event_types)) or 'none'}")
    if rules.linkage_min_probability is None:
        console.print("Splink links: off (linkage: null)")
    else:
        exempt = ", ".join(sorted(rules.linkage_exempt_limits)) or "none"
        console.print(
            f"Splink links: joined at probability >= {rules.linkage_min_probability}; "
            f"exempt from the limits of: {escape(exempt)}"
        )
