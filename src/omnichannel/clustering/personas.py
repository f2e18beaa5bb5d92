"""A cluster in words: its distinguishing features, with numbers, and a name.

A feature distinguishes a cluster by its **standardised difference** from the
population (the customers clustered): the cluster's mean minus everyone's, in standard
deviations, on the scale the clusters were fitted on (log for counts, days and money).
The three largest (at least ``MIN_DIFFERENCE`` apart) are said in words with the
natural numbers behind them ("3.1x the average order value (820 against 265)", "92 % of
orders in store (average 35 %)", "last order 12 days ago (median; everyone: 60)"), and
the first two make the name ("Store-loyal big spenders"). Prospects (cluster 0, no
order) are described on what they do have: visits, tenure, interests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from omnichannel.clustering.features import (
    CATEGORY_PREFIX,
    CHANNEL_PREFIX,
    CONTENT_PREFIX,
    Features,
    Scaling,
)
from omnichannel.clustering.fit import PROSPECTS, ClusterModel, customers

MIN_DIFFERENCE = 0.25
CHANNEL_NAMES = {"wechat": "WeChat", "web": "Web", "app": "App", "marketplace": "Marketplace"}
TOP = 3
ORDER_FEATURES = ("days_since_last_order", "orders", "revenue", "average_order_value")
# feature -> ((adjective, noun) when above the population, (adjective, noun) when below)
WORDS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "days_since_last_order": (("Lapsed", "lapsed customers"), ("Recent", "recent buyers")),
    "orders": (("Frequent", "frequent buyers"), ("Occasional", "one-off buyers")),
    "revenue": (("High-value", "big spenders"), ("Low-spend", "small spenders")),
    "average_order_value": (("Big-basket", "big spenders"), ("Small-basket", "bargain buyers")),
    "tenure_days": (("Long-standing", "long-time customers"), ("New", "newcomers")),
    "events": (("Engaged", "active browsers"), ("Quiet", "quiet customers")),
}


def describe(model: ClusterModel, features: Features) -> list[dict[str, Any]]:
    """One persona per cluster id (prospects first when there are any), by id."""
    labels = model.labels
    buyers = customers(features.values, features.columns)
    population = features.values[buyers]
    logged = model.scaling.logged(population)
    z_all = _z(model.scaling, logged)
    total = len(labels)
    personas = []
    for cluster in sorted({int(c) for c in labels}):
        members = labels == cluster
        values = features.values[members]
        z = _z(model.scaling, model.scaling.logged(values)).mean(axis=0) - z_all.mean(axis=0)
        prospect = cluster == PROSPECTS
        chosen = _distinguishing(features.columns, z, prospect)
        said = [
            _said(name, values, population, features.columns, float(z[j])) for j, name in chosen
        ]
        name = _name(chosen, z, prospect)
        personas.append(
            {
                "cluster": cluster,
                "name": name,
                "size": int(members.sum()),
                "share": round(float(members.sum()) / total, 4) if total else 0.0,
                "prospects": prospect,
                "description": _sentence(name, said, prospect),
                "features": said,
                "means": {
                    c: round(float(values[:, j].mean()), 4) if len(values) else 0.0
                    for j, c in enumerate(features.columns)
                },
            }
        )
    _unique_names(personas)
    return personas


def _z(scaling: Scaling, logged: np.ndarray) -> np.ndarray:
    return (logged - scaling.mean) / scaling.std


def _distinguishing(columns: list[str], z: np.ndarray, prospect: bool) -> list[tuple[int, str]]:
    order = np.argsort(-np.abs(z), kind="stable")
    chosen: list[tuple[int, str]] = []
    for j in order:
        name = columns[j]
        skipped = prospect and (name in ORDER_FEATURES or name.startswith(CHANNEL_PREFIX))
        if skipped or abs(z[j]) < MIN_DIFFERENCE:
            continue
        if ":" in name and z[j] < 0:
            continue  # "buys less in store" says less than where they do buy
        chosen.append((int(j), name))
        if len(chosen) == TOP:
            break
    return chosen


def _label(name: str) -> str:
    if name.startswith(CHANNEL_PREFIX):
        channel = name[len(CHANNEL_PREFIX) :]
        return "in store" if channel == "store" else f"on {channel}"
    return name.split(":", 1)[-1].replace("_", " ")


def _said(
    name: str, values: np.ndarray, population: np.ndarray, columns: list[str], z: float
) -> dict[str, Any]:
    j = columns.index(name)
    mine = values[:, j]
    everyone = population[:, j]
    mean, base = float(mine.mean()), float(everyone.mean()) if len(everyone) else 0.0
    ratio = mean / base if base else None
    entry: dict[str, Any] = {
        "feature": name,
        "difference": round(z, 2),
        "value": round(mean, 4),
        "population": round(base, 4),
        "ratio": round(ratio, 2) if ratio is not None else None,
    }
    label = _label(name)
    times = f"{ratio:.1f}x " if ratio is not None else ""
    if name == "days_since_last_order":
        m, b = float(np.median(mine)), float(np.median(everyone))
        entry.update(value=m, population=b, ratio=round(m / b, 2) if b else None)
        text = f"last order {m:.0f} days ago (median; all customers: {b:.0f})"
    elif name == "orders":
        text = f"{mean:.1f} orders each ({times}the average {base:.1f})"
    elif name == "revenue":
        text = f"spent {mean:,.0f} each ({times}the average {base:,.0f})"
    elif name == "average_order_value":
        text = f"{times}the average order value ({mean:,.0f} against {base:,.0f})"
    elif name == "tenure_days":
        text = f"known for {mean:.0f} days (average {base:.0f})"
    elif name == "events":
        text = f"{mean:.0f} events each ({times}the average {base:.0f})"
    elif name.startswith(CHANNEL_PREFIX):
        text = f"{mean:.0%} of orders {label} (average {base:.0%})"
    elif name.startswith(CATEGORY_PREFIX):
        text = f"{label} is {mean:.0%} of their interest (average {base:.0%})"
    elif name.startswith(CONTENT_PREFIX):
        text = f"{label}: {mean:.0%} of the content they view (average {base:.0%})"
    else:
        text = f"{label} {mean:.2f} (average {base:.2f})"
    entry["text"] = text.replace("  ", " ")
    return entry


def _words(name: str, above: bool) -> tuple[str, str]:
    if name in WORDS:
        high, low = WORDS[name]
        return high if above else low
    label = _label(name)
    if name.startswith(CHANNEL_PREFIX):
        if label == "in store":
            return "Store-loyal", "store shoppers"
        channel = label.removeprefix("on ")
        shown = CHANNEL_NAMES.get(channel, channel.capitalize())
        return f"{shown}-first", f"{shown} shoppers"
    if name.startswith(CATEGORY_PREFIX):
        return f"{label.capitalize()}-loving", f"{label} fans"
    return f"{label.capitalize()}-minded", f"{label} readers"


def _name(chosen: list[tuple[int, str]], z: np.ndarray, prospect: bool) -> str:
    words = [_words(name, bool(z[j] > 0)) for j, name in chosen[:2]]
    if prospect:
        return f"{words[0][0]} prospects" if words else "Prospects"
    if not words:
        return "Typical customers"
    if len(words) == 1:
        return words[0][1].capitalize()
    return f"{words[0][0]} {words[1][1]}"


def _sentence(name: str, said: list[dict[str, Any]], prospect: bool) -> str:
    parts = [s["text"] for s in said]
    if prospect:
        parts.insert(0, "no order yet")
    return f"{name}: " + ", ".join(parts) if parts else name


def _unique_names(personas: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for p in personas:
        seen[p["name"]] = seen.get(p["name"], 0) + 1
    for p in personas:
        if seen[p["name"]] > 1:
            p["name"] = f"{p['name']} ({p['cluster']})"
            p["description"] = p["name"] + p["description"][p["description"].index(":") :]
