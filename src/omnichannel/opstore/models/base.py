"""Declarative base, naming convention and the portable column types every model shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints let Alembic drop or alter them later; SQLite's batch mode in
# particular cannot touch an unnamed constraint. Names stay well under PostgreSQL's
# 63-character identifier limit for the table and column names used here.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and would hand back naive
    values, so everything is converted to UTC on the way in and tagged UTC on the way
    out. Naive datetimes are refused rather than guessed at: a local time silently read
    as UTC would shift a journey's send time by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"datetime {value.isoformat()} has no time zone; the operational store "
                "accepts timezone-aware datetimes only (e.g. datetime.now(UTC))"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every operational-store table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        # Enough to recognise a row in a failing test or a log line, never secrets.
        key = getattr(self, "id", None)
        label = getattr(self, "name", None) or getattr(self, "email", None)
        extra = f" {label!r}" if label else ""
        return f"<{type(self).__name__} id={key}{extra}>"


def str_enum(enum_cls: Any, name: str) -> Any:
    """A VARCHAR + CHECK column for a ``StrEnum``: portable, and readable in raw SQL.

    Native PostgreSQL enums are avoided because adding a value needs a non-transactional
    ``ALTER TYPE``; a CHECK constraint is altered like any other, on both databases.
    """
    from sqlalchemy import Enum

    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )
