"""The linkage model's YAML configuration: parsed, checked, and turned into Splink settings.

A config names the fields of ``customer_records`` to compare and how, the blocking rules
that choose which pairs are scored, how the model is trained, and the match threshold.
``linkage_default.yaml`` beside this module is the shipped default; ``docs/linkage.md``
describes every key. Every mistake is a ``ValidationError`` naming the key, the value and
what would be accepted, raised before any data is read.

Example::

    config = load_config(Path("my_linkage.yaml"))   # or load_config() for the default
    settings = splink_settings(config)              # a splink.SettingsCreator
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from splink import SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from omnichannel.errors import ConfigError, ValidationError
from omnichannel.textfiles import read_utf8
from omnichannel.warehouse.tables import CUSTOMER_RECORDS

DEFAULT_CONFIG = Path(__file__).with_name("linkage_default.yaml")

# Columns that identify a record or are bookkeeping; comparing them would be meaningless.
_NOT_COMPARABLE = {"source", "record_id", "created_at", "updated_at", "attributes"}
FIELDS: tuple[str, ...] = tuple(
    n for n in CUSTOMER_RECORDS.schema.names if n not in _NOT_COMPARABLE
)
DATE_FIELDS = frozenset(
    n
    for n in FIELDS
    if CUSTOMER_RECORDS.schema[n].is_date() or CUSTOMER_RECORDS.schema[n].is_timestamp()
)

SIMILARITY = ("jaro_winkler", "jaro", "jaccard")
DISTANCE = ("levenshtein", "damerau_levenshtein")
COMPARISONS = ("exact", *SIMILARITY, *DISTANCE, "date_of_birth", "postcode", "address")
NORMALISERS = ("name", "address", "postcode", "text", "date")
BACKENDS = ("duckdb", "spark")
# Splink's names: pairs within and across sources, or only pairs from two different sources.
LINK_TYPES = ("link_and_dedupe", "link_only")

# What a config gets for each key it leaves out. docs/linkage.md has the same table
# ("Defaults"), and tests/identity/test_linkage_config.py holds the two together.
# A day-month swap counts in the "one digit different" level rather than in a level of
# its own: random pairs almost never agree on a swapped date, so a level of its own
# keeps Splink's u sampling from stopping early (it draws every one of u_max_pairs).
DEFAULTS: dict[str, Any] = {
    "model": "splink-default",
    "threshold": 0.8,
    "backend": "duckdb",
    "link_type": "link_and_dedupe",
    "skip_shared_identifiers": True,
    "sources": {"*": "all"},
    "training.u_max_pairs": 2_000_000,
    "training.seed": 42,
    "training.prior_recall": 0.6,
    "comparisons.*.thresholds (similarity)": [0.92, 0.8],
    "comparisons.*.thresholds (distance)": [1, 2],
    "comparisons.*.term_frequency_adjustments": False,
    "comparisons.*.contains": False,
    "comparisons.*.swap_day_month": True,
    "comparisons.*.within_days": [31],
    "comparisons.*.one_edit": True,
    # All but the last two characters: 6-digit codes share their first 4, 5-digit ZIP
    # codes their first 3, 4-digit Australian ones their first 2; a fixed [4] would be
    # "same postcode" on the last, a level no pair reaches (so u sampling never stops).
    "comparisons.*.prefixes": [-2],
}

# Which normaliser a field gets when the config does not say.
_DEFAULT_NORMALISER = {
    "first_name": "name",
    "last_name": "name",
    "address": "address",
    "postcode": "postcode",
}
_BLOCK_ITEM = re.compile(r"^(?P<field>[a-z_]+)(\[:(?P<prefix>[1-9][0-9]*)\])?$")
_KEYS = {"model", "threshold", "backend", "link_type", "skip_shared_identifiers", "sources"}
_KEYS |= {"comparisons", "blocking", "training"}
_COMPARISON_KEYS = {
    "comparison",
    "thresholds",
    "term_frequency_adjustments",
    "normalise",
    "swap_day_month",
    "within_days",
    "prefixes",
    "one_edit",
    "postcode",
    "region",
    "contains",
}
_TRAINING_KEYS = {"u_max_pairs", "seed", "em_blocking", "prior_rules", "prior_recall"}


@dataclass(frozen=True)
class BlockItem:
    """One equality in a blocking rule: a field, or its first ``prefix`` characters."""

    field: str
    prefix: int | None = None

    def sql(self) -> str:
        return self.field if self.prefix is None else f"substr({self.field}, 1, {self.prefix})"

    def __str__(self) -> str:
        return self.field if self.prefix is None else f"{self.field}[:{self.prefix}]"


BlockRule = tuple[BlockItem, ...]


@dataclass(frozen=True)
class FieldComparison:
    """How one field of two records is compared: its levels, from most to least alike."""

    field: str
    comparison: str
    thresholds: tuple[float, ...] = ()
    term_frequency_adjustments: bool = False
    normalise: str = "text"
    swap_day_month: bool | str = True  # False, True (with one digit different), "separate"
    within_days: tuple[int, ...] = (31,)
    prefixes: tuple[int, ...] = (-2,)
    one_edit: bool = True
    postcode: str | None = None
    region: str | None = None
    contains: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        """The field, then the postcode and region folded into an address comparison."""
        return tuple(f for f in (self.field, self.postcode, self.region) if f is not None)


@dataclass(frozen=True)
class Training:
    """u by random sampling, m by EM over each ``em_blocking`` pass, the prior from rules."""

    u_max_pairs: float = 2e6
    seed: int = 42
    em_blocking: tuple[BlockRule, ...] = ()
    prior_rules: tuple[BlockRule, ...] = ()
    prior_recall: float = 0.6


@dataclass(frozen=True)
class LinkageConfig:
    """A whole linkage model definition (see ``linkage_default.yaml``)."""

    model: str
    threshold: float
    comparisons: tuple[FieldComparison, ...]
    blocking: tuple[BlockRule, ...]
    training: Training
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    backend: str = "duckdb"
    link_type: str = "link_and_dedupe"
    skip_shared_identifiers: bool = True
    origin: str = "default"

    @property
    def compared_fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.comparisons)

    @property
    def input_fields(self) -> tuple[str, ...]:
        """Every field the model reads: compared ones, then any used only for blocking."""
        rules = (*self.blocking, *self.training.em_blocking, *self.training.prior_rules)
        compared = [f for c in self.comparisons for f in c.fields]
        return tuple(dict.fromkeys((*compared, *(i.field for rule in rules for i in rule))))

    def normaliser(self, name: str) -> str:
        """How a field's values are cleaned before they are compared or blocked on."""
        if name in self.compared_fields:
            return self.comparison(name).normalise
        return default_normaliser(name)

    def comparison(self, name: str) -> FieldComparison:
        return next(c for c in self.comparisons if c.field == name)

    def with_threshold(self, threshold: float | None) -> LinkageConfig:
        if threshold is None:
            return self
        return replace(self, threshold=_probability("--threshold", threshold))


def load_config(path: Path | None = None) -> LinkageConfig:
    """Read and check a linkage YAML file (the shipped default when ``path`` is None)."""
    source = path or DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(read_utf8(source))
    except OSError as exc:
        raise ConfigError(f"cannot read linkage config {source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"linkage config {source} is not valid YAML: {exc}") from exc
    return parse_config(raw, origin=str(source) if path else "default")


def parse_config(raw: object, *, origin: str = "inline") -> LinkageConfig:
    """Check a config already read into Python objects; see ``load_config``."""
    doc = _mapping("linkage", raw)
    _known_keys("linkage", doc, _KEYS)
    comparisons = tuple(
        _comparison(name, spec)
        for name, spec in _mapping("comparisons", doc.get("comparisons")).items()
    )
    if not comparisons:
        raise ValidationError("comparisons", {}, "at least one field to compare")
    training_raw = _mapping("training", doc.get("training", {}))
    _known_keys("training", training_raw, _TRAINING_KEYS)
    compared = [c.field for c in comparisons]
    training = Training(
        u_max_pairs=_number(
            "training.u_max_pairs", _get(training_raw, "training.u_max_pairs"), 1e3
        ),
        seed=int(_number("training.seed", _get(training_raw, "training.seed"), 0)),
        em_blocking=_rules("training.em_blocking", training_raw.get("em_blocking", [])),
        prior_rules=_rules("training.prior_rules", training_raw.get("prior_rules", [compared[:3]])),
        prior_recall=_probability(
            "training.prior_recall", _get(training_raw, "training.prior_recall")
        ),
    )
    if not training.em_blocking:
        raise ValidationError("training.em_blocking", [], "at least one blocking rule for EM")
    backend = _get(doc, "backend")
    if backend not in BACKENDS:
        raise ValidationError("backend", backend, f"one of {', '.join(BACKENDS)}")
    link_type = _get(doc, "link_type")
    if link_type not in LINK_TYPES:
        raise ValidationError("link_type", link_type, f"one of {', '.join(LINK_TYPES)}")
    model = _get(doc, "model")
    if not isinstance(model, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", model):
        raise ValidationError("model", model, "a name of letters, digits, '_', '.' or '-'")
    blocking = _rules("blocking", doc.get("blocking"))
    if not blocking:
        raise ValidationError("blocking", [], "at least one blocking rule for predictions")
    return LinkageConfig(
        model=model,
        threshold=_probability("threshold", _get(doc, "threshold")),
        comparisons=comparisons,
        blocking=blocking,
        training=training,
        sources=_sources(_get(doc, "sources"), tuple(compared)),
        backend=backend,
        link_type=link_type,
        skip_shared_identifiers=_flag(
            "skip_shared_identifiers", _get(doc, "skip_shared_identifiers")
        ),
        origin=origin,
    )


def _get(doc: dict[str, Any], key: str) -> Any:
    """The value of a dotted key in its section, or its documented default."""
    return doc.get(key.rsplit(".", 1)[-1], DEFAULTS[key])


def _flag(where: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValidationError(where, raw, "true or false")
    return raw


def _comparison(name: object, spec: object) -> FieldComparison:
    fname = _field("comparisons", name)
    where = f"comparisons.{fname}"
    spec = {"comparison": spec} if isinstance(spec, str) else _mapping(where, spec)
    _known_keys(where, spec, _COMPARISON_KEYS)
    kind = spec.get("comparison")
    if kind not in COMPARISONS:
        raise ValidationError(f"{where}.comparison", kind, f"one of {', '.join(COMPARISONS)}")
    if kind == "date_of_birth" and fname not in DATE_FIELDS:
        raise ValidationError(
            f"{where}.comparison", kind, f"a date field ({', '.join(DATE_FIELDS)})"
        )
    normalise = spec.get("normalise", default_normaliser(fname))
    if normalise not in NORMALISERS or (normalise == "date") != (fname in DATE_FIELDS):
        accepted = (
            "date" if fname in DATE_FIELDS else ", ".join(n for n in NORMALISERS if n != "date")
        )
        raise ValidationError(f"{where}.normalise", normalise, accepted)

    def flag(key: str) -> bool:
        return _flag(f"{where}.{key}", _get(spec, f"comparisons.*.{key}"))

    def whole_numbers(key: str) -> tuple[int, ...]:
        values = _list(f"{where}.{key}", _get(spec, f"comparisons.*.{key}"))
        return tuple(int(_number(f"{where}.{key}", v, 1)) for v in values)

    def prefixes() -> tuple[int, ...]:
        where_p = f"{where}.prefixes"
        values = _list(where_p, _get(spec, "comparisons.*.prefixes"))
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or v == 0:
                raise ValidationError(
                    where_p, v, "a whole number N > 0 (first N characters) or -N (all but last N)"
                )
        return tuple(values)

    return FieldComparison(
        field=fname,
        comparison=kind,
        thresholds=_thresholds(where, kind, spec.get("thresholds")),
        term_frequency_adjustments=flag("term_frequency_adjustments"),
        normalise=normalise,
        swap_day_month=_swap(f"{where}.swap_day_month", _get(spec, "comparisons.*.swap_day_month")),
        within_days=whole_numbers("within_days"),
        prefixes=prefixes(),
        one_edit=flag("one_edit"),
        postcode=_address_part(where, kind, "postcode", spec.get("postcode")),
        region=_address_part(where, kind, "region", spec.get("region")),
        contains=_contains(where, kind, flag("contains")),
    )


def _swap(where: str, raw: object) -> bool | str:
    if isinstance(raw, bool) or raw == "separate":
        return raw
    raise ValidationError(where, raw, "true, false or 'separate' (a level of its own)")


def default_normaliser(name: str) -> str:
    return "date" if name in DATE_FIELDS else _DEFAULT_NORMALISER.get(name, "text")


def _contains(where: str, kind: str, raw: bool) -> bool:
    if raw and kind not in SIMILARITY:
        raise ValidationError(f"{where}.contains", raw, f"false for a {kind} comparison")
    return raw


def _address_part(where: str, kind: str, key: str, raw: object) -> str | None:
    if raw is None:
        return None
    if kind != "address":
        raise ValidationError(
            f"{where}.{key}", raw, f"no {key} key except on an address comparison"
        )
    return _field(f"{where}.{key}", raw)


def _thresholds(where: str, kind: str, raw: object) -> tuple[float, ...]:
    if kind in (*SIMILARITY, "address"):
        values = [
            _probability(f"{where}.thresholds", v)
            for v in _list(f"{where}.thresholds", raw or DEFAULTS[f"{_THRESHOLDS}(similarity)"])
        ]
        if values != sorted(values, reverse=True):
            raise ValidationError(f"{where}.thresholds", values, "similarities from high to low")
        return tuple(values)
    if kind in DISTANCE:
        values = [
            _number(f"{where}.thresholds", v, 1)
            for v in _list(f"{where}.thresholds", raw or DEFAULTS[f"{_THRESHOLDS}(distance)"])
        ]
        if values != sorted(values):
            raise ValidationError(f"{where}.thresholds", values, "distances from low to high")
        return tuple(values)
    if raw is not None:
        raise ValidationError(f"{where}.thresholds", raw, f"no thresholds for a {kind} comparison")
    return ()


_THRESHOLDS = "comparisons.*.thresholds "


def _rules(where: str, raw: object) -> tuple[BlockRule, ...]:
    rules: list[BlockRule] = []
    for i, rule in enumerate(_list(where, raw)):
        items = [rule] if isinstance(rule, str) else _list(f"{where}[{i}]", rule)
        parsed = []
        for item in items:
            match = _BLOCK_ITEM.match(str(item))
            if match is None:
                raise ValidationError(
                    f"{where}[{i}]", item, "a field name, or field[:N] for its first N characters"
                )
            prefix = match["prefix"]
            parsed.append(
                BlockItem(_field(f"{where}[{i}]", match["field"]), int(prefix) if prefix else None)
            )
        if not parsed:
            raise ValidationError(f"{where}[{i}]", rule, "a list of one or more fields")
        rules.append(tuple(parsed))
    return tuple(rules)


def _sources(raw: object, compared: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    sources: dict[str, tuple[str, ...]] = {}
    for source, fields in _mapping("sources", raw).items():
        where = f"sources.{source}"
        if fields == "all":
            sources[str(source)] = compared
            continue
        chosen = tuple(_field(where, f) for f in _list(where, fields))
        unknown = [f for f in chosen if f not in compared]
        if unknown:
            raise ValidationError(
                where, unknown[0], f"'all' or compared fields: {', '.join(compared)}"
            )
        sources[str(source)] = chosen
    if not sources:
        raise ValidationError("sources", raw, "at least one source, or '*': all")
    return sources


def _field(where: str, name: object) -> str:
    if name not in FIELDS:
        raise ValidationError(where, name, f"a column of customer_records: {', '.join(FIELDS)}")
    return str(name)


def _mapping(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError(where, raw, "a mapping of keys to values")
    return raw


def _list(where: str, raw: object) -> list[Any]:
    if not isinstance(raw, list):
        raise ValidationError(where, raw, "a list")
    return raw


def _known_keys(where: str, doc: dict[str, Any], known: set[str]) -> None:
    for key in doc:
        if key not in known:
            raise ValidationError(where, key, f"keys {', '.join(sorted(known))}")


def _number(where: str, raw: object, minimum: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < minimum:
        raise ValidationError(where, raw, f"a number >= {minimum:g}")
    return float(raw)


def _probability(where: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < 1:
        raise ValidationError(where, raw, "a probability strictly between 0 and 1")
    return float(raw)


# --- Splink settings --------------------------------------------------------------------

SWAPPED_SUFFIX = "__swapped"


def splink_settings(
    config: LinkageConfig, *, probability_two_random_records_match: float | None = None
) -> SettingsCreator:
    """The Splink model for a config: one comparison per field, the blocking rules."""
    extra: dict[str, Any] = {}
    if probability_two_random_records_match is not None:
        extra["probability_two_random_records_match"] = probability_two_random_records_match
    if config.link_type == "link_only":
        # One input table; Splink keeps pairs whose source differs.
        extra["source_dataset_column_name"] = "source"
    return SettingsCreator(
        link_type="dedupe_only" if config.link_type == "link_and_dedupe" else "link_only",
        unique_id_column_name="unique_id",
        comparisons=[splink_comparison(c) for c in config.comparisons],
        blocking_rules_to_generate_predictions=[splink_rule(r) for r in config.blocking],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        # With link_only the source is part of Splink's unique id, retained already.
        additional_columns_to_retain=(
            ["record_id"] if config.link_type == "link_only" else ["source", "record_id"]
        ),
        **extra,
    )


def splink_rule(rule: BlockRule) -> BlockingRuleCreator:
    return block_on(*(item.sql() for item in rule))


def splink_comparison(comp: FieldComparison) -> ComparisonCreator:
    """Levels from most to least alike; labels short enough to read in an explanation."""
    name = comp.field
    levels: list[ComparisonLevelCreator] = [
        cll.NullLevel(name).configure(label_for_charts="missing"),
        cll.ExactMatchLevel(
            name, term_frequency_adjustments=comp.term_frequency_adjustments
        ).configure(label_for_charts="exact"),
    ]
    if comp.comparison in SIMILARITY:
        level_class = {
            "jaro_winkler": (cll.JaroWinklerLevel, "Jaro-Winkler"),
            "jaro": (cll.JaroLevel, "Jaro"),
            "jaccard": (cll.JaccardLevel, "Jaccard"),
        }[comp.comparison]
        for i, t in enumerate(comp.thresholds):
            levels.append(
                level_class[0](name, t).configure(label_for_charts=f"{level_class[1]} >= {t:g}")
            )
            if i == 0 and comp.contains:
                levels.append(_contains_level(name))
    elif comp.comparison in DISTANCE:
        level_class2 = {
            "levenshtein": (cll.LevenshteinLevel, "Levenshtein"),
            "damerau_levenshtein": (cll.DamerauLevenshteinLevel, "Damerau-Levenshtein"),
        }[comp.comparison]
        for t in comp.thresholds:
            levels.append(
                level_class2[0](name, int(t)).configure(
                    label_for_charts=f"{level_class2[1]} <= {t:g}"
                )
            )
    elif comp.comparison == "date_of_birth":
        levels += _date_levels(comp)
    elif comp.comparison == "postcode":
        levels += _postcode_levels(comp, comp.field)
    elif comp.comparison == "address":
        return _address_comparison(comp)
    levels.append(cll.ElseLevel().configure(label_for_charts="different"))
    return cl.CustomComparison(comparison_levels=list(levels), output_column_name=name)


def _contains_level(name: str) -> ComparisonLevelCreator:
    # Nicknames and diminutives keep the given name inside them (li / lili / xiaoli);
    # written for DuckDB, Splink translates it for other engines with sqlglot.
    return cll.CustomLevel(
        f"strpos({name}_l, {name}_r) > 0 OR strpos({name}_r, {name}_l) > 0",
        label_for_charts="one contains the other",
        base_dialect_str="duckdb",
    )


def _date_levels(comp: FieldComparison) -> list[ComparisonLevelCreator]:
    # Dates arrive as ISO text (normalised), so one mistyped digit is one edit.
    name = comp.field
    levels: list[ComparisonLevelCreator] = []
    one_digit: ComparisonLevelCreator = cll.LevenshteinLevel(name, 1)
    # The swapped form is symmetric: if l == swap(r) then r == swap(l).
    swapped = cll.CustomLevel(f"{name}_l = {name}{SWAPPED_SUFFIX}_r")
    if comp.swap_day_month == "separate":
        levels.append(swapped.configure(label_for_charts="day and month swapped"))
    elif comp.swap_day_month:
        # Folded into a level random pairs reach often, so u sampling still stops early.
        one_digit = cll.Or(one_digit, swapped)
    label = "one digit different" + (
        " or day and month swapped" if comp.swap_day_month is True else ""
    )
    levels.append(one_digit.configure(label_for_charts=label))
    for days in comp.within_days:
        # No datetime_format: each Splink dialect's default is the ISO date, written in
        # its own pattern language (DuckDB's %Y-%m-%d would not parse on Spark).
        levels.append(
            cll.AbsoluteDateDifferenceLevel(
                name, input_is_string=True, threshold=days, metric="day"
            ).configure(label_for_charts=f"within {days} days")
        )
    return levels


def _postcode_levels(comp: FieldComparison, name: str) -> list[ComparisonLevelCreator]:
    # Postcodes are compared as text: a mistyped digit, then shared leading characters
    # (district, city...), which works for numeric codes as well as UK-style ones.
    levels: list[ComparisonLevelCreator] = []
    if name == comp.postcode:
        levels.append(cll.ExactMatchLevel(name).configure(label_for_charts="same postcode"))
    if comp.one_edit:
        label = (
            "one character different" if name == comp.field else "postcode one character different"
        )
        levels.append(cll.LevenshteinLevel(name, 1).configure(label_for_charts=label))
    prefix = "" if name == comp.field else "postcode "
    for n in comp.prefixes:
        if n > 0:
            sql = f"substr({name}_l, 1, {n}) = substr({name}_r, 1, {n})"
            label = f"{prefix}first {n} characters equal"
        else:
            # Same length, longer than what is dropped, equal but for the last -n characters.
            sql = (
                f"length({name}_l) = length({name}_r) AND length({name}_l) > {-n} AND "
                f"substr({name}_l, 1, length({name}_l) - {-n}) = "
                f"substr({name}_r, 1, length({name}_r) - {-n})"
            )
            label = f"{prefix}all but the last {-n} characters equal"
        levels.append(cll.CustomLevel(sql, label_for_charts=label))
    return levels


def _address_comparison(comp: FieldComparison) -> ComparisonCreator:
    """Address and postcode as one comparison: both say where a person lives.

    Compared apart, a household's shared address and postcode would count twice (the
    independence Fellegi-Sunter assumes does not hold), outweighing different first
    names and birth dates. Here the postcode only speaks when the addresses cannot.
    """
    addr, post, region = comp.field, comp.postcode, comp.region
    if post is None and region is None:
        null: ComparisonLevelCreator = cll.NullLevel(addr)
    else:
        null = cll.CustomLevel(
            " AND ".join(f"({f}_l IS NULL OR {f}_r IS NULL)" for f in comp.fields),
            label_for_charts="missing",
        ).configure(is_null_level=True)
    levels: list[ComparisonLevelCreator] = [
        null,
        cll.ExactMatchLevel(addr).configure(label_for_charts="same address"),
    ]
    for t in comp.thresholds:
        jw: ComparisonLevelCreator = cll.JaroWinklerLevel(addr, t)
        if post is not None:
            jw = cll.And(jw, cll.ExactMatchLevel(post))
        label = f"address Jaro-Winkler >= {t:g}" + ("" if post is None else ", same postcode")
        levels.append(jw.configure(label_for_charts=label))
    if post is not None:
        levels += _postcode_levels(comp, post)
    if region is not None:
        # The weakest sign of living in the same place: same state or province.
        levels.append(cll.ExactMatchLevel(region).configure(label_for_charts="same region"))
    levels.append(cll.ElseLevel().configure(label_for_charts="different"))
    return cl.CustomComparison(comparison_levels=list(levels), output_column_name=addr)
