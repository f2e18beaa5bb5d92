"""Normalisation rules, as vectorised DuckDB expressions over whole columns.

Every value arrives as text. A field's expression turns that text into the canonical
value, or into NULL when the text cannot be read; the connector then rejects rows
whose text was present but whose value is NULL (``bad_sql``), naming the field, the
value and ``accepted(...)``. The rules:

- text: trimmed, empty is NULL;
- email: trimmed, lower-cased, must look like ``local@domain.tld``;
- phone: E.164 (``+8613812345678``) via ``phonenumbers``, numbers without a country code
  read in ``Settings.default_region``; invalid numbers are rejected;
- timestamps: naive UTC; text with an offset is converted with it, text without one is
  read in the field's or the mapping's ``timezone`` (IANA, e.g. Asia/Shanghai);
- currency: upper-cased, must be an ISO 4217 code (pycountry);
- money: ``decimal(18, 2)``, currency symbols, spaces and thousands separators dropped.

Phone and country checks need Python libraries; they run as DuckDB Arrow UDFs over the
distinct values of a column only, so a million rows with ten thousand customers cost
ten thousand parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import duckdb
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from omnichannel.ingest.mapping import FieldSpec, scale

EMAIL_PATTERN = r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+"
# Loose on purpose: a phone as a sender typed it (``138 1234 5678``), not ``abc``.
PHONE_PATTERN = r"^\+?[0-9][0-9 ()./-]{5,}$"
_OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|[+-]\d\d(:?\d\d)?)$"
_MONEY_JUNK = r"[\s,¥￥$€£]|^[A-Za-z]{3}|[A-Za-z]{3}$"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names[value.casefold()] = country.alpha_2
    return names


def normalize_email(text: str | None) -> str | None:
    """``' Ann@Example.COM '`` -> ``'ann@example.com'``; None when it is not an address."""
    if text is None:
        return None
    value = text.strip().lower()
    return value if re.fullmatch(EMAIL_PATTERN, value) else None


@lru_cache(maxsize=200_000)
def normalize_phone(text: str | None, region: str = "CN") -> str | None:
    """``'138 1234 5678'`` -> ``'+8613812345678'`` (E.164); None when it is not a valid number."""
    if text is None or not text.strip():
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_country(text: str | None) -> str | None:
    """``'China'``, ``'CHN'`` or ``'cn'`` -> ``'CN'`` (ISO 3166 alpha-2)."""
    if text is None:
        return None
    return _countries().get(text.strip().casefold())


def _distinct_udf(
    fn: Callable[[str | None], str | None],
) -> Callable[[pa.Array | pa.ChunkedArray], pa.Array]:
    """Lift a str -> str|None function to an Arrow UDF that calls it once per distinct value."""

    def udf(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        mapped = pa.array(
            [fn(v) for v in encoded.dictionary.to_pylist()],
            type=pa.string(),
        )
        return mapped.take(encoded.indices)

    return udf


def register_udfs(con: duckdb.DuckDBPyConnection, *, region: str) -> None:
    """Make ``omni_phone(text)`` and ``omni_country(text)`` available on a connection."""
    udfs = {
        "omni_phone": _distinct_udf(lambda v: normalize_phone(v, region)),
        "omni_country": _distinct_udf(normalize_country),
    }
    for name, udf in udfs.items():
        # DuckDB's stubs type `type` and `null_handling` as enums its runtime takes as text.
        con.create_function(  # type: ignore[call-overload]
            name, udf, ["VARCHAR"], "VARCHAR", type="arrow", null_handling="special"
        )


def text_sql(spec: FieldSpec) -> str:
    """The field's text before parsing: column(s) or constant, then split, case, map, default."""
    if spec.value is not None:
        expr = literal(spec.value)
    elif len(spec.columns) == 1:
        expr = f"NULLIF(TRIM({quote(spec.columns[0])}), '')"
    else:
        parts = ", ".join(f"NULLIF(TRIM({quote(c)}), '')" for c in spec.columns)
        expr = f"NULLIF(concat_ws({literal(spec.join)}, {parts}), '')"
    if spec.split is not None:
        index = spec.part + 1 if spec.part >= 0 else spec.part
        expr = f"NULLIF(TRIM(string_split({expr}, {literal(spec.split)})[{index}]), '')"
    if spec.case is not None:
        expr = f"{spec.case}({expr})"
    if spec.value_map:
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in spec.value_map.items())
        expr = f"(CASE {expr} {cases} ELSE {expr} END)"
    if spec.default is not None:
        expr = f"COALESCE({expr}, {literal(spec.default)})"
    return expr


def _timestamp_sql(text: str, spec: FieldSpec, timezone: str) -> str:
    zone = literal(spec.timezone or timezone)
    formats = spec.formats
    if formats and formats[0] in ("epoch", "epoch_ms"):
        divisor = 1000.0 if formats[0] == "epoch_ms" else 1.0
        return f"try_cast(to_timestamp(try_cast({text} AS DOUBLE) / {divisor}) AS TIMESTAMP)"
    if formats:
        fmts = "[" + ", ".join(literal(f) for f in formats) + "]"
        parsed = f"try_strptime({text}, {fmts})"
        if any("%z" in f or "%Z" in f for f in formats):
            return f"CAST({parsed} AS TIMESTAMP)"  # the session is in UTC
        return f"timezone('UTC', timezone({zone}, {parsed}))"
    return (
        f"(CASE WHEN regexp_matches({text}, {literal(_OFFSET_PATTERN)}) "
        f"THEN CAST(try_cast({text} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"ELSE timezone('UTC', timezone({zone}, try_cast({text} AS TIMESTAMP))) END)"
    )


def _number_sql(text: str, spec: FieldSpec, target: str) -> str:
    factor = scale(spec)
    if factor is None:
        return f"try_cast({text} AS {target})"
    return f"try_cast(round(try_cast({text} AS DOUBLE) * {factor!r}, 6) AS {target})"


def parse_sql(text: str, spec: FieldSpec, value_type: str, *, timezone: str) -> str:
    """The canonical value of a field from its text (``text_sql``), NULL where unreadable."""
    if value_type == "email":
        return (
            f"(CASE WHEN regexp_full_match(lower({text}), {literal(EMAIL_PATTERN)}) "
            f"THEN lower({text}) END)"
        )
    if value_type == "phone":
        return f"omni_phone({text})"
    if value_type == "country":
        return f"omni_country({text})"
    if value_type == "currency":
        codes = ", ".join(literal(c) for c in sorted(currency_codes()))
        return f"(CASE WHEN upper({text}) IN ({codes}) THEN upper({text}) END)"
    if value_type == "timestamp":
        return _timestamp_sql(text, spec, timezone)
    if value_type == "date":
        if spec.formats:
            fmts = "[" + ", ".join(literal(f) for f in spec.formats) + "]"
            return f"CAST(try_strptime({text}, {fmts}) AS DATE)"
        return f"COALESCE(try_cast({text} AS DATE), CAST(try_cast({text} AS TIMESTAMP) AS DATE))"
    if value_type == "money":
        cleaned = f"regexp_replace({text}, {literal(_MONEY_JUNK)}, '', 'g')"
        return _number_sql(cleaned, spec, "DECIMAL(18, 2)")
    if value_type in ("int", "int32"):
        cleaned = f"regexp_replace(replace({text}, ',', ''), '\\.0+$', '')"
        return _number_sql(cleaned, spec, "INTEGER" if value_type == "int32" else "BIGINT")
    if value_type == "float":
        # NaN and Infinity are not measurements: unreadable, like the collector's rule.
        number = _number_sql(text, spec, "DOUBLE")
        return f"(CASE WHEN isfinite({number}) THEN {number} END)"
    return text


def accepted(value_type: str, spec: FieldSpec, *, region: str) -> str:
    """What a field accepts, for the reason of a dead letter."""
    if value_type == "timestamp":
        if spec.formats:
            return f"a timestamp in the format {' or '.join(spec.formats)}"
        return "a timestamp such as 2024-03-01 10:00:00 or 2024-03-01T10:00:00+08:00"
    if value_type == "date":
        if spec.formats:
            return f"a date in the format {' or '.join(spec.formats)}"
        return "a date such as 2024-03-01"
    return {
        "email": "an email address such as name@example.com",
        "phone": f"a valid phone number, with +country code or from region {region}",
        "country": "an ISO 3166 country code or name such as CN or China",
        "currency": "an ISO 4217 currency code such as CNY or USD",
        "money": "an amount such as 1234.50 (at most 16 digits before the point)",
        "int": "a whole number",
        "int32": "a whole number below 2147483648",
        "float": "a number",
    }.get(value_type, "text")
