"""``omni serve``: the API, collector and web pages under Uvicorn."""

from __future__ import annotations

import typer

from omnichannel.cli.context import settings_of


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (OMNI_HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (OMNI_PORT)."),
) -> None:
    """Start the HTTP server: dashboard at /, API contract at /docs, liveness at /healthz."""
    import uvicorn

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
    uvicorn.run(
        create_app(settings, serve=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # A line per request costs the collector throughput and says what /metrics says;
        # OMNI_LOG_LEVEL=DEBUG turns it back on.
        access_log=settings.log_level.upper() == "DEBUG",
    )
