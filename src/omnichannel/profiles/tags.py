"""Rule tags: named conditions on profile traits, declared in YAML, applied in the build.

The format is data, never code (nothing is ``eval``-ed)::

    tags:
      - name: high value
        description: top decile by predicted CLV or by revenue
        any:
          - {field: predicted_clv, op: top_percent, value: 10}
          - {field: revenue, op: top_percent, value: 10}
      - name: lapsing
        all:
          - {field: p_alive, op: "<", value: 0.5}
          - {field: orders, op: ">=", value: 2}

A tag has a ``name`` and exactly one of ``all`` / ``any`` (a list of conditions); a
condition is a leaf ``{field, op, value}`` or a nested ``{all: [...]}``, ``{any: [...]}``
or ``{not: condition}``. A comparison with an empty trait is false. The shipped tags are
``profiles/default_tags.yaml``; ``HOME/tags.yaml`` or ``--tags FILE`` replaces them.

Tags are also set on a person by identify calls whose traits say ``journey_add_tags`` /
``journey_remove_tags`` (a list of names: what journeys' ``update`` steps send).
``called_tags`` replays those calls in time order (the latest add or remove of a name
wins) and ``tag_column`` puts the tags still set beside the rule tags, so segments (``tag:
X``) and the Profile API see them after the next build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import yaml

from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.textfiles import read_utf8
from omnichannel.warehouse.tables import PROFILES

TAGS_FILE_NAME = "tags.yaml"
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS = (*COMPARISONS, "in", "not in", "is null", "is not null", "contains", "top_percent")
NO_VALUE = ("is null", "is not null")
# Traits holding JSON arrays: ``contains`` tests membership of an element.
LIST_FIELDS = ("source_systems", "channels")
NOT_TAGGABLE = ("tags", "built_at")
# Identify traits that set and unset tags (journeys' update steps send them).
ADD_TRAIT, REMOVE_TRAIT = "journey_add_tags", "journey_remove_tags"
FIELDS: dict[str, dt.DataType] = {
    name: dtype for name, dtype in PROFILES.schema.items() if name not in NOT_TAGGABLE
}


@dataclass(frozen=True)
class Condition:
    """A leaf ``field op value`` or a group (``all``/``any``/``not`` of children)."""

    kind: str  # "leaf", "all", "any", "not"
    field: str = ""
    op: str = ""
    value: Any = None
    children: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Tag:
    name: str
    description: str
    condition: Condition


@dataclass(frozen=True)
class TagSet:
    tags: tuple[Tag, ...]
    origin: str
    text: str  # the source, hashed into the build's fingerprint

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "tags": [t.name for t in self.tags]}


def default_tags_text() -> str:
    return resources.files("omnichannel.profiles").joinpath("default_tags.yaml").read_text()


def load_tags(path: Path | None = None) -> TagSet:
    """The tags of ``path``, or the shipped defaults when it is None."""
    if path is None:
        return parse_tags(default_tags_text(), origin="defaults")
    try:
        text = read_utf8(path)
    except OSError as exc:
        accepted = f"a readable YAML file ({exc.strerror or exc})"
        raise ValidationError("--tags", str(path), accepted) from None
    return parse_tags(text, origin=str(path))


def parse_tags(text: str, *, origin: str = "given") -> TagSet:
    """Parse and check a tags document; every mistake names its place, value and options."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(origin, "(not YAML)", f"a YAML document ({exc})") from None
    if not isinstance(raw, dict) or set(raw) != {"tags"} or not isinstance(raw["tags"], list):
        raise ValidationError(origin, _short(raw), "a mapping with one key, tags: a list of tags")
    tags: list[Tag] = []
    for i, item in enumerate(raw["tags"]):
        tags.append(_tag(item, f"tags[{i}]"))
    names = [t.name for t in tags]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ValidationError("tags.name", duplicate, "a name used by only one tag")
    return TagSet(tuple(tags), origin, text)


def _tag(item: object, where: str) -> Tag:
    if not isinstance(item, dict):
        raise ValidationError(where, _short(item), "a mapping with name and all or any")
    unknown = sorted(set(item) - {"name", "description", "all", "any"})
    if unknown:
        raise ValidationError(
            f"{where}.{unknown[0]}", item[unknown[0]], "name, description, all, any"
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or '"' in name:
        raise ValidationError(f"{where}.name", name, 'a name of 1-64 characters without "')
    groups = [k for k in ("all", "any") if k in item]
    if len(groups) != 1:
        raise ValidationError(where, name, "exactly one of all or any (a list of conditions)")
    condition = _group(groups[0], item[groups[0]], f"{where}.{groups[0]}")
    return Tag(name.strip(), str(item.get("description") or ""), condition)


def _group(kind: str, items: object, where: str) -> Condition:
    if not isinstance(items, list) or not items:
        raise ValidationError(where, _short(items), "a non-empty list of conditions")
    return Condition(
        kind, children=tuple(_condition(c, f"{where}[{i}]") for i, c in enumerate(items))
    )


def _condition(item: object, where: str) -> Condition:
    if not isinstance(item, dict):
        raise ValidationError(where, _short(item), "a mapping: {field, op, value} or all/any/not")
    if set(item) in ({"all"}, {"any"}):
        (kind,) = item
        return _group(kind, item[kind], f"{where}.{kind}")
    if set(item) == {"not"}:
        return Condition("not", children=(_condition(item["not"], f"{where}.not"),))
    unknown = sorted(set(item) - {"field", "op", "value"})
    if unknown:
        raise ValidationError(f"{where}.{unknown[0]}", item[unknown[0]], "field, op, value")
    field = item.get("field")
    if field not in FIELDS:
        raise ValidationError(f"{where}.field", field, f"a profile trait: {', '.join(FIELDS)}")
    op = item.get("op")
    if op not in OPERATORS:
        raise ValidationError(f"{where}.op", op, f"one of {', '.join(OPERATORS)}")
    value = item.get("value")
    _check_value(where, str(field), str(op), value, "value" in item)
    return Condition("leaf", field=str(field), op=str(op), value=value)


def _check_value(where: str, field: str, op: str, value: object, given: bool) -> None:
    dtype = FIELDS[field]
    place = f"{where}.value"
    if op in NO_VALUE:
        if given:
            raise ValidationError(place, value, f"no value with op {op!r}")
        return
    if op == "top_percent":
        if not dtype.is_numeric():
            raise ValidationError(
                f"{where}.op", op, f"an op for text field {field}: =, !=, in, contains"
            )
        if not _is_number(value) or not 0 < float(value) <= 100:  # type: ignore[arg-type]
            raise ValidationError(place, value, "a percentage above 0 and at most 100")
        return
    if op == "contains":
        if not dtype.is_string() or not isinstance(value, str):
            raise ValidationError(place, value, f"text, and a text field (not {field})")
        return
    if op in ("in", "not in") and (not isinstance(value, list) or not value):
        raise ValidationError(place, value, f"a non-empty list with op {op!r}")
    values: list[object] = value if isinstance(value, list) else [value]
    for v in values:
        _check_scalar(place, field, dtype, op, v)


def _check_scalar(place: str, field: str, dtype: dt.DataType, op: str, value: object) -> None:
    if dtype.is_numeric():
        if not _is_number(value):
            raise ValidationError(place, value, f"a number ({field} is numeric)")
    elif dtype.is_timestamp():
        if not isinstance(value, datetime) and not _is_iso(value):
            raise ValidationError(place, value, f"an ISO 8601 date or time ({field} is a time)")
    else:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(place, value, f"text ({field} is text)")
        if op in ("<", "<=", ">", ">="):
            raise ValidationError(
                place.rsplit(".", 1)[0] + ".op", op, "=, !=, in, not in, contains"
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_iso(value: object) -> bool:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _short(value: object) -> object:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def called_tags(wh: Any, rules: IdentityRules) -> dict[str, list[str]]:
    """Tag name -> the profiles an identify call's ``journey_add_tags`` left it on (a
    later ``journey_remove_tags`` of the name takes it off again)."""
    from omnichannel.profiles.traits.base import events_beside_profiles

    e = events_beside_profiles(wh, rules)
    calls = e.filter((e.type == "identify") & e.traits.contains('"journey_'))
    rows = (
        calls.select(
            profile_id=calls.user_profile.coalesce(calls.anon_profile),
            ts=calls.timestamp.coalesce(calls.received_at),
            message_id=calls.message_id,
            traits=calls.traits,
        )
        .filter(lambda r: r.profile_id.notnull())
        .to_pyarrow()
        .to_pylist()
    )
    state: dict[tuple[str, str], bool] = {}
    for row in sorted(rows, key=lambda r: (r["ts"] is None, r["ts"], r["message_id"] or "")):
        try:
            traits = json.loads(row["traits"] or "{}")
        except ValueError:
            continue
        for trait, on in ((ADD_TRAIT, True), (REMOVE_TRAIT, False)):
            names = traits.get(trait) if isinstance(traits, dict) else None
            for name in names if isinstance(names, list) else []:
                if isinstance(name, str) and name:
                    state[(name, row["profile_id"])] = on
    out: dict[str, list[str]] = {}
    for (name, profile), on in sorted(state.items()):
        if on:
            out.setdefault(name, []).append(profile)
    return out


def tag_column(
    t: ir.Table, tags: TagSet, called: Mapping[str, Sequence[str]] | None = None
) -> ir.StringValue:
    """The JSON array of the tags whose condition holds on each row of ``t``, then the
    tags ``called`` (``called_tags``) set on its profile."""
    called = called or {}
    if not tags.tags and not called:
        return ibis.literal("[]")

    def holds(name: str, condition: ir.BooleanValue | None) -> ir.BooleanValue:
        ids = called.get(name)
        by_call = t.profile_id.isin(list(ids)) if ids else None
        if condition is None:
            assert by_call is not None
            return by_call
        return condition if by_call is None else condition | by_call

    ruled = {tag.name for tag in tags.tags}
    pieces = [
        ibis.ifelse(
            holds(tag.name, compile_condition(t, tag.condition)), f',"{_json_escape(tag.name)}"', ""
        )
        for tag in tags.tags
    ] + [
        ibis.ifelse(holds(name, None), f',"{_json_escape(name)}"', "")
        for name in sorted(called)
        if name not in ruled
    ]
    joined = ibis.literal("").join(pieces)
    # Every piece starts with a comma; dropping the first leaves a valid JSON list.
    return ibis.literal("[") + joined.substr(1) + "]"


def compile_condition(t: ir.Table, c: Condition) -> ir.BooleanValue:
    """An Ibis boolean, never NULL (an empty trait fails its comparison)."""
    if c.kind == "all":
        return ibis.and_(*(compile_condition(t, x) for x in c.children))
    if c.kind == "any":
        return ibis.or_(*(compile_condition(t, x) for x in c.children))
    if c.kind == "not":
        return ~compile_condition(t, c.children[0])
    return _leaf(t, c).coalesce(False)


def _leaf(t: ir.Table, c: Condition) -> ir.BooleanValue:
    col = t[c.field]
    op, value = c.op, c.value
    if op == "is null":
        return col.isnull()
    if op == "is not null":
        return col.notnull()
    if op == "top_percent":
        # Top p %: the share of valued rows at or above this one is at most p %, so a tie
        # straddling the cut is left out rather than let in whole.
        share = ibis.cume_dist().over(group_by=col.isnull(), order_by=ibis.desc(col))
        return col.notnull() & (share <= float(value) / 100)
    if op == "contains":
        needle = f'"{_json_escape(value)}"' if c.field in LIST_FIELDS else str(value)
        return col.contains(needle)
    literal = _literal(c.field, value)
    if op in ("in", "not in"):
        hit = col.isin([_literal(c.field, v) for v in value])
        return hit if op == "in" else ~hit
    return {
        "=": lambda: col == literal,
        "!=": lambda: col != literal,
        "<": lambda: col < literal,
        "<=": lambda: col <= literal,
        ">": lambda: col > literal,
        ">=": lambda: col >= literal,
    }[op]()


def _literal(field: str, value: Any) -> Any:
    dtype = FIELDS[field]
    if dtype.is_timestamp():
        return ibis.literal(datetime.fromisoformat(str(value))).cast("timestamp")
    if dtype.is_string():
        return str(value)
    return value


def _json_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
