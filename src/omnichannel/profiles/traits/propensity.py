"""The propensity scores of the models in use, as profile columns.

``platform.propensity.score()`` writes ``propensity_scores`` (one row per profile and
target) and swaps the profiles table with these columns refreshed; every profile build
joins the stored scores again, so a build keeps them and ``omni profiles build`` and the
segment compiler read the same columns (``purchase_30d_propensity``, ``churn_decile``...).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import json_object
from omnichannel.warehouse import Warehouse

TARGETS = ("purchase_30d", "churn")
COLUMNS = (
    "purchase_30d_propensity",
    "purchase_30d_decile",
    "churn_propensity",
    "churn_decile",
    "propensity_reasons",
)


def propensity_columns(scores: ir.Table) -> ir.Table:
    """``propensity_scores`` rows -> one row per profile with the ``COLUMNS``."""
    aggregates = {}
    for target in TARGETS:
        mine = scores.target == target
        aggregates[f"{target}_propensity"] = ibis.ifelse(
            mine, scores.propensity, ibis.null("float64")
        ).max()
        aggregates[f"{target}_decile"] = (
            ibis.ifelse(mine, scores.decile, ibis.null("int32")).max().cast("int32")
        )
    aggregates["propensity_reasons"] = json_object(
        scores, scores.target, scores.reasons.coalesce("[]"), scores.target
    )
    return scores.group_by("profile_id").aggregate(**aggregates)


def propensity_traits(wh: Warehouse) -> ir.Table:
    """The stored scores of every profile (the build's trait)."""
    return propensity_columns(wh.table("propensity_scores"))
