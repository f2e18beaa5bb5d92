"""Rendering a page: the Jinja2 environment (i18n, format filters), the base layout's
context, and the CSV export every table has (``?format=csv`` on the page's own route).

Example::

    @router.get("/segments")
    def segments_page(request: Request, platform: PlatformDep) -> Response:
        rows = platform.segments.list()
        if wants_csv(request):
            return csv_response(rows, ["name", "members"], "segments")
        return render(request, "segments.html", {"segments": rows})
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from omnichannel import __version__
from omnichannel.web import i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"
env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=jinja2.select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
templates = Jinja2Templates(env=env)
env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)
env.filters["num"] = lambda v, digits=None: i18n.format_number(v, digits=digits)
env.filters["rate"] = lambda v: i18n.format_rate(v)
env.filters["when"] = lambda v: i18n.format_when(v)
# JSON for a data- attribute: a plain string, so autoescape quotes it for the attribute.
env.filters["tojson_attr"] = lambda v: json.dumps(v, default=str, ensure_ascii=False)

# The navigation of the base layout: (path, label). Labels are msgids (translated there).
NAV: tuple[tuple[str, str], ...] = (
    ("/", "Overview"),
    ("/customers", "Customers"),
    ("/service-desk", "Service desk"),
    ("/segments", "Segments"),
    ("/journeys", "Journeys"),
    ("/messages", "Messages"),
    ("/channels", "Channels"),
    ("/analytics", "Analytics"),
    ("/models", "Models"),
    ("/surveys", "Surveys"),
    ("/budget", "Budget"),
    ("/commerce", "Commerce"),
    ("/privacy", "Privacy"),
    ("/operations", "Operations"),
)


def _nav_words() -> None:
    """The labels above, for ``pybabel extract`` (to it they are plain strings)."""
    _ = i18n.gettext
    _("Overview"), _("Customers"), _("Service desk"), _("Segments"), _("Journeys")
    _("Messages"), _("Channels")
    _("Analytics"), _("Models"), _("Budget")
    _("Surveys")
    _("Commerce")
    _("Privacy")
    _("Operations")


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv"


def csv_link(request: Request, table: str | None = None) -> str:
    """The URL of this page's CSV export (of ``table`` when the page has several)."""
    params = {k: v for k, v in request.query_params.items() if k not in ("format", "table")}
    params["format"] = "csv"
    if table:
        params["table"] = table
    return request.url.path + "?" + "&".join(f"{k}={_quote(v)}" for k, v in params.items())


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _cell(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return "" if value is None else value


def csv_response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], name: str) -> Response:
    """``rows`` as a CSV download (UTF-8 with a BOM, so spreadsheets read Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """``template`` in the visitor's language, with what the base layout needs."""
    lang = i18n.pick(request)
    user = getattr(request.state, "principal", None) or getattr(request.state, "user", None)
    base = {
        "lang": lang,
        "languages": i18n.LOCALES,
        "nav": NAV,
        "version": __version__,
        "user": user,
        "csrf_token": str(getattr(request.state, "csrf_token", "")),
        "csv_link": lambda table=None: csv_link(request, table),
        "path": request.url.path,
        # The language switch reloads this page: its query, which a page may override.
        "switch_params": {k: v for k, v in request.query_params.items() if k != "lang"},
    }
    with i18n.speaking(lang):
        response = templates.TemplateResponse(
            request, template, {**base, **(context or {})}, status_code=status
        )
    if request.query_params.get("lang") in i18n.LOCALES:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


def table_of(request: Request, default: str) -> str:
    """Which of a page's tables a CSV export asks for (``&table=``)."""
    return request.query_params.get("table") or default


async def form_of(request: Request) -> dict[str, str]:
    """A posted HTML form's fields (first value of each), without python-multipart."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
