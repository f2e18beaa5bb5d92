"""The home page: what is in this installation and where to go next."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from omnichannel import __version__
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import OmniError
from omnichannel.warehouse import ALL_TABLES

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> HTMLResponse:
    counts: dict[str, int] = {}
    error = None
    try:
        with services.warehouse() as wh:
            counts = wh.counts()
    except OmniError as exc:
        error = str(exc)
    return templates.TemplateResponse(
        request,
        "home.html",
        {"version": __version__, "tables": ALL_TABLES, "counts": counts, "error": error},
    )
