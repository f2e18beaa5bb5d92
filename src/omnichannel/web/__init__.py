"""Server-rendered pages (Jinja2, htmx, ECharts) over the same library layer as the API.

``pages.router`` holds every page route (mounted once in ``api/app.py``, where the
access layer's sign-in dependency guards them all); ``serve_static(app)`` serves
``/static`` (our CSS and JS, the vendored htmx and ECharts), which needs no sign-in.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def serve_static(app: FastAPI) -> None:
    """Serve the pages' static files at ``/static`` on ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
