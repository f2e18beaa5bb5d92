"""Unified identity (C3): the deterministic identity graph and its rules.

Example::

    from omnichannel.identity import resolve, explain
    with open_warehouse(url) as wh:
        report = resolve(wh)                  # incremental after the first run
        story = explain(wh, "email", "ann@example.cn")
"""

from __future__ import annotations

from omnichannel.identity.explain import explain, parse_identifier
from omnichannel.identity.resolve import ResolveReport, resolve
from omnichannel.identity.rules import IdentityRules, TypeRule, load_rules

__all__ = [
    "IdentityRules",
    "ResolveReport",
    "TypeRule",
    "explain",
    "load_rules",
    "parse_identifier",
    "resolve",
]
