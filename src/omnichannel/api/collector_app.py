"""A collector-only app: the real collector routes over one ingest runtime, nothing else.

What ``omni demo`` serves for its live day, so the demo posts to the same routes, checks
and metrics as ``omni serve`` without reaching into a route module or faking the
services object the routes read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from omnichannel.api.errors import install_error_handlers
from omnichannel.api.routes import collector
from omnichannel.ingest.runtime import IngestRuntime
from omnichannel.metrics import Metrics


@dataclass
class CollectorServices:
    """What the collector routes read from ``app.state.services``."""

    ingest: IngestRuntime
    metrics: Metrics = field(default_factory=Metrics)


def create_collector_app(
    runtime: IngestRuntime, *, title: str = "Omnichannel collector"
) -> FastAPI:
    """A FastAPI app answering the Segment-spec collector routes into ``runtime``."""
    app = FastAPI(title=title)
    app.include_router(collector.router)
    install_error_handlers(app)
    app.state.services = CollectorServices(runtime)
    return app
