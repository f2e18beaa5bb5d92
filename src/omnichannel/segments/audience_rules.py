"""Google's and Meta's normalisation and SHA-256 hashing of contact details, as SQL over columns.

An audience file of a hundred thousand people spent most of its time calling Python per
value (normalise, deduplicate, hash). Here every rule is a DuckDB expression over a whole
column, run in an in-process DuckDB over the Arrow tables read from the warehouse, so it
works the same whatever engine holds the warehouse. The two rules that need a library
(phone numbers not already E.164, country names) run as Arrow UDFs over the distinct
values only (``ingest/normalize.py``'s ``omni_phone`` and ``omni_country``).

The rules (as each platform documents them; see ``export.py``):

- whitespace is Unicode whitespace, as Python's ``str.strip``/``split`` see it;
- emails: trimmed, lower-cased, ``local@domain.tld`` or nothing; Google also removes the
  periods before the ``@`` of gmail.com and googlemail.com addresses;
- phones: stored E.164 taken as they are, others parsed in the export's region; Meta's are
  digits only (no ``+``);
- Google names: lower-cased, whitespace runs made one space; Meta names, city and region:
  lower-cased letters only (NFC, accents kept), US states their two-letter code; Meta zips
  lower-cased without whitespace or dashes (US: five digits); countries ISO alpha-2
  (Google in clear, Meta lower-cased and hashed).

Up to three emails and three phones per person, most recently seen first, each once
after normalisation.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.ingest.normalize import EMAIL_PATTERN, register_udfs

PER_KIND = 3
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# What Python's str.split() and str.strip() take as whitespace (RE2's \s is ASCII only).
WS = (
    r"[\s\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
# The same characters, for trim().
WS_CHARS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(
    chr(c) for c in (*range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)
# The ingest rule for an address, with that whitespace.
EMAIL_SQL = EMAIL_PATTERN.replace("\\s", WS[1:-1])
E164_SQL = r"\+[1-9][0-9]{6,14}"
RECORD_FIELDS = ("first_name", "last_name", "city", "region", "postcode", "country")
TAILS = {
    "google": ("First Name", "Last Name", "Country", "Zip"),
    "meta": ("FN", "LN", "ZIP", "CT", "ST", "COUNTRY"),
}


def _strip(x: str) -> str:
    # trim() of spaces is fast and trim() of a list of characters slow (microseconds a
    # value): the list only where other whitespace is left at either end. The test is a
    # search of the edge characters in the list: ``unicode(t) IN (codes...)`` became a
    # join per test (DuckDB plans a long IN list as one), 40 % of a Google file's SQL.
    t = f"trim({x})"
    edge = (
        f"{t} <> '' AND (contains('{WS_CHARS}', left({t}, 1)) "
        f"OR contains('{WS_CHARS}', right({t}, 1)))"
    )
    return f"CASE WHEN {edge} THEN trim({t}, '{WS_CHARS}') ELSE {t} END"


def _email(e: str, fmt: str) -> str:
    """``e`` is the value trimmed and lower-cased."""
    if fmt != "google":
        return f"CASE WHEN regexp_full_match({e}, '{EMAIL_SQL}') THEN {e} END"
    local, domain = f"split_part({e}, '@', 1)", f"split_part({e}, '@', 2)"
    gmail = ", ".join(f"'{d}'" for d in GMAIL_DOMAINS)
    return (
        f"CASE WHEN NOT regexp_full_match({e}, '{EMAIL_SQL}') THEN NULL "
        f"WHEN {domain} IN ({gmail}) THEN replace({local}, '.', '') || '@' || {domain} "
        f"ELSE {e} END"
    )


def _phone(p: str, fmt: str) -> str:
    """``p`` is the value trimmed."""
    stored = f"regexp_full_match({p}, '{E164_SQL}')"
    # The parser only for the others: a UDF is given every row of its vector, even
    # inside a CASE branch the row does not take.
    e164 = f"CASE WHEN {stored} THEN {p} ELSE omni_phone(CASE WHEN NOT {stored} THEN {p} END) END"
    return e164 if fmt == "google" else f"ltrim(ltrim({e164}, '+'), '0')"


def _letters(x: str) -> str:
    return f"nullif(regexp_replace(nfc_normalize(lower({x})), '[^\\p{{L}}]', '', 'g'), '')"


def _hash(x: str) -> str:
    return f"coalesce(sha256({x}), '')"


@lru_cache(maxsize=1)
def us_states() -> pa.Table:
    """US state names and codes (lower case) -> the two-letter code, for Meta's ``ST``."""
    import pycountry

    names: dict[str, str] = {}
    for state in pycountry.subdivisions.get(country_code="US") or ():
        code = state.code.split("-", 1)[1].lower()
        names[state.name.casefold()] = code
        names[code] = code
    return pa.table({"name": list(names), "code": list(names.values())})


def _tail(fmt: str) -> list[str]:
    """The name-and-address columns after the emails and phones (``TAILS[fmt]``)."""
    if fmt == "google":

        def name(x: str) -> str:
            return f"regexp_replace(lower({x}), '{WS}+', ' ', 'g')"

        return [
            _hash(name("r.first_name")),
            _hash(name("r.last_name")),
            "coalesce(r.country_code, '')",
            "coalesce(r.postcode, '')",
        ]
    zip_code = f"nullif(regexp_replace(lower(r.postcode), '({WS}|-)', '', 'g'), '')"
    state = (
        "CASE WHEN r.country_code = 'US' AND st.code IS NOT NULL THEN st.code "
        f"ELSE {_letters('r.region')} END"
    )
    return [
        _hash(_letters("r.first_name")),
        _hash(_letters("r.last_name")),
        _hash(f"CASE WHEN r.country_code = 'US' THEN left({zip_code}, 5) ELSE {zip_code} END"),
        _hash(_letters("r.city")),
        _hash(state),
        _hash("lower(r.country_code)"),
    ]


def hashed_contacts(
    members: pa.Table, identifiers: pa.Table, records: pa.Table, *, fmt: str, region: str
) -> pa.Table:
    """Per member (``members.profile_id``, sorted): ``e1``-``e3`` and ``p1``-``p3`` (the
    hashed emails and phones, NULL past the last), ``has_email``/``has_phone`` (any
    given, valid or not), ``addressable`` (first and last name, country and zip) and the
    ``TAILS[fmt]`` columns, as the platform's file carries them.

    ``identifiers``: ``profile_id, id_type, id_value, rank`` (rank 1 = most recently seen);
    ``records``: ``profile_id, rank`` (1 = newest) and ``RECORD_FIELDS``.
    """
    con = duckdb.connect()
    try:
        register_udfs(con, region=region)
        for name, table in (
            ("members", members),
            ("identifiers", identifiers),
            ("records", records),
            ("us_states", us_states()),
        ):
            con.register(name, table)
        picks = ", ".join(
            f"arg_min({f}, rank) FILTER (WHERE {f} <> '') AS {f}" for f in RECORD_FIELDS
        )
        stripped = ", ".join(f"{_strip(f)} AS {f}" for f in RECORD_FIELDS)
        # Each kept value hashed once (in ``kept``), then spread over its slot.
        slots = ", ".join(
            f"max(h) FILTER (WHERE id_type = '{kind}' AND n = {n}) AS {kind[0]}{n}"
            for kind in ("email", "phone")
            for n in range(1, PER_KIND + 1)
        )
        hashes = ", ".join(f"c.{kind[0]}{n}" for kind in ("email", "phone") for n in range(1, 4))
        state_name = f"lower(regexp_replace(r.region, '{WS}+', ' ', 'g'))"
        states = f"LEFT JOIN us_states st ON st.name = {state_name}" if fmt == "meta" else ""
        tail = ", ".join(
            f'{expr} AS "{col}"' for expr, col in zip(_tail(fmt), TAILS[fmt], strict=True)
        )
        out = con.sql(f"""
        WITH trimmed AS (
          SELECT profile_id, id_type, rank, {_strip("id_value")} AS s FROM identifiers
        ),
        normalised AS (  -- each kind by its own rule: the phone parser sees phones only
          SELECT profile_id, id_type, rank, {_email("lower(s)", fmt)} AS v
          FROM trimmed WHERE id_type = 'email'
          UNION ALL
          SELECT profile_id, id_type, rank, {_phone("s", fmt)} AS v
          FROM trimmed WHERE id_type = 'phone'
        ),
        once AS (  -- each normalised value once, where it was seen most recently
          SELECT profile_id, id_type, v, min(rank) AS rank FROM normalised GROUP BY ALL
        ),
        kept AS (  -- no filter on v: one would be pushed below the grouping and rerun
          SELECT *, row_number() OVER (
                   PARTITION BY profile_id, id_type ORDER BY coalesce(v, '') = '', rank) AS n,
                 CASE WHEN v <> '' THEN sha256(v) END AS h
          FROM once QUALIFY n <= {PER_KIND}
        ),
        contacts AS (  -- has_: what the person gave, valid or not (consent withholds it)
          SELECT profile_id, {slots}, bool_or(id_type = 'email') AS has_email,
                 bool_or(id_type = 'phone') AS has_phone
          FROM kept GROUP BY ALL
        ),
        picked AS (
          SELECT profile_id, {picks}
          FROM (SELECT profile_id, rank, {stripped} FROM records) GROUP BY ALL
        ),
        r AS (SELECT *, omni_country(country) AS country_code FROM picked)
        SELECT m.profile_id, {hashes},
               coalesce(c.has_email, false) AS has_email,
               coalesce(c.has_phone, false) AS has_phone,
               coalesce(r.first_name IS NOT NULL AND r.last_name IS NOT NULL
                        AND r.country IS NOT NULL AND r.postcode IS NOT NULL, false)
                 AS addressable,
               {tail}
        FROM members m
        LEFT JOIN contacts c USING (profile_id)
        LEFT JOIN r USING (profile_id)
        {states}
        """).to_arrow_table()
        # Sorted by Arrow (byte order, as DuckDB's ORDER BY): a tenth of the time DuckDB
        # took to sort the rows with all their hashes.
        return out.take(pc.sort_indices(out, sort_keys=[("profile_id", "ascending")]))
    finally:
        con.close()
