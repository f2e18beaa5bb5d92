"""Channels: each adapter's health (breaker, queue depth and lag, suppressions, the last
day's sent and failed counts), from ``platform.channels.health``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import csv_response, render, wants_csv

router = APIRouter(include_in_schema=False)

HEALTH_COLUMNS = [
    "channel",
    "enabled",
    "worker",
    "breaker",
    "queue_depth",
    "queued",
    "held",
    "sending",
    "lag_seconds",
    "suppressions",
    "error_rate",
    "last_error",
]
STEPS = ("sent", "delivered", "failed", "bounced", "dropped", "retrying")


def _words_in_templates() -> None:
    """Breaker states and worker words the template translates, for ``pybabel extract``."""
    _("closed"), _("open"), _("half_open"), _("running"), _("stopped")


@router.get("/channels")
def channels_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.channels.health()
    if wants_csv(request):
        flat = [{**r, **{f"recent_{s}": r["recent"].get(s, 0) for s in STEPS}} for r in rows]
        return csv_response(flat, HEALTH_COLUMNS + [f"recent_{s}" for s in STEPS], "channels")
    hours = rows[0]["recent_hours"] if rows else 24
    return render(request, "channels.html", {"channels": rows, "steps": STEPS, "hours": hours})
