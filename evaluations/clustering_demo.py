"""Customer clusters on the demo retailer, scored against the people it really generated.

Run: ``.venv/bin/python evaluations/clustering_demo.py [--people 1500] [--days 180]
[--seed 7]`` (or ``--home H`` for a home ``omni demo`` made: identities resolved, profiles
built, truth in H/truth).

Both algorithms are fitted over k = 2..8 as ``omni models train clusters`` fits them;
printed: the silhouette (k-means) and BIC (GMM) of every k, the chosen k, the personas,
and the agreement (adjusted Rand index, 0 = chance, 1 = the same partition) of the
customers' clusters with two truths of ``truth/people.parquet``:

- ``preferred_channel``: the channel the person mostly buys in (store, web, app, wechat,
  marketplace);
- ``value``: terciles of ``purchase_rate x spend_level`` (expected spend per day).

The baseline is the RFM grouping every profile already has (``rfm_segment``, the
11-segment map on R and F quintiles). A truth person is matched to the profile holding
most of their own (unshared) identifiers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from sklearn.metrics import adjusted_rand_score

from omnichannel.clustering.features import read_features
from omnichannel.clustering.fit import fit_clusters
from omnichannel.clustering.personas import describe
from omnichannel.demo.evaluation import evaluation_home
from omnichannel.demo.truth import profiles_of_people
from omnichannel.platform import Platform


def _truths(home: Path, profile_of: dict[str, str]) -> dict[str, dict[str, str]]:
    """profile -> {truth name -> value}, for profiles that one truth person maps to."""
    people = pq.read_table(
        home / "truth" / "people.parquet",
        columns=["person_id", "preferred_channel", "purchase_rate", "spend_level"],
    ).to_pylist()
    spend = np.asarray([p["purchase_rate"] * p["spend_level"] for p in people])
    cuts = np.quantile(spend, [1 / 3, 2 / 3])
    per_profile: dict[str, list[dict[str, str]]] = {}
    for person, value in zip(people, spend, strict=True):
        profile = profile_of.get(person["person_id"])
        if profile is None:
            continue
        tier = ("low", "middle", "high")[int(np.searchsorted(cuts, value))]
        per_profile.setdefault(profile, []).append(
            {"preferred_channel": person["preferred_channel"], "value": tier}
        )
    return {p: found[0] for p, found in per_profile.items() if len(found) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="A home omni demo made (else one is generated).")
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home
        if home is None:
            home = Path(scratch) / "home"
            started = time.perf_counter()
            evaluation_home(
                home, people=args.people, days=args.days, seed=args.seed, build_profiles=True
            )
            console.print(
                f"demo generated, resolved and built in {time.perf_counter() - started:.0f} s"
            )
        with Platform.open(home) as platform:
            profile_of = profiles_of_people(platform, home / "truth")
            with platform.warehouse.reader() as wh:
                features = read_features(wh)
                p = wh.table("profiles")
                rows = p.select("profile_id", "rfm_segment").to_pyarrow().to_pylist()
                rfm = {r["profile_id"]: r["rfm_segment"] for r in rows}
        truths = _truths(home, profile_of)
        _report(console, features, truths, rfm)
    console.print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _report(
    console: Console, features: Any, truths: dict[str, dict[str, str]], rfm: dict[str, str]
) -> None:
    scored: dict[str, Any] = {}
    for algorithm in ("kmeans", "gmm"):
        started = time.perf_counter()
        model = fit_clusters(features, algorithm)
        seconds = time.perf_counter() - started
        model.personas = describe(model, features)
        scored[algorithm] = model
        table = Table(title=f"{algorithm}: every k ({seconds:.1f} s for all)")
        table.add_column("k", justify="right")
        table.add_column("silhouette", justify="right")
        table.add_column("BIC", justify="right")
        for s in model.scores:
            mark = " <- chosen" if s["k"] == model.k else ""
            bic = f"{s['bic']:.1f}" if "bic" in s else ""
            table.add_row(str(s["k"]), f"{s['silhouette']:.4f}", bic + mark if bic else mark)
        console.print(table)
        for persona in model.personas:
            console.print(
                f"  {persona['cluster']}: {persona['size']} ({persona['share']:.1%}) "
                f"{persona['description']}"
            )
    customers = [
        pid
        for pid, orders in zip(features.profile_ids, features.column("orders"), strict=True)
        if orders > 0 and pid in truths
    ]
    table = Table(title=f"agreement with the demo's truth (ARI, {len(customers)} customers)")
    table.add_column("grouping")
    table.add_column("groups", justify="right")
    for truth in ("preferred_channel", "value"):
        table.add_column(truth, justify="right")
    groupings = {
        "baseline: rfm_segment": [rfm.get(p) or "" for p in customers],
        **{
            f"{name} (k={model.k})": [str(model.label_of(p)) for p in customers]
            for name, model in scored.items()
        },
    }
    for name, labels in groupings.items():
        row = [name, str(len(set(labels)))]
        for truth in ("preferred_channel", "value"):
            expected = [truths[p][truth] for p in customers]
            row.append(f"{adjusted_rand_score(expected, labels):.3f}")
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
