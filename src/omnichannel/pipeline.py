"""The pipeline stages after ingestion, run in order: linkage, identity, profiles.

``omni demo`` runs them after loading the business, and anyone can run the same
stages one by one (``omni linkage run``, ``omni identity resolve``, ``omni profiles
build``). Linkage goes first so that its links join records in the identity graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnichannel.config import Settings
from omnichannel.configuration import InstallationConfig
from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]


def run_pipeline(
    settings: Settings,
    wh: Warehouse,
    *,
    config: InstallationConfig | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Link, resolve and build profiles; returns the headline figures of each stage.

    Every stage runs under the installation's configuration (``config``, by default read
    from the home), so the profiles are built with the rules they were resolved with.
    """
    from omnichannel.identity.linkage import run_linkage  # Splink is slow to import
    from omnichannel.identity.linkage_config import load_config

    config = config or InstallationConfig.load(settings)
    linkage = run_linkage(
        warehouse=wh, config=load_config(config.linkage_config_path), progress=progress
    )
    identity = resolve(wh, rules=config.rules, full=True, progress=progress)
    profiles = build_profiles(wh, **config.build_options(), force=True, progress=progress)
    return {
        "probabilistic_links": linkage.links,
        "profiles": identity.profiles,
        "identity_merges": identity.merges,
        "identity_refusals": sum(identity.refusals.values()),
        "profiles_built": profiles.profiles,
        "profile_tags": profiles.tags,
    }
