"""The jobs every installation has; later capabilities add theirs here.

- ``profiles``: incremental identity resolution, then a profile build (skipped when
  nothing changed), so new events and records reach profiles without anyone running
  ``omni identity resolve`` and ``omni profiles build`` by hand.
- ``linkage``: probabilistic record linkage (Splink); on demand by default, since it
  retrains its model and the graph only needs it when customer records change a lot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from omnichannel.jobs.registry import Job, JobOutcome, JobRegistry, Progress

if TYPE_CHECKING:
    from omnichannel.platform import Platform

PROFILES_EVERY = timedelta(minutes=15)


def refresh_profiles(platform: Platform, progress: Progress) -> JobOutcome:
    identity = platform.identity.resolve(progress=progress)
    built = platform.profiles.build(progress=progress)
    return JobOutcome(
        rows=built.profiles,
        detail={
            "identity_mode": identity.mode,
            "new_observations": identity.new_observations,
            "profiles": identity.profiles,
            "merges": identity.merges,
            "build": built.status,
        },
    )


def run_linkage(platform: Platform, progress: Progress) -> JobOutcome:
    from omnichannel.identity.linkage import run_linkage as link
    from omnichannel.identity.linkage_config import load_config

    config = load_config(platform.config.linkage_config_path)
    with platform.warehouse.reader() as wh:
        report = link(warehouse=wh, config=config, progress=progress)
    return JobOutcome(rows=report.links, detail={"links": report.links})


def builtin_jobs() -> JobRegistry:
    registry = JobRegistry()
    registry.register(
        Job(
            "profiles",
            "Resolve new identities, then rebuild profiles if anything changed.",
            refresh_profiles,
            every=PROFILES_EVERY,
        )
    )
    registry.register(
        Job("linkage", "Probabilistic record linkage of customer records (Splink).", run_linkage)
    )
    return registry
