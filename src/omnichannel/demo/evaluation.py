"""A demo home for the model evaluations: generated, identities resolved, profiles built.

Every script in ``evaluations/`` that scores a model on the demo business starts from
the same thing: a fresh home holding the demo's warehouse and its ``truth/`` files,
with identities resolved (and, for models that read profile columns, profiles built).
One function, so the scripts' homes cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.platform import Platform
from omnichannel.warehouse.store import open_warehouse


def evaluation_home(
    home: Path, *, people: int, days: int, seed: int, build_profiles: bool = False
) -> DemoConfig:
    """Generate the demo business into ``home`` (a new folder) and resolve identities;
    ``build_profiles`` also builds the profiles. Returns the demo's configuration."""
    config = DemoConfig(seed=seed, people=people, days=days)
    home.mkdir(parents=True, exist_ok=True)
    with open_warehouse(f"duckdb:///{home / 'omni.duckdb'}") as wh:
        run_demo(warehouse=wh, truth_dir=home / "truth", config=config)
    with Platform.open(home) as platform:
        platform.identity.resolve()
        if build_profiles:
            platform.profiles.build()
    return config
