"""``omni serve``: the API, collector and web pages under Uvicorn."""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

import typer
import uvicorn

from omnichannel.cli.context import settings_of

if TYPE_CHECKING:
    from omnichannel.config import Settings

log = logging.getLogger("omnichannel.serve")


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (OMNI_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (OMNI_PORT)."),
) -> None:
    """Start the HTTP server: dashboard at /, API contract at /docs, liveness at /healthz."""
    from omnichannel.api import create_app

    settings = settings_of(ctx, needs_installation=False)
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    settings.ensure_home()
    from omnichannel.server_runtime import read_runtime

    running = read_runtime(settings.home)
    if running is not None:
        from omnichannel.errors import ConfigError

        raise ConfigError(
            f"{running.describe()} already owns this home; stop it first (kill {running.pid}) "
            "or give this one another --home"
        )
    if settings.bus_url is not None:
        from omnichannel.ingest.bus_redis import RedisBus

        RedisBus.check(settings)  # one line naming OMNI_BUS_URL, not a startup traceback
    from omnichannel.logs import configure_logging

    log_format = configure_logging(settings.log_level, settings.log_format)
    config = uvicorn.Config(
        create_app(settings, serve=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # Uvicorn's lines go through our handler (configure_logging)
        # A line per request costs the collector throughput and says what /metrics says;
        # OMNI_LOG_LEVEL=DEBUG turns it back on.
        access_log=settings.log_level == "DEBUG",
    )
    server = _Server(config, settings=settings, log_format=log_format)
    server.run()
    if not server.started:
        raise typer.Exit(3)  # Uvicorn logged why (port taken, startup failed)


class _Server(uvicorn.Server):
    """Uvicorn's server, logging one structured line once it listens."""

    def __init__(self, config: uvicorn.Config, *, settings: Settings, log_format: str) -> None:
        super().__init__(config)
        self.settings = settings
        self.log_format = log_format

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        from omnichannel import __version__
        from omnichannel.warehouse.backends import engine_of

        host = self.settings.host
        url = f"http://{f'[{host}]' if ':' in host else host}:{self.settings.port}"
        log.info(
            "omni serve started",
            extra={
                "url": url,
                "home": str(self.settings.home.resolve()),
                "pid": os.getpid(),
                "version": __version__,
                "warehouse": engine_of(self.settings.resolved_warehouse_url),
                "log_format": self.log_format,
            },
        )

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        log.info("omni serve stopped", extra={"pid": os.getpid()})
