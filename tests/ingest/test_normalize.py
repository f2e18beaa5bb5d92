"""Normalisation rules, one value at a time, through the same SQL the connectors run."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from omnichannel.ingest.mapping import FieldSpec
from omnichannel.ingest.normalize import (
    literal,
    normalize_country,
    normalize_email,
    normalize_phone,
    parse_sql,
    register_udfs,
)


def value(text: str, value_type: str, spec: FieldSpec | None = None, tz: str = "UTC") -> object:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_udfs(con, region="CN")
    sql = parse_sql(literal(text), spec or FieldSpec(target="x"), value_type, timezone=tz)
    return con.sql(f"SELECT {sql}").fetchall()[0][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138 1234 5678", "+8613812345678"),
        ("+86 (138) 1234-5678", "+8613812345678"),
        ("+1 650 253 0000", "+16502530000"),
        ("12345", None),
        ("", None),
    ],
)
def test_phones_become_e164(text: str, expected: str | None) -> None:
    assert normalize_phone(text, "CN") == expected
    assert value(text, "phone") == expected


def test_emails_are_trimmed_lowered_and_checked() -> None:
    assert normalize_email("  Ann@Example.COM ") == "ann@example.com"
    assert value("Ann@Example.COM", "email") == "ann@example.com"
    assert value("ann@@example.com", "email") is None
    assert value("ann@localhost", "email") is None


def test_timestamps_become_naive_utc() -> None:
    assert value("2024-03-01 18:30:00", "timestamp", tz="Asia/Shanghai") == datetime(
        2024, 3, 1, 10, 30
    )
    assert value("2024-03-01T18:30:00+08:00", "timestamp", tz="America/New_York") == datetime(
        2024, 3, 1, 10, 30
    )
    spec = FieldSpec(target="x", formats=("%d/%m/%Y %H:%M",))
    assert value("01/03/2024 18:30", "timestamp", spec, tz="Asia/Shanghai") == datetime(
        2024, 3, 1, 10, 30
    )
    assert value("31/02/2024 10:00", "timestamp", spec) is None
    assert value("1709258400", "timestamp", FieldSpec(target="x", formats=("epoch",))) == datetime(
        2024, 3, 1, 2, 0
    )


def test_money_currency_country() -> None:
    assert value("¥1,234.567", "money") == Decimal("1234.57")
    assert value("USD 12", "money") == Decimal("12.00")
    assert value("1234560000", "money", FieldSpec(target="x", divisor=1e6)) == Decimal("1234.56")
    assert value("twelve", "money") is None
    assert value("cny", "currency") == "CNY" and value("RMB", "currency") is None
    assert normalize_country("China") == "CN" and normalize_country("chn") == "CN"
