"""The clustering section of ``/models``: personas as cards, the customers on the two
features that separate the clusters most, and "save as segment".

Everything comes from ``platform.clusters`` (what ``omni clusters`` and ``/api/clusters``
call). Saving a cluster posts to ``/models/clusters/{cluster}/segment`` (CSRF token of
the session, ``segments:write``: the access layer's page gate; the library audits it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError, OmniError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import form_of, render

if TYPE_CHECKING:
    from omnichannel.platform import Platform

router = APIRouter(include_in_schema=False)
PERSONA_COLUMNS = ["cluster", "name", "size", "share", "description"]


def clusters_context(platform: Platform) -> dict[str, Any]:
    """What ``_models_clusters.html`` shows; an empty section when nothing is fitted."""
    try:
        answer = platform.clusters.personas()
        chart = platform.clusters.chart()
    except NotFoundError:
        return {"clusters": None, "clusters_chart": None}
    return {"clusters": answer, "clusters_chart": _scatter(chart)}


def persona_rows(platform: Platform) -> list[dict[str, Any]]:
    """The personas as CSV rows (``/models?format=csv&table=personas``)."""
    try:
        return list(platform.clusters.personas()["personas"])
    except NotFoundError:
        return []


def _axis(name: str, logged: bool) -> dict[str, Any]:
    label = f"{name} (log10 1+x)" if logged else name
    return {"type": "value", "name": label, "nameLocation": "middle", "nameGap": 28}


def _scatter(chart: dict[str, Any]) -> dict[str, Any]:
    """An ECharts option: one scatter series per cluster (log axes as log10(1 + x))."""
    x_log, y_log = chart["log_scale"]

    def shown(value: float, logged: bool) -> float:
        return round(math.log10(1 + max(value, 0)), 3) if logged else value

    return {
        "tooltip": {"trigger": "item"},
        "legend": {"data": [f"{s['cluster']}. {s['name']}" for s in chart["series"]]},
        "xAxis": _axis(chart["x"], x_log),
        "yAxis": _axis(chart["y"], y_log),
        "series": [
            {
                "name": f"{s['cluster']}. {s['name']}",
                "type": "scatter",
                "symbolSize": 6,
                "data": [[shown(a, x_log), shown(b, y_log)] for a, b in s["points"]],
            }
            for s in chart["series"]
        ],
    }


@router.post("/models/clusters/{cluster}/segment")
async def save_cluster_segment(request: Request, services: ServicesDep, cluster: int) -> Response:
    """Save a cluster as a segment (the library call the API makes); then its page."""
    form = await form_of(request)
    name = form.get("name", "").strip()
    try:
        services.platform.clusters.save_segment(cluster, name, actor=request.state.principal.actor)
    except (OmniError, ValueError) as exc:
        return render(
            request,
            "analytics_error.html",
            {"error": str(exc), "back": "/models#clusters", "title": _("Models")},
            status=400,
        )
    return RedirectResponse(f"/segments/{name}", status_code=303)
