"""Identity rules: priority and limit per identifier type, blocked values, source types.

The semantics follow Segment's identity resolution settings: every identifier type has a
*priority* (1 is the most trusted) and a *limit* (how many values of that type one profile
may hold). A merge that would exceed a limit is refused, and what is refused is the
lowest-priority identifier that caused it. *Blocked* values (placeholders, test accounts,
shared store devices) never link anything.

Example::

    rules = load_rules()                      # the shipped defaults
    rules = load_rules(Path("my-rules.yaml")) # the defaults, overridden key by key
    rules.rule("user_id").limit               # 1
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from omnichannel.errors import ValidationError
from omnichannel.textfiles import read_utf8

ANY_TYPE = "*"
RULES_FILE_NAME = "identity-rules.yaml"


@dataclass(frozen=True)
class TypeRule:
    """How far one identifier type is trusted."""

    id_type: str
    priority: int
    limit: int | None  # None: no limit

    def as_dict(self) -> dict[str, Any]:
        return {"id_type": self.id_type, "priority": self.priority, "limit": self.limit}


@dataclass(frozen=True)
class IdentityRules:
    """The effective rules of one resolution run."""

    types: dict[str, TypeRule]
    default: TypeRule
    blocked_values: dict[str, frozenset[str]] = field(default_factory=dict)
    blocked_patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_id_types: dict[str, dict[str, str]] = field(default_factory=dict)
    event_types: tuple[str, ...] = ("identify", "alias")
    origin: str = "defaults"
    # record_links at or above this match probability join records (None: links ignored).
    linkage_min_probability: float | None = None
    # Types whose limit a probabilistic link may go past: a person's duplicate CRM contact
    # or second loyalty card is what linkage exists to find, so their limit (which guards
    # against a shared phone joining relatives' cards) must not refuse the link.
    linkage_exempt_limits: frozenset[str] = frozenset()

    def rule(self, id_type: str) -> TypeRule:
        found = self.types.get(id_type)
        if found is not None:
            return found
        return TypeRule(id_type, self.default.priority, self.default.limit)

    def ordered(self) -> list[TypeRule]:
        """Types from the most trusted to the least."""
        return sorted(self.types.values(), key=lambda r: (r.priority, r.id_type))

    def limited(self) -> list[TypeRule]:
        return [r for r in self.ordered() if r.limit is not None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "identifiers": [r.as_dict() for r in self.ordered()],
            "default": {"priority": self.default.priority, "limit": self.default.limit},
            "blocked_values": {k: sorted(v) for k, v in sorted(self.blocked_values.items())},
            "blocked_patterns": {k: list(v) for k, v in sorted(self.blocked_patterns.items())},
            "source_id_types": self.source_id_types,
            "event_types": list(self.event_types),
            "linkage": {
                "min_probability": self.linkage_min_probability,
                "exempt_limits": sorted(self.linkage_exempt_limits),
            },
        }

    def with_no_limits(self) -> IdentityRules:
        """Plain connected components: every identifier links, nothing is blocked."""
        return IdentityRules(
            types={k: TypeRule(k, r.priority, None) for k, r in self.types.items()},
            default=TypeRule(self.default.id_type, self.default.priority, None),
            source_id_types=self.source_id_types,
            event_types=self.event_types,
            origin=f"{self.origin}, without limits or blocked values",
            linkage_min_probability=self.linkage_min_probability,
            linkage_exempt_limits=self.linkage_exempt_limits,
        )


def default_rules_text() -> str:
    return resources.files("omnichannel.identity").joinpath("default_rules.yaml").read_text()


def load_rules(path: Path | None = None) -> IdentityRules:
    """The shipped defaults, with the top-level keys of ``path`` (if given) replacing theirs.

    Within ``identifiers`` a file may name only the types it changes; the other types keep
    their defaults. ``linkage`` is merged the same way (``linkage: {min_probability: 0.9}``
    keeps the default ``exempt_limits``); ``linkage: null`` switches links off.
    """
    raw = _yaml(default_rules_text(), "default identity rules")
    origin = "defaults"
    if path is not None:
        if not path.exists():
            raise ValidationError("rules file", str(path), "an existing YAML file")
        try:
            text = read_utf8(path)
        except OSError as exc:
            accepted = f"a readable YAML file ({exc.strerror or exc})"
            raise ValidationError("rules file", str(path), accepted) from None
        override = _yaml(text, str(path))
        identifiers = dict(raw.get("identifiers", {}))
        identifiers.update(override.pop("identifiers", None) or {})
        linkage = override.get("linkage")
        if isinstance(linkage, dict) and isinstance(raw.get("linkage"), dict):
            override["linkage"] = {**raw["linkage"], **linkage}
        raw.update(override)
        raw["identifiers"] = identifiers
        origin = f"defaults + {path}"
    return parse_rules(raw, origin=origin)


def parse_rules(raw: dict[str, Any], *, origin: str = "given") -> IdentityRules:
    """Rules from their YAML form; every mistake names the key and what is accepted."""
    known = {
        "identifiers",
        "default",
        "blocked_values",
        "blocked_patterns",
        "source_id_types",
        "event_types",
        "linkage",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(
            "identity rules key", unknown[0], f"one of {', '.join(sorted(known))}"
        )
    types = {
        str(name): _type_rule(str(name), spec)
        for name, spec in (raw.get("identifiers") or {}).items()
    }
    default = _type_rule("default", raw.get("default") or {"priority": 50, "limit": None})
    blocked = {
        str(t): frozenset(str(v).strip().lower() for v in (values or []))
        for t, values in (raw.get("blocked_values") or {}).items()
    }
    patterns: dict[str, tuple[str, ...]] = {}
    for id_type, values in (raw.get("blocked_patterns") or {}).items():
        for pattern in values or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError(
                    f"blocked_patterns.{id_type}", pattern, f"a regular expression ({exc})"
                ) from None
        patterns[str(id_type)] = tuple(str(p) for p in values or [])
    sources = {
        str(s): {str(k): str(v) for k, v in (m or {}).items()}
        for s, m in (raw.get("source_id_types") or {}).items()
    }
    events = tuple(str(e) for e in raw.get("event_types") or ())
    min_probability, exempt = _linkage(raw.get("linkage"), types)
    return IdentityRules(
        types,
        default,
        blocked,
        patterns,
        sources,
        events,
        origin,
        linkage_min_probability=min_probability,
        linkage_exempt_limits=exempt,
    )


def _linkage(spec: object, types: dict[str, TypeRule]) -> tuple[float | None, frozenset[str]]:
    """``linkage: {min_probability: 0.8, exempt_limits: [crm_id, loyalty_card]}``.

    A null ``min_probability`` (or no ``linkage`` key) ignores probabilistic links.
    """
    if spec is None:
        return None, frozenset()
    if not isinstance(spec, dict) or set(spec) - {"min_probability", "exempt_limits"}:
        raise ValidationError(
            "linkage", spec, "a mapping with min_probability (0-1 or null) and exempt_limits"
        )
    exempt = _exempt_limits(spec.get("exempt_limits"), types)
    value = spec.get("min_probability")
    if value is None:
        return None, exempt
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError("linkage.min_probability", value, "a number from 0 to 1, or null")
    return float(value), exempt


def _exempt_limits(value: object, types: dict[str, TypeRule]) -> frozenset[str]:
    """The identifier types (named under ``identifiers``) whose limit links may pass."""
    if value is None:
        return frozenset()
    limited = sorted(name for name, rule in types.items() if rule.limit is not None)
    accepted = f"a list of identifier types with a limit: {', '.join(limited)}"
    if not isinstance(value, list):
        raise ValidationError("linkage.exempt_limits", value, accepted)
    for name in value:
        if name not in limited:
            raise ValidationError("linkage.exempt_limits", name, accepted)
    return frozenset(str(name) for name in value)


def _type_rule(name: str, spec: object) -> TypeRule:
    if not isinstance(spec, dict):
        raise ValidationError(f"identifiers.{name}", spec, "a mapping with priority and limit")
    priority = spec.get("priority")
    limit = spec.get("limit")
    if not isinstance(priority, int) or priority < 1:
        raise ValidationError(f"identifiers.{name}.priority", priority, "an integer >= 1")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"identifiers.{name}.limit", limit, "an integer >= 1 or null")
    return TypeRule(name, priority, limit)


def _yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(where, "YAML", f"valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValidationError(where, type(data).__name__, "a YAML mapping of rule keys")
    return data
