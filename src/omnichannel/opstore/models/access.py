"""Who may send data and who may use the product: sources, write keys and users."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from omnichannel.opstore.models.base import Base, UTCDateTime, str_enum, utcnow


class SourceKind(StrEnum):
    """Source kinds shipped with Omnichannel; decides which connector reads a source."""

    HTTP = "http"
    FILE = "file"
    ECOMMERCE = "ecommerce"
    POS = "pos"
    CRM = "crm"
    SOCIAL = "social"
    ADS = "ads"


class UserRole(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    ENGINEER = "engineer"
    SERVICE = "service"


class Source(Base):
    """One place data comes from (a website, a store's POS export, an ad account)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # Open set (connectors can be added without a migration); ``SourceKind`` lists ours.
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    write_keys: Mapped[list[WriteKey]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class WriteKey(Base):
    """A secret the collector accepts for one source; only its SHA-256 digest is kept.

    The key itself is shown once when created. ``prefix`` (the first few characters)
    lets an operator tell keys apart in a list without the list being a leak.
    """

    __tablename__ = "write_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    # Hex SHA-256; unique so the collector's lookup is one index probe.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    source: Mapped[Source] = relationship(back_populates="write_keys")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class User(Base):
    """A person (or a service account) who signs in to the UI or API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role"))
    # Null for accounts that cannot sign in with a password (service accounts, SSO).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
