"""Multi-touch attribution (C11): which channels get the credit for conversions.

``paths`` turns touches into paths (from the warehouse, or a CSV of path counts);
``heuristics``, ``markov`` and ``shapley`` share one input (``PathSet``) and one output
(``Credit``); ``service`` is the library face the CLI and the API call.
"""

from __future__ import annotations

MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
)
