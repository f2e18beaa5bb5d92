"""The propensity section of ``/models``: each target's scores over versions, the
calibration table and lift by decile of the version in use, and one person's scores
with their reasons (``?person=TYPE:VALUE``, the same person as the recommendations).

Everything comes from ``platform.models`` and ``platform.propensity``: what
``omni models``, ``omni propensity`` and ``/api/propensity`` call. Read only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnichannel.errors import NotFoundError, OmniError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

METRICS = ("auc", "pr_auc", "brier")
VERSION_COLUMNS = [
    "target",
    "version",
    "status",
    *METRICS,
    "baseline_auc",
    "baseline_brier",
    "calibration",
    "cutoff",
    "trained_at",
]
CALIBRATION_COLUMNS = ["target", "bin", "people", "predicted", "observed"]
LIFT_COLUMNS = ["target", "decile", "people", "rate", "lift"]
TABLES = ("propensity", "calibration", "lift")


def _versions(platform: Platform, target: str) -> list[dict[str, Any]]:
    # Imported on use: the propensity service imports pandas and scikit-learn, which the
    # server must not pay before its first answer (tests/api/test_serve_startup.py).
    from omnichannel.propensity.service import TARGETS

    model = TARGETS[target].model
    rows = []
    for v in platform.models.history(model):
        m = v["metrics"]
        rows.append(
            {
                "target": target,
                "version": v["version"],
                "status": v["status"],
                **{k: m.get(k) for k in METRICS},
                "baseline_auc": (m.get("baseline") or {}).get("auc"),
                "baseline_brier": (m.get("baseline") or {}).get("brier"),
                "calibration": m.get("calibration"),
                "cutoff": m.get("cutoff"),
                "trained_at": v["trained_at"],
                "metrics": m,
            }
        )
    return rows


def _chart(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """An ECharts option: AUC, PR-AUC and Brier per version, oldest first."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(METRICS)},
        "xAxis": {"type": "category", "data": [f"v{v['version']}" for v in versions]},
        "yAxis": {"type": "value", "min": 0, "max": 1},
        "series": [
            {
                "name": metric,
                "type": "line",
                "data": [round(float(v.get(metric) or 0), 4) for v in versions],
            }
            for metric in METRICS
        ],
    }


def propensity_context(platform: Platform, identifier: str) -> dict[str, Any]:
    """What ``_models_propensity.html`` shows."""
    from omnichannel.propensity.service import TARGETS

    targets = []
    for name in TARGETS:
        versions = _versions(platform, name)
        active = next((v for v in versions if v["status"] == "active"), None)
        metrics = active["metrics"] if active else {}
        targets.append(
            {
                "name": name,
                "model": TARGETS[name].model,
                "versions": versions,
                "chart": _chart(versions) if versions else None,
                "active": active,
                "reliability": metrics.get("reliability", []),
                "lift": metrics.get("lift", []),
            }
        )
    person: dict[str, Any] | None = None
    if identifier:
        try:
            person = {"answer": platform.propensity.explain(identifier)}
        except (NotFoundError, OmniError) as exc:
            person = {"error": str(exc)}
    return {"propensity": targets, "propensity_person": person}


def propensity_rows(platform: Platform, table: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and columns of one of ``TABLES`` as CSV (``/models?format=csv&table=``)."""
    context = propensity_context(platform, "")["propensity"]
    if table == "calibration":
        rows = [{"target": t["name"], **r} for t in context for r in t["reliability"]]
        return rows, CALIBRATION_COLUMNS
    if table == "lift":
        return [{"target": t["name"], **r} for t in context for r in t["lift"]], LIFT_COLUMNS
    return [v for t in context for v in t["versions"]], VERSION_COLUMNS
