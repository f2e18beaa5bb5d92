"""The pipeline stages after ingestion, run in order: linkage, identity, profiles.

``omni demo`` runs them after loading the business, and anyone can run the same
stages one by one (``omni linkage run``, ``omni identity resolve``, ``omni profiles
build``). Linkage goes first so that its links join records in the identity graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnichannel.config import Settings
from omnichannel.identity import load_rules, resolve
from omnichannel.identity.rules import RULES_FILE_NAME
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.tags import TAGS_FILE_NAME, load_tags
from omnichannel.profiles.traits.consent import read_consents
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]


def run_pipeline(
    settings: Settings, wh: Warehouse, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Link, resolve and build profiles; returns the headline figures of each stage."""
    from omnichannel.identity.linkage import run_linkage  # Splink is slow to import

    linkage = run_linkage(warehouse=wh, progress=progress)
    identity = resolve(
        wh, rules=load_rules(settings.home_file(RULES_FILE_NAME)), full=True, progress=progress
    )
    profiles = build_profiles(
        wh,
        tags=load_tags(settings.home_file(TAGS_FILE_NAME)),
        consents=read_consents(settings.resolved_opstore_url),
        force=True,
        progress=progress,
    )
    return {
        "probabilistic_links": linkage.links,
        "profiles": identity.profiles,
        "identity_merges": identity.merges,
        "identity_refusals": sum(identity.refusals.values()),
        "profiles_built": profiles.profiles,
        "profile_tags": profiles.tags,
    }
