"""The FastAPI application: API routers plus the web pages over the same installation."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from omnichannel import __version__
from omnichannel.access import web as access_web
from omnichannel.access.api import guard, public
from omnichannel.access.permissions import AccessDenied
from omnichannel.api.errors import install_error_handlers, install_openapi
from omnichannel.api.routes import (
    alerts,
    analytics,
    audiences,
    audit,
    budget,
    clusters,
    collector,
    comments,
    commerce,
    dead_letters,
    events,
    experiments,
    funnels,
    health,
    inbox,
    jobs,
    journeys,
    kpis,
    messages,
    mmm,
    operations,
    profiles,
    propensity,
    provider_hooks,
    recommendations,
    reports,
    segments,
    send_times,
    sources,
    surveys,
    templates,
    tracking,
    users,
    warehouse,
)
from omnichannel.api.services import SWITCH_INTERVAL, Services
from omnichannel.config import Settings, get_settings
from omnichannel.metrics import RequestMetrics
from omnichannel.web import pages, serve_static, survey_answer

log = logging.getLogger(__name__)


# Journey lifecycle moves that need journeys:operate (approve needs journeys:approve).
LIFECYCLE = ("start", "pause", "resume", "archive", "reset")


async def _denied(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessDenied)
    detail = {"field": "role", "value": exc.role, "permission": exc.permission}
    return JSONResponse({"detail": {**detail, "message": str(exc)}}, status_code=403)


# How long a failed start of the jobs and consumers waits before the next try, at most.
BACKGROUND_RETRY_MAX_SECONDS = 30.0


def _start_background(services: Services, stopping: threading.Event) -> None:
    """Start the jobs and consumers, retrying while the warehouse cannot be opened.

    Meanwhile the server answers: the collector keeps events in its durable log and
    ``/readyz`` names what fails, as it does when the warehouse goes away later.
    """
    wait = 1.0
    while not stopping.is_set():
        try:
            services.start_background()
            return
        except Exception as exc:
            log.warning(
                "could not start the jobs and consumers; retrying",
                extra={"retry_seconds": wait, "error": f"{type(exc).__name__}: {exc}"},
            )
        stopping.wait(wait)
        wait = min(wait * 2, BACKGROUND_RETRY_MAX_SECONDS)


def create_app(settings: Settings | None = None, *, serve: bool = False) -> FastAPI:
    """Build the app for one installation.

    ``serve=True`` is ``omni serve``: the process owns the home, so it also runs the jobs
    on their schedules and the durable consumers, and writes the runtime file (with a
    local admin token) through which CLI commands on the same home reach it.
    """
    services = Services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Uvicorn answers nothing until this returns: only what the first answers need
        # runs here (the collector's log, the runtime file the CLI finds the server by).
        services.settings.ensure_home()
        services.start_ingest()
        background = None
        stopping = threading.Event()
        if serve:
            services.write_runtime_file()
            # start_background sets it too; set now, so the first requests have it.
            sys.setswitchinterval(SWITCH_INTERVAL)
            # Jobs and consumers open the warehouse and import their modules (seconds on
            # a loaded machine): started beside the first answers, not before them.
            background = threading.Thread(
                target=_start_background, args=(services, stopping), name="start-background"
            )
            background.start()
        try:
            yield
        finally:
            stopping.set()
            if background is not None:
                background.join()
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
    app.add_exception_handler(AccessDenied, _denied)
    # Every router has its gate (access/api.py): a permission, or `public` saying why;
    # tests/access/test_every_route.py fails for a route with neither.
    app.include_router(health.router, dependencies=[public("probes and Prometheus scrapes")])
    app.include_router(collector.router, dependencies=[public("write keys, per call")])
    # Links in messages are followed by their recipients: each URL carries a signed token.
    app.include_router(tracking.router, dependencies=[public("signed tokens in links")])
    # The app's own user reads their inbox with the app's write key, as events are sent.
    app.include_router(inbox.router, dependencies=[public("the app's write key")])
    # Providers' callbacks prove themselves by their own signatures (provider_hooks.py).
    app.include_router(provider_hooks.router, dependencies=[public("provider signatures")])
    # A survey's answer page is answered by whoever holds its link's signed token.
    app.include_router(survey_answer.router, dependencies=[public("signed survey links")])
    app.include_router(access_web.router)
    app.include_router(users.router)
    app.include_router(audit.router)
    app.include_router(warehouse.router, dependencies=[guard("warehouse", write="warehouse:query")])
    app.include_router(sources.router, dependencies=[guard("sources")])
    # Stock and orders are fed by the systems an engineer connects (POS, ERP, shop): reads
    # need warehouse:read, reservations, files and order changes sources:write.
    app.include_router(commerce.router, dependencies=[guard("warehouse", write="sources:write")])
    app.include_router(events.router, dependencies=[guard("events")])
    app.include_router(profiles.router, dependencies=[guard("profiles")])
    app.include_router(recommendations.profiles_router, dependencies=[guard("profiles")])
    app.include_router(jobs.router, dependencies=[guard("jobs", write="jobs:run")])
    app.include_router(operations.router, dependencies=[guard("jobs", write="jobs:run")])
    segment_actions = {
        "preview_segment": "segments:read",
        "export_segment": "segments:export",
    }
    app.include_router(segments.router, dependencies=[guard("segments", **segment_actions)])
    journey_actions = {
        "validate_journey": "journeys:read",
        "simulate_journey": "journeys:read",
        "approve_journey": "journeys:approve",
        **{f"{verb}_journey": "journeys:operate" for verb in LIFECYCLE},
    }
    app.include_router(journeys.router, dependencies=[guard("journeys", **journey_actions)])
    app.include_router(audiences.router, dependencies=[guard("audiences", write="audiences:sync")])
    app.include_router(send_times.router, dependencies=[guard("analytics", write="analytics:run")])
    app.include_router(
        analytics.router,
        dependencies=[guard("analytics", attribution_of_paths="analytics:read")],
    )
    app.include_router(experiments.router, dependencies=[guard("analytics", write="analytics:run")])
    budget_gate = guard("analytics", write="analytics:run", **budget.READS)
    app.include_router(budget.router, dependencies=[budget_gate])
    app.include_router(mmm.router, dependencies=[guard("analytics", write="analytics:run")])
    # Running a funnel or a KPI query is a read with a body; a drop-off list may save a
    # segment, so it needs what running an analysis needs; rules and acks change state.
    queries = guard("analytics", write="analytics:read", funnel_dropoff="analytics:run")
    app.include_router(kpis.router, dependencies=[queries])
    app.include_router(funnels.router, dependencies=[queries])
    app.include_router(alerts.router, dependencies=[guard("analytics", write="analytics:run")])
    reports_gate = guard("analytics", write="reports:write", **reports.ACTIONS)
    app.include_router(reports.router, dependencies=[reports_gate])
    app.include_router(
        recommendations.router, dependencies=[guard("analytics", write="analytics:run")]
    )
    app.include_router(propensity.router, dependencies=[guard("analytics", write="analytics:run")])
    cluster_gate = guard("analytics", save_cluster_segment="segments:write")
    app.include_router(clusters.router, dependencies=[cluster_gate])
    sends = guard(
        "messages",
        write="messages:send",
        approve_send="messages:approve",
        reject_send="messages:approve",
    )
    # Asking someone (a message, an in-app prompt, a receipt's link) is sending.
    asking = ("send_survey", "send_survey_segment", "prompt_survey", "receipt_qr")
    survey_gate = guard("surveys", **dict.fromkeys(asking, "messages:send"))
    app.include_router(surveys.router, dependencies=[survey_gate])
    app.include_router(messages.router, dependencies=[sends])
    app.include_router(messages.channels_router, dependencies=[sends])
    app.include_router(messages.suppressions_router, dependencies=[sends])
    app.include_router(
        templates.router, dependencies=[guard("templates", preview_template="templates:read")]
    )
    app.include_router(dead_letters.router, dependencies=[guard("events")])
    app.include_router(comments.router, dependencies=[guard("comments")])
    app.include_router(comments.notifications_router, dependencies=[guard("comments")])
    # Privacy: the consent ledger and data-subject requests (docs/privacy.md).
    from omnichannel.api.routes import consent, privacy
    from omnichannel.api.security_headers import SecurityHeaders

    app.include_router(consent.router, dependencies=[guard("consent")])
    privacy_gate = guard("privacy", write="privacy:erase", **privacy.ACTIONS)
    app.include_router(privacy.router, dependencies=[privacy_gate])
    from omnichannel.api.routes import partners

    partners_gate = guard("partners", read="privacy:read", write="privacy:export")
    app.include_router(partners.router, dependencies=[partners_gate])
    # Outermost: every answer, errors and static files included, carries the headers.
    app.add_middleware(SecurityHeaders, always_hsts=bool(services.settings.secure_cookies))
    # Pages: signed in (or a bearer token) with the page's permission (access/web.py).
    serve_static(app)  # /static: the pages' CSS and JS, vendored htmx and ECharts; public
    app.include_router(pages.router, dependencies=[access_web.require_pages()])
    install_openapi(app)
    return app
