"""Probabilistic record linkage with Splink: customer records that share no identifier.

A store loyalty member with a name, birth date and postcode, and an online account of
the same person, share no phone, e-mail or card; only their details match, with typos.
This module pulls ``customer_records`` through Ibis (so any warehouse engine works),
normalises the compared fields, trains a Fellegi-Sunter model with Splink (u by random
sampling, m by expectation maximisation over blocking passes), scores the blocked
pairs, and writes the links above the threshold to ``record_links``, each with the
evidence of every compared field as JSON.

Example::

    with open_warehouse(url) as wh:
        result = run_linkage(warehouse=wh)            # the shipped default config
        print(result.links, result.top_links[:3])
        links_of(warehouse=wh, source="pos", record_id="LOY-500123")
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from time import perf_counter
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot as sg
from splink import Linker

from omnichannel.errors import ConfigError, OmniError
from omnichannel.identity.linkage_config import (
    SWAPPED_SUFFIX,
    LinkageConfig,
    load_config,
    splink_rule,
    splink_settings,
)
from omnichannel.warehouse import dialect
from omnichannel.warehouse.store import Warehouse

Progress = Callable[[str, int, int], None]

STAGES = ("load records", "train u", "train m (EM)", "predict", "write links")


class LinkageError(OmniError):
    """Splink failed at one stage; the message names the stage and Splink's reason."""


@dataclass
class LinkageResult:
    """What a run did: sizes, the trained model, and the links (``links_table``)."""

    model: str
    threshold: float
    backend: str
    link_type: str
    records: dict[str, int]
    above_threshold: int
    skipped_shared: int
    links: int
    links_by_sources: dict[str, int]
    prior: float
    parameters: list[dict[str, Any]]
    top_links: list[dict[str, Any]]
    seconds: float
    written: bool
    links_table: pa.Table = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "links_table"}
        out["records_total"] = sum(self.records.values())
        return out

    def m_probability(self, field_name: str, level: str) -> float | None:
        """The trained m probability of one level (by its label) of one compared field."""
        for comp in self.parameters:
            if comp["field"] == field_name:
                for lv in comp["levels"]:
                    if lv["level"] == level:
                        return float(lv["m_probability"])
        return None


def run_linkage(
    *,
    warehouse: Warehouse,
    config: LinkageConfig | None = None,
    threshold: float | None = None,
    write: bool = True,
    progress: Progress | None = None,
) -> LinkageResult:
    """Train on the warehouse's customer records, predict links, replace this model's rows.

    ``threshold`` overrides the config's; ``write=False`` scores without touching
    ``record_links`` (the evaluation sweeps thresholds that way).
    """
    started = perf_counter()
    report: Progress = progress or (lambda stage, done, total: None)
    config = (config or load_config()).with_threshold(threshold)

    report(STAGES[0], 0, 1)
    records = prepare_records(warehouse, config)
    by_source = _count_by(records.column("source").to_pylist())
    report(STAGES[0], 1, 1)
    if records.num_rows < 2:
        raise LinkageError(
            "linkage needs at least two customer records with a value in a compared field "
            f"({', '.join(config.compared_fields)}); found {records.num_rows}"
        )
    if config.link_type == "link_only" and len(by_source) < 2:
        found = ", ".join(f"{s} ({n:,} records)" for s, n in by_source.items())
        raise LinkageError(
            f"link_type='link_only' pairs records of two different sources, but only one "
            f"source has records to compare: {found}; use link_type: link_and_dedupe to "
            "find duplicates inside it"
        )

    with _splink_logs_quiet():
        linker = _linker(config, records)
        _train(linker, config, report)
        report(STAGES[3], 0, 1)
        predictions = _stage(
            "predict",
            lambda: linker.inference.predict(
                threshold_match_probability=config.threshold
            ).as_pyarrow_table(),
        )
        levels = _level_labels(linker)
        parameters = model_parameters(linker)
        prior = float(linker._settings_obj._probability_two_random_records_match)
    report(STAGES[3], 1, 1)

    above = predictions.num_rows
    if config.skip_shared_identifiers and above:
        predictions = _without_shared_identifiers(warehouse, predictions)
    links = to_record_links(predictions, config, levels)
    report(STAGES[4], 0, 1)
    if write:
        replace_links(warehouse, config.model, links)
    report(STAGES[4], 1, 1)
    return LinkageResult(
        model=config.model,
        threshold=config.threshold,
        backend=config.backend,
        link_type=config.link_type,
        records=by_source,
        above_threshold=above,
        skipped_shared=above - links.num_rows,
        links=links.num_rows,
        links_by_sources=_count_by(
            f"{a}-{b}"
            for a, b in zip(
                links.column("source_l").to_pylist(),
                links.column("source_r").to_pylist(),
                strict=True,
            )
        ),
        prior=prior,
        parameters=parameters,
        top_links=top_links(links, predictions),
        seconds=round(perf_counter() - started, 2),
        written=write,
        links_table=links,
    )


# --- records ------------------------------------------------------------------------------


def prepare_records(warehouse: Warehouse, config: LinkageConfig) -> pa.Table:
    """The records taking part, one row each, compared fields normalised, as Arrow.

    A record takes part when any compared field has a value after normalisation and
    masking: one without a name can still link on its birth date and address.
    Normalisation is an Ibis expression, so it runs on the warehouse's own engine
    (DuckDB, PostgreSQL, Spark...) and only the prepared columns travel.
    """
    t = warehouse.table("customer_records")
    if "*" not in config.sources:
        t = t.filter(t.source.isin(list(config.sources)))
    columns: dict[str, ibis.Value] = {
        "unique_id": t.source.concat(":", t.record_id),
        "source": t.source,
        "record_id": t.record_id,
    }
    for name in config.input_fields:
        value = _masked(t, config, name, _normalised(t, config, name))
        columns[name] = value
        if name in config.compared_fields:
            comp = config.comparison(name)
            if comp.comparison == "date_of_birth" and comp.swap_day_month:
                columns[f"{name}{SWAPPED_SUFFIX}"] = _day_month_swapped(value)
    prepared = t.select(**columns)
    compared = [f for c in config.comparisons for f in c.fields]
    something = ibis.or_(*(prepared[f].notnull() for f in compared))
    return prepared.filter(something).order_by("unique_id").to_pyarrow()


def _normalised(t: ibis.Table, config: LinkageConfig, name: str) -> ibis.Value:
    kind = config.normaliser(name)
    col = t[name]
    if col.type().is_date() or col.type().is_timestamp():
        return col.strftime("%Y-%m-%d")
    text = col.cast("string").lower().strip().re_replace(r"\s+", " ")
    if kind == "postcode":
        text = text.upper().re_replace(r"[\s-]", "")
    elif kind == "address":
        # Plain replaces on a space-padded string, not regex word boundaries: \b means
        # backspace to PostgreSQL, and these must read the same on every engine.
        text = text.replace("no.", "no ").replace("#", " no ")
        text = (" " + text.re_replace(r"[.,;]", " ") + " ").re_replace(r"\s+", " ")
        for short, full in ((" rd ", " road "), (" ave ", " avenue "), (" st ", " street ")):
            text = text.replace(short, full)
        text = text.strip()
    elif kind == "name":
        text = text.re_replace(r"[.,]", "").strip()
    return ibis.ifelse(text == "", ibis.null("string"), text)


def _masked(t: ibis.Table, config: LinkageConfig, name: str, value: ibis.Value) -> ibis.Value:
    """NULL where the record's source does not contribute this field (neutral evidence)."""
    # A postcode compared inside the address comparison goes wherever the address goes;
    # a field used only for blocking is never masked.
    owner = {f: c.field for c in config.comparisons for f in c.fields}
    if name not in owner:
        return value
    name = owner[name]
    default = config.sources.get("*")
    excluded = [s for s, fields in config.sources.items() if s != "*" and name not in fields]
    included = [s for s, fields in config.sources.items() if s != "*" and name in fields]
    if default is not None and name in default:
        return (
            ibis.ifelse(t.source.isin(excluded), ibis.null("string"), value) if excluded else value
        )
    return (
        ibis.ifelse(t.source.isin(included), value, ibis.null("string"))
        if included
        else ibis.null("string")
    )


def _day_month_swapped(iso: ibis.StringValue) -> ibis.Value:
    # Text surgery rather than building a date: an engine may evaluate both CASE branches
    # and fail on month 13; a swapped string that is no valid date just never matches.
    day = iso.substr(8, 2)
    swapped = iso.substr(0, 5).concat(day, "-", iso.substr(5, 2))
    return ibis.ifelse(day.cast("int32") <= 12, swapped, ibis.null("string"))


# --- Splink ------------------------------------------------------------------------------


def _linker(config: LinkageConfig, records: pa.Table) -> Linker:
    if config.backend == "spark":
        api, frame = _spark_input(records)
    else:
        import duckdb
        from splink import DuckDBAPI

        # A private in-memory DuckDB: Splink's many intermediate tables never land in the
        # warehouse, and the same path serves a PostgreSQL or Spark-hosted warehouse.
        api = DuckDBAPI(connection=duckdb.connect(":memory:"))
        frame = records
    sdf = api.register(frame, table_name="omni_linkage_records")
    return _stage("configure", lambda: Linker(sdf, splink_settings(config), log_level=None))


def _spark_input(records: pa.Table) -> tuple[Any, Any]:
    """Splink's SparkAPI on the active SparkSession; only imported when asked for."""
    try:
        import pyspark  # noqa: F401  (whether the extra is installed)
    except ImportError:
        raise ConfigError(
            "backend='spark' needs pyspark: pip install 'omnichannel[spark]' (or pyspark), "
            "or set backend: duckdb"
        ) from None
    from splink import SparkAPI

    from omnichannel.warehouse.engine_spark import spark_session

    # The running session (a Spark warehouse's, spark-submit's), or one started with
    # Splink's similarity jar, without which jaro_winkler is no function on Spark.
    spark = spark_session()
    # Arrow, typed: through pandas an all-NULL column (a field no source has) has no type.
    return SparkAPI(spark_session=spark), spark.createDataFrame(records)


def _train(linker: Linker, config: LinkageConfig, report: Progress) -> None:
    training = config.training
    _stage(
        "estimate the prior",
        lambda: linker.training.estimate_probability_two_random_records_match(
            [splink_rule(r) for r in training.prior_rules], recall=training.prior_recall
        ),
    )
    report(STAGES[1], 0, 1)
    _stage(
        "train u",
        lambda: linker.training.estimate_u_using_random_sampling(
            max_pairs=training.u_max_pairs, seed=training.seed
        ),
    )
    report(STAGES[1], 1, 1)
    passes = len(training.em_blocking)
    for i, rule in enumerate(training.em_blocking):
        report(STAGES[2], i, passes)
        _stage(
            f"train m (EM pass {i + 1}, blocking on {', '.join(map(str, rule))})",
            partial(
                linker.training.estimate_parameters_using_expectation_maximisation,
                splink_rule(rule),
            ),
        )
    report(STAGES[2], passes, passes)


def _stage(name: str, work: Callable[[], Any]) -> Any:
    """Run one Splink step; any failure becomes a LinkageError naming the step."""
    try:
        return work()
    except OmniError:
        raise
    except Exception as exc:
        raise LinkageError(f"linkage failed at {name}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def _splink_logs_quiet() -> Iterator[None]:
    # Splink narrates every step at INFO and nags about sample sizes at WARNING; the
    # CLI shows progress bars instead, and failures surface as LinkageError.
    logger = logging.getLogger("splink")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _level_labels(linker: Linker) -> dict[str, dict[int, str]]:
    """Per compared field, its levels' gamma values -> labels, for the explanations."""
    return {
        comp.output_column_name: {
            lv.comparison_vector_value: lv.label_for_charts for lv in comp.comparison_levels
        }
        for comp in linker._settings_obj.comparisons
    }


def model_parameters(linker: Linker) -> list[dict[str, Any]]:
    """The trained model: each field's levels with m, u and the match weight they carry."""
    out = []
    for comp in linker._settings_obj.comparisons:
        levels = []
        for lv in comp.comparison_levels:
            if lv.is_null_level:
                continue
            weight = lv._match_weight
            levels.append(
                {
                    "level": lv.label_for_charts,
                    "gamma": lv.comparison_vector_value,
                    "m_probability": lv.m_probability,
                    "u_probability": lv.u_probability,
                    "match_weight": None if weight is None else round(weight, 4),
                }
            )
        out.append({"field": comp.output_column_name, "levels": levels})
    return out


# --- links --------------------------------------------------------------------------------


def explanation(row: dict[str, Any], levels: dict[str, dict[int, str]]) -> dict[str, Any]:
    """Each compared field's level and evidence for one scored pair.

    The record's ``match_weight`` is the prior's weight plus the sum of these.
    """
    out: dict[str, Any] = {}
    for name, labels in levels.items():
        gamma = int(row[f"gamma_{name}"])
        # Splink 5 reports log2 Bayes factors ("mw_"), the term-frequency part apart.
        weight = float(row[f"mw_{name}"]) + float(row.get(f"mw_tf_adj_{name}") or 0.0)
        out[name] = {
            "level": labels.get(gamma, str(gamma)),
            "gamma": gamma,
            "bayes_factor": round(2.0**weight, 6),
            "match_weight": round(weight, 4),
        }
    return out


def to_record_links(
    predictions: pa.Table, config: LinkageConfig, levels: dict[str, dict[int, str]]
) -> pa.Table:
    """Splink's scored pairs as ``record_links`` rows, the explanation as JSON text."""
    now = datetime.now(UTC).replace(tzinfo=None)
    n = predictions.num_rows
    # Only the evidence columns travel to Python: the retained values would triple the work.
    evidence = [
        c
        for name in levels
        for c in (f"gamma_{name}", f"mw_{name}", f"mw_tf_adj_{name}")
        if c in predictions.column_names
    ]
    rows = predictions.select(evidence).to_pylist()
    return pa.table(
        {
            "source_l": predictions["source_l"].cast(pa.string()),
            "record_id_l": predictions["record_id_l"].cast(pa.string()),
            "source_r": predictions["source_r"].cast(pa.string()),
            "record_id_r": predictions["record_id_r"].cast(pa.string()),
            "match_weight": predictions["match_weight"].cast(pa.float64()),
            "match_probability": predictions["match_probability"].cast(pa.float64()),
            "explanation": [json.dumps(explanation(r, levels)) for r in rows],
            "model": [config.model] * n,
            "linked_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )


def _without_shared_identifiers(warehouse: Warehouse, predictions: pa.Table) -> pa.Table:
    """Drop pairs that share any identifier: the identity graph links those already."""
    keys = pa.table(
        {
            "source": pa.concat_arrays(
                [predictions["source_l"].combine_chunks(), predictions["source_r"].combine_chunks()]
            ),
            "record_id": pa.concat_arrays(
                [
                    predictions["record_id_l"].combine_chunks(),
                    predictions["record_id_r"].combine_chunks(),
                ]
            ),
        }
    )
    ids = warehouse.table("identifiers")
    wanted = ibis.memtable(keys.group_by(["source", "record_id"]).aggregate([]))
    found = (
        ids.semi_join(wanted, ["source", "record_id"])
        .select("source", "record_id", "id_type", "id_value")
        .to_pyarrow()
    )
    owned: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for r in found.to_pylist():
        owned.setdefault((r["source"], r["record_id"]), set()).add((r["id_type"], r["id_value"]))
    keep = [
        not (owned.get((sl, rl), set()) & owned.get((sr, rr), set()))
        for sl, rl, sr, rr in zip(
            predictions["source_l"].to_pylist(),
            predictions["record_id_l"].to_pylist(),
            predictions["source_r"].to_pylist(),
            predictions["record_id_r"].to_pylist(),
            strict=True,
        )
    ]
    return predictions.filter(pa.array(keep, pa.bool_()))


def replace_links(warehouse: Warehouse, model: str, links: pa.Table) -> None:
    """This model's previous links go, the new ones come; other models' rows stay."""
    # dialect.delete: Spark's file tables have no DELETE (the table is rewritten there).
    this_model = sg.column("model", quoted=True).eq(sg.exp.Literal.string(model))
    dialect.delete(warehouse.con, "record_links", this_model)
    warehouse.append("record_links", links)


def top_links(links: pa.Table, predictions: pa.Table, limit: int = 10) -> list[dict[str, Any]]:
    """The strongest links, with the (normalised) names that were compared."""
    # links are predictions' rows in the same order (to_record_links keeps it).
    order = pc.sort_indices(links, sort_keys=[("match_weight", "descending")])[:limit]
    rows = links.take(order).to_pylist()
    wanted = [c for c in _NAME_COLUMNS if c in predictions.column_names]
    compared = predictions.select(wanted).take(order).to_pylist()
    out = []
    for r, p in zip(rows, compared, strict=True):
        out.append(
            {
                "left": f"{r['source_l']}:{r['record_id_l']}",
                "right": f"{r['source_r']}:{r['record_id_r']}",
                "name_left": _full_name(p, "l"),
                "name_right": _full_name(p, "r"),
                "match_probability": round(r["match_probability"], 6),
                "match_weight": round(r["match_weight"], 3),
            }
        )
    return out


_NAME_COLUMNS = ("first_name_l", "last_name_l", "first_name_r", "last_name_r")


def _full_name(row: dict[str, Any], side: str) -> str:
    parts = [row.get(f"first_name_{side}"), row.get(f"last_name_{side}")]
    return " ".join(str(p) for p in parts if p)


def links_of(
    *, warehouse: Warehouse, source: str, record_id: str, model: str | None = None
) -> list[dict[str, Any]]:
    """One record's links (either side), strongest first, explanations decoded."""
    t = warehouse.table("record_links")
    left = (t.source_l == source) & (t.record_id_l == record_id)
    right = (t.source_r == source) & (t.record_id_r == record_id)
    expr = t.filter(left | right)
    if model is not None:
        expr = expr.filter(t.model == model)
    rows = expr.order_by(ibis.desc("match_weight")).to_pyarrow().to_pylist()
    out = []
    for r in rows:
        mine = r["source_l"] == source and r["record_id_l"] == record_id
        other = ("source_r", "record_id_r") if mine else ("source_l", "record_id_l")
        out.append(
            {
                "record": f"{source}:{record_id}",
                "linked_to": f"{r[other[0]]}:{r[other[1]]}",
                "match_probability": r["match_probability"],
                "match_weight": r["match_weight"],
                "model": r["model"],
                "linked_at": r["linked_at"],
                "explanation": json.loads(r["explanation"]) if r["explanation"] else {},
            }
        )
    return out


def _count_by(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))
