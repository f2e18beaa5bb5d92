"""The events-file rules as SQL: one SELECT that checks a block of lines like the collector.

``check_query`` turns ``chunk(idx, raw, text, guard_field, guard_value, guard_reason)``
(a line's bytes, its text without trailing CRs, NULL when not UTF-8, and what
``storable.check_call`` refused in it, if anything) into ``events`` columns plus the first
refusal, if any, in the collector's order (``segment.validate_call``). Each line is parsed
once, with ``from_json`` into the fields' JSON text; types and text values are read off that text,
and only refused lines are parsed again, for the value a refusal shows.
"""

from __future__ import annotations

import json
from typing import cast

from omnichannel.ingest.segment import CONTEXT_COLUMNS, EVENT_TYPES, Limits

# The call's fields, parsed once per line with ``from_json`` into JSON text each (the
# types and text values below are read off that text without parsing the line again).
_FIELDS = [
    "type",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "channel",
]
# Paths inside ``context``, parsed from the context text alone (a fraction of the line).
_CONTEXT_PATHS: dict[str, tuple[str, ...]] = {
    **CONTEXT_COLUMNS,
    "library_name": ("library", "name"),
}
_IX = {name: i for i, name in enumerate(_FIELDS, 1)}


def _v(name: str) -> str:
    """A field as the sender wrote it (JSON), for refusals only: parsed again, rarely."""
    return f"json_extract(line, {_lit('$.' + name)})"


def _t(name: str) -> str:
    """The JSON type of a field ('NULL' when absent), computed once per line."""
    return f"t{_IX[name]}"


def _s(name: str) -> str:
    """A field as text (numbers as their digits), computed once per line."""
    return f"s{_IX[name]}"


def _json_type(x: str) -> str:
    # from_json writes minified JSON, so the first character names the type; only
    # numbers (BIGINT, UBIGINT or DOUBLE) need json_type.
    return (
        f"CASE WHEN {x} IS NULL THEN 'NULL' WHEN starts_with({x}, '\"') THEN 'VARCHAR' "
        f"WHEN starts_with({x}, '{{') THEN 'OBJECT' WHEN starts_with({x}, '[') THEN 'ARRAY' "
        f"ELSE json_type({x}) END"
    )


def _json_text(x: str) -> str:
    # A string without escapes is its text between the quotes; anything else is unescaped.
    return (
        f"CASE WHEN starts_with({x}, '\"') AND NOT contains({x}, '\\') THEN {x}[2:-2] "
        f"ELSE {x} ->> '$' END"
    )


def _struct(paths: dict[str, tuple[str, ...]]) -> str:
    """A from_json structure holding each path's value as JSON text."""
    tree: dict[str, object] = {}
    for path in paths.values():
        node = tree
        for part in path[:-1]:
            node = cast(dict[str, object], node.setdefault(part, {}))
        node[path[-1]] = "JSON"
    return json.dumps(tree)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sql(str):
    """A rule's field or reason computed per line (a column), not a fixed text."""


def _text_sql(text: str) -> str:
    return text if isinstance(text, _Sql) else _lit(text)


_ID_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')"
_TYPES = ", ".join(EVENT_TYPES)
_TS_ACCEPTED = "expected an ISO-8601 timestamp string, e.g. 2024-05-01T12:00:00.000Z"


_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def _ts(name: str) -> str:
    return f"ts_{name}"


def _bad_ts(name: str) -> str:
    return (
        f"({_t(name)} NOT IN ('VARCHAR', 'NULL') OR "
        f"({_t(name)} = 'VARCHAR' AND {_ts(name)} IS NULL))"
    )


def _rules(limits: Limits) -> list[tuple[str, str, str, str]]:
    """(condition, field, value SQL, reason) in the collector's order; first match wins."""
    doc = 'expected a JSON object, e.g. {"plan": "pro"}'
    rules = [
        ("line IS NULL", "(line)", "'invalid UTF-8'", "expected UTF-8 encoded JSON"),
        # What storable.check_call refused (lone surrogates, too deep, giant integers, NaN),
        # found in Python before the query: the collector's words for the same call.
        ("guard_field IS NOT NULL", _Sql("guard_field"), "guard_value", _Sql("guard_reason")),
        ("doc IS NULL", "(line)", "left(line, 200)", "expected a valid JSON document"),
        (
            f"octet_length(raw) > {limits.max_event_bytes}",
            "(call)",
            "octet_length(raw) || ' bytes'",
            f"expected at most {limits.max_event_bytes // 1024} KB per call",
        ),
        (
            "doc <> 'OBJECT'",
            "(call)",
            "left(line, 200)",
            "expected a JSON object with at least type and userId/anonymousId",
        ),
        (
            f"{_t('type')} <> 'VARCHAR' OR lower({_s('type')}) NOT IN "
            f"({', '.join(_lit(t) for t in EVENT_TYPES)})",
            "type",
            f"coalesce({_v('type')}::VARCHAR, '(missing)')",
            f"expected one of {_TYPES}",
        ),
    ]
    for name in ("userId", "anonymousId"):
        rules.append(
            (
                f"{_t(name)} NOT IN {_ID_TYPES}",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string (or a number, stored as text)",
            )
        )
    rules.append(
        (
            f"coalesce(trim({_s('userId')}), '') = '' AND "
            f"coalesce(trim({_s('anonymousId')}), '') = ''",
            "userId",
            f"coalesce({_v('userId')}::VARCHAR, '(missing)')",
            "expected a userId or an anonymousId (every call needs one of the two)",
        )
    )
    for name in ("previousId", "groupId"):
        rules.append(
            (
                f"{_t(name)} NOT IN {_ID_TYPES}",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string (or a number, stored as text)",
            )
        )
    for name in ("event", "name"):
        rules.append(
            (
                f"{_t(name)} NOT IN ('VARCHAR', 'NULL')",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string",
            )
        )
    rules += [
        (
            f"lower({_s('type')}) = 'track' AND coalesce({_s('event')}, '') = ''",
            "event",
            f"coalesce({_v('event')}::VARCHAR, '(missing)')",
            'expected a non-empty string naming the action, e.g. "Order Completed"',
        ),
        (
            f"lower({_s('type')}) = 'alias' AND {_s('previousId')} IS NULL",
            "previousId",
            "'(missing)'",
            "expected the id this user was known by before (alias needs previousId)",
        ),
        (
            f"lower({_s('type')}) = 'group' AND {_s('groupId')} IS NULL",
            "groupId",
            "'(missing)'",
            "expected the group's id (group needs groupId)",
        ),
    ]
    for name in ("properties", "traits", "context"):
        rules.append((f"{_t(name)} NOT IN ('OBJECT', 'NULL')", name, f"{_v(name)}::VARCHAR", doc))
    rules.append(
        (
            f"{_t('messageId')} NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'NULL')",
            "messageId",
            f"{_v('messageId')}::VARCHAR",
            "expected a string unique to this call",
        )
    )
    for name in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        rules.append((_bad_ts(name), name, f"{_v(name)}::VARCHAR", _TS_ACCEPTED))
    future = int(limits.max_future.total_seconds() * 1_000_000)
    past = int(limits.max_age.total_seconds() * 1_000_000)
    rules += [
        (
            f"ts > received_at + to_microseconds({future})",
            "timestamp",
            "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')",
            f"expected a time no later than {_span(limits)[0]} after receipt; the sender's "
            "clock or timestamp is wrong",
        ),
        (
            f"ts < received_at - to_microseconds({past})",
            "timestamp",
            "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')",
            f"expected a time no earlier than {_span(limits)[1]} before receipt",
        ),
    ]
    return rules


def _span(limits: Limits) -> tuple[str, str]:
    from omnichannel.ingest.segment import _span as span

    return span(limits.max_future), span(limits.max_age)


def check_query(limits: Limits, source: str, origin: str) -> str:
    """One SELECT turning ``chunk(idx, raw)`` into events columns plus a refusal, if any."""
    rules = _rules(limits)
    # The first failing rule's number, evaluated once; field, value and reason follow from it.
    rule = (
        "CASE " + " ".join(f"WHEN {c} THEN {n}" for n, (c, _, _, _) in enumerate(rules, 1)) + " END"
    )
    field = "[" + ", ".join(_text_sql(f) for _, f, _, _ in rules) + "][rule]"
    value = (
        "CASE rule "
        + " ".join(f"WHEN {n} THEN {v}" for n, (_, _, v, _) in enumerate(rules, 1))
        + " END"
    )
    reason = "[" + ", ".join(_text_sql(r) for _, _, _, r in rules) + "][rule]"
    fields = ", ".join(f'f."{name}"::VARCHAR AS x{i}' for name, i in _IX.items())
    typed = ", ".join(
        f"{_json_type(f'x{i}')} AS t{i}, {_json_text(f'x{i}')} AS s{i}" for i in _IX.values()
    )
    times = ", ".join(
        f"CASE WHEN {_t(n)} = 'VARCHAR' THEN timezone('UTC', "
        f"TRY_CAST({_s(n)} AS TIMESTAMPTZ)) END AS {_ts(n)}"
        for n in _TIMES
    )
    nested = ", ".join(
        "c." + ".".join(f'"{part}"' for part in path) + f"::VARCHAR AS y_{column}"
        for column, path in _CONTEXT_PATHS.items()
    )
    flat = ", ".join(
        f"CASE WHEN {_json_type(f'y_{c}')} IN ('OBJECT', 'ARRAY') THEN NULL "
        f"ELSE {_json_text(f'y_{c}')} END AS {c}"
        for c in _CONTEXT_PATHS
    )
    top = _struct({name: (name,) for name in _FIELDS})
    src = _lit(source)
    return f"""
    WITH decoded AS (
        SELECT idx, raw, text AS line, guard_field, guard_value, guard_reason FROM chunk
        WHERE octet_length(raw) > 0 AND raw <> '\r'::BLOB
    ), parsed AS (
        SELECT *, CASE WHEN NOT json_valid(line) THEN NULL
            WHEN starts_with(line, '{{') THEN 'OBJECT' ELSE json_type(line) END AS doc
        FROM decoded
    ), fields AS (
        SELECT * EXCLUDE (f), {fields} FROM (
            SELECT *, CASE WHEN doc = 'OBJECT' THEN from_json(line, {_lit(top)}) END AS f
            FROM parsed)
    ), typed AS (
        SELECT *, {typed},
            CASE WHEN starts_with(x{_IX["context"]}, '{{') THEN
                from_json(x{_IX["context"]}, {_lit(_struct(_CONTEXT_PATHS))}) END AS c
        FROM fields
    ), nested AS (
        SELECT * EXCLUDE (c), {nested} FROM typed
    ), flat AS (
        SELECT *, {flat} FROM nested
    ), stamped AS (
        SELECT *, {times} FROM flat
    ), timed AS (
        SELECT *,
            coalesce({_ts("receivedAt")}, $now) AS received_at,
            coalesce({_ts("originalTimestamp")}, {_ts("timestamp")}) AS original,
            {_ts("sentAt")} AS sent
        FROM stamped
    ), corrected AS (
        SELECT *,
            CASE WHEN {_ts("originalTimestamp")} IS NOT NULL AND {_ts("timestamp")} IS NOT NULL
                     THEN {_ts("timestamp")}
                 WHEN original IS NOT NULL AND sent IS NOT NULL
                     THEN original + (received_at - sent)
                 ELSE coalesce(original, received_at) END AS ts
        FROM timed
    ), judged AS (
        SELECT *, {rule} AS rule FROM corrected
    )
    SELECT idx,
        CASE WHEN rule IS NOT NULL THEN raw END AS raw,
        CASE WHEN rule IS NOT NULL THEN line END AS line,
        {field} AS refused_field, {value} AS refused_value, {reason} AS refused_reason,
        coalesce(nullif({_s("messageId")}, ''),
                 'omni-' || md5({src} || chr(10) || coalesce(line, ''))) AS message_id,
        lower({_s("type")}) AS type, {_s("event")} AS event,
        nullif({_s("userId")}, '') AS user_id, nullif({_s("anonymousId")}, '') AS anonymous_id,
        {_s("previousId")} AS previous_id, {_s("groupId")} AS group_id, {_s("name")} AS name,
        ts AS timestamp, original AS original_timestamp, sent AS sent_at, received_at,
        {src} AS source,
        coalesce({_s("channel")}, CASE
            WHEN library_name IN ('analytics.js', 'analytics-next',
                 'analytics-js', 'rudder-analytics.js') THEN 'browser'
            WHEN library_name IN ('analytics-ios', 'analytics-android',
                 'analytics-react-native', 'flutter') THEN 'mobile'
            ELSE 'server' END) AS channel,
        {", ".join(CONTEXT_COLUMNS)},
        x{_IX["context"]} AS context, x{_IX["properties"]} AS properties,
        x{_IX["traits"]} AS traits,
        CASE WHEN rule IS NOT NULL THEN {_lit(origin)} || ' line ' || idx END AS origin
    FROM judged
    """
