"""Models: each model's scores over its versions, the rules of the baskets, and one
person's recommendations with the reason for each (``/models``).

Everything comes from ``platform.models`` and ``platform.recommendations``, what
``omni models``, ``omni recs`` and ``/api/models`` call; the clustering section is
``models_clusters.py``'s (``platform.clusters``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError, OmniError
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.pages import models_propensity
from omnichannel.web.pages.models_clusters import PERSONA_COLUMNS, clusters_context, persona_rows
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

MODEL = "recommendations"
METRICS = ("recall_at_10", "ndcg_at_10", "map_at_10", "coverage")
VERSION_COLUMNS = ["version", "algorithm", "status", *METRICS, "cutoff", "trained_at", "trained_by"]
RULE_COLUMNS = ["antecedents", "consequents", "support", "confidence", "lift", "baskets"]


def _scores_chart(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """An ECharts option: each metric per version, oldest first."""
    ordered = sorted(versions, key=lambda v: v["version"])
    labels = [f"v{v['version']} {v['algorithm']}" for v in ordered]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(METRICS)},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "min": 0},
        "series": [
            {
                "name": metric,
                "type": "line",
                "data": [round(float(v["metrics"].get(metric) or 0), 4) for v in ordered],
            }
            for metric in METRICS
        ],
    }


def _person(services: ServicesDep, identifier: str, slot: str | None) -> dict[str, Any]:
    try:
        answer = services.platform.recommendations.for_identifier(identifier, slot=slot or None)
        return {"answer": answer}
    except (ProfileNotFoundError, AmbiguousIdentifierError, NotFoundError, OmniError) as exc:
        return {"error": str(exc)}


@router.get("/models")
def models_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    versions = [{**v, "cutoff": v["metrics"].get("cutoff")} for v in platform.models.list(MODEL)]
    try:
        rules = platform.recommendations.rules(top=10)["rules"]
    except NotFoundError:
        rules = []
    if wants_csv(request):
        if table_of(request, "versions") in models_propensity.TABLES:
            rows, columns = models_propensity.propensity_rows(platform, table_of(request, ""))
            return csv_response(rows, columns, f"propensity-{table_of(request, '')}")
        if table_of(request, "versions") == "personas":
            return csv_response(persona_rows(platform), PERSONA_COLUMNS, "personas")
        if table_of(request, "versions") == "rules":
            return csv_response(rules, RULE_COLUMNS, "rules")
        return csv_response(versions, VERSION_COLUMNS, "model-versions")
    identifier = request.query_params.get("person", "").strip()
    slot = request.query_params.get("slot", "").strip()
    person = _person(services, identifier, slot) if identifier else None
    return render(
        request,
        "models.html",
        {
            "versions": versions,
            "metrics": METRICS,
            "chart": _scores_chart(versions) if versions else None,
            "rules": rules,
            "identifier": identifier,
            "slot": slot,
            "slots": list(platform.recommendations.config.slots),
            "person": person,
            **models_propensity.propensity_context(platform, identifier),
            **clusters_context(platform),
            "title": _("Models"),
        },
    )
