"""The FastAPI application: API routers plus the web pages over the same installation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from omnichannel import __version__
from omnichannel.api.auth import AdminDep
from omnichannel.api.errors import install_error_handlers, install_openapi
from omnichannel.api.routes import (
    audiences,
    collector,
    dead_letters,
    events,
    health,
    inbox,
    jobs,
    messages,
    profiles,
    provider_hooks,
    segments,
    sources,
    templates,
    tracking,
    warehouse,
)
from omnichannel.api.services import Services
from omnichannel.config import Settings, get_settings
from omnichannel.metrics import RequestMetrics
from omnichannel.web import pages

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, serve: bool = False) -> FastAPI:
    """Build the app for one installation.

    ``serve=True`` is ``omni serve``: the process owns the home, so it also runs the jobs
    on their schedules and the durable consumers, and writes the runtime file (with a
    local admin token) through which CLI commands on the same home reach it.
    """
    services = Services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.settings.ensure_home()
        services.start_ingest()
        if serve:
            services.start_background()
            services.write_runtime_file()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Omnichannel",
        version=__version__,
        description="Customer data, journeys and measurement for online and offline channels.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    # Browser SDKs: analytics.js posts text/plain (no preflight); clients sending an
    # Authorization header are preflighted, and the preflight must succeed.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=services.settings.cors_origin_list,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        max_age=600,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(collector.router)
    # Links in messages are followed by their recipients: each URL carries a signed token.
    app.include_router(tracking.router)
    # The app's own user reads their inbox with the app's write key, as events are sent.
    app.include_router(inbox.router)
    # Providers' callbacks prove themselves by their own signatures (provider_hooks.py).
    app.include_router(provider_hooks.router)
    # Write keys are public (they ship in web pages); managing them, personal data, SQL
    # and jobs need an admin token until users and roles arrive (per route in warehouse).
    app.include_router(warehouse.router)
    app.include_router(sources.router, dependencies=[AdminDep])
    app.include_router(events.router)
    app.include_router(profiles.router, dependencies=[AdminDep])
    app.include_router(jobs.router, dependencies=[AdminDep])
    app.include_router(segments.router, dependencies=[AdminDep])
    app.include_router(audiences.router, dependencies=[AdminDep])
    app.include_router(messages.router, dependencies=[AdminDep])
    app.include_router(messages.channels_router, dependencies=[AdminDep])
    app.include_router(messages.suppressions_router, dependencies=[AdminDep])
    app.include_router(templates.router, dependencies=[AdminDep])
    app.include_router(dead_letters.router, dependencies=[AdminDep])
    app.include_router(pages.router)
    install_openapi(app)
    return app
