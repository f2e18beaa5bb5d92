"""``omni templates``: save, list, show, preview and archive message templates.

Each command is one call into ``platform.templates`` (``channels/templates.py``), or,
while ``omni serve`` owns the home, the same call on ``/api/templates``; both return the
same data, printed the same way. A template file is YAML or JSON::

    channel: email
    kind: marketing            # or transactional
    description: The welcome email
    content:
      subject: "Welcome, {{ profile.first_name }}"
      text: |
        Hello {{ profile.first_name }}!
        Stop these emails: {{ unsubscribe_url }}
      html: <p>Hello {{ profile.first_name }}!</p>
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import JSON_OPTION_HELP, console, emit_json, key_value_table, rows_table
from omnichannel.errors import OmniError, ValidationError

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.platform import Platform

app = typer.Typer(
    no_args_is_help=True,
    help="Message templates: versioned, checked when saved, previewed against real people.",
)
ACTOR = "cli"
FILE_KEYS = ("name", "channel", "kind", "description", "content")


def _run(ctx: typer.Context, local: Any, remote: Any) -> Any:
    from omnichannel.cli.remote import on_installation

    return on_installation(settings_of(ctx), local=local, remote=remote)


def _read(path: Path) -> dict[str, Any]:
    """The template file's document; errors name the file and what is wrong in it."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OmniError(f"cannot read the template file {path}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise OmniError(
            f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(doc, dict):
        raise ValidationError(f"{path}", type(doc).__name__, "a mapping with channel and content")
    for key in doc:
        if key not in FILE_KEYS:
            raise ValidationError(
                f"{path}: {key}", doc[key], f"one of the keys {', '.join(FILE_KEYS)}"
            )
    for key in ("channel", "content"):
        if key not in doc:
            raise ValidationError(f"{path}: {key}", "(missing)", "a value (this key is required)")
    if not isinstance(doc["content"], dict):
        raise ValidationError(
            f"{path}: content", doc["content"], "a mapping of part name to template"
        )
    return doc


def _print(template: dict[str, Any]) -> None:
    summary = {
        "name": template["name"],
        "channel": template["channel"],
        "kind": template["kind"],
        "description": template["description"],
        "version": f"{template['version']} of {template['current_version']}",
        "saved by": template["created_by"],
        "saved at": template["created_at"],
        "archived": template["archived_at"] or "no",
    }
    console.print(key_value_table(f"template {template['name']}", summary))
    _print_parts(template["content"])


def _print_parts(parts: dict[str, Any]) -> None:
    import json

    for part, value in parts.items():
        shown = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
        console.print(Text(f"--- {part}", style="bold"))
        console.print(Text(shown))


@app.command("save")
def save(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name (a slug, e.g. welcome-email)."),
    file: Path = typer.Option(..., "--file", "-f", help="The template: YAML or JSON (see above)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Create a template or add a version; refused with the part, line and variable when a
    part cannot render."""
    doc = _read(file)
    if doc.get("name") not in (None, name):
        raise ValidationError(f"{file}: name", doc["name"], f"{name!r}, the name given")
    values: dict[str, Any] = {
        k: doc[k] for k in ("channel", "content", "kind", "description") if k in doc
    }

    def local(platform: Platform) -> dict[str, Any]:
        return platform.templates.save(name, created_by=ACTOR, **values)

    def remote(server: ServerClient) -> dict[str, Any]:
        body: dict[str, Any] = {**values, "created_by": ACTOR}
        return dict(server.request("PUT", f"/api/templates/{name}", json=body))

    saved = _run(ctx, local, remote)
    if as_json:
        emit_json(saved)
        return
    what = f"saved as version {saved['version']}" if saved["changed"] else "unchanged"
    console.print(Text(f"template {saved['name']} ({saved['channel']}): {what}"))
    console.print(Text("rendered for a sample person:", style="bold"))
    _print_parts(saved["sample"])


@app.command("list")
def list_templates(
    ctx: typer.Context,
    archived: bool = typer.Option(False, "--archived", help="Include archived templates."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Every template with its channel, kind and current version."""
    found = _run(
        ctx,
        lambda platform: platform.templates.list(archived=archived),
        lambda server: server.get("/api/templates", archived=str(archived).lower()),
    )
    if as_json:
        emit_json(found)
        return
    rows = [
        (
            t["name"],
            t["channel"],
            t["kind"],
            t["current_version"],
            t["updated_at"][:19],
            "archived" if t["archived_at"] else "",
        )
        for t in found
    ]
    columns = ("name", "channel", "kind", "version", "updated", "")
    console.print(rows_table(f"{len(rows)} templates", columns, rows))


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name."),
    version: int | None = typer.Option(None, "--version", "-v", help="An older version."),
    versions: bool = typer.Option(False, "--versions", help="List every version instead."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """One template's parts (the current version, or ``--version``), or its versions."""
    if versions:
        found = _run(
            ctx,
            lambda platform: platform.templates.versions(name),
            lambda server: server.get(f"/api/templates/{name}/versions"),
        )
        if as_json:
            emit_json(found)
            return
        rows = [(v["version"], v["created_by"], v["created_at"][:19]) for v in found]
        console.print(rows_table(f"versions of {name}", ("version", "saved by", "saved at"), rows))
        return
    params = {} if version is None else {"version": version}
    template = _run(
        ctx,
        lambda platform: platform.templates.get(name, version=version),
        lambda server: server.get(f"/api/templates/{name}", **params),
    )
    emit_json(template) if as_json else _print(template)


@app.command("preview")
def preview(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name."),
    profile: str | None = typer.Option(
        None,
        "--profile",
        "-p",
        help="TYPE:VALUE of a person (email:ann@example.com); default: a sample.",
    ),
    version: int | None = typer.Option(None, "--version", "-v", help="An older version."),
    campaign: str | None = typer.Option(None, "--campaign", help="The campaign variable."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Render a template for a real person found by any identifier."""
    params = {
        k: v
        for k, v in {"profile": profile, "version": version, "campaign": campaign}.items()
        if v is not None
    }
    shown = _run(
        ctx,
        lambda platform: platform.templates.preview(
            name, profile=profile, version=version, campaign=campaign
        ),
        lambda server: server.post(f"/api/templates/{name}/preview", **params),
    )
    if as_json:
        emit_json(shown)
        return
    who = shown["profile_id"] or "a sample person"
    console.print(
        Text(f"{shown['name']} v{shown['version']} ({shown['channel']}) for {who}", style="bold")
    )
    _print_parts(shown["rendered"])


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Hide a template from lists and refuse new sends of it (its versions stay)."""
    done = _run(
        ctx,
        lambda platform: platform.templates.archive(name, actor=ACTOR),
        lambda server: server.post(f"/api/templates/{name}/archive", actor=ACTOR),
    )
    if as_json:
        emit_json(done)
        return
    console.print(
        Text(f"template {done['name']} archived (versions 1-{done['current_version']} kept)")
    )
