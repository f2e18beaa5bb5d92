"""Privacy: the consent ledger's history, data-subject requests, erased identifiers, the DPO role.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("admin", "marketer", "analyst", "approver", "viewer", "service_desk")
NEW_ROLES = (*OLD_ROLES, "dpo")


def _roles(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _alter_roles(old: Sequence[str], new: Sequence[str]) -> None:
    for table, name in (("users", "user_role"), ("api_tokens", "api_token_role")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "role",
                existing_type=_roles(old, name),
                type_=_roles(new, name),
                existing_nullable=False,
            )


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "consent_records",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_value", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lawful_basis", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("text_version", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("separate", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_subject",
        "consent_records",
        ["subject_type", "subject_value"],
        unique=False,
    )
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("regulation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index("ix_privacy_requests_status", "privacy_requests", ["status"], unique=False)
    op.create_table(
        "erased_identifiers",
        sa.Column("identifier_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identifier_hash", name=op.f("pk_erased_identifiers")),
    )
    _alter_roles(OLD_ROLES, NEW_ROLES)


def downgrade() -> None:
    op.execute("UPDATE users SET role = 'viewer' WHERE role = 'dpo'")
    op.execute("UPDATE api_tokens SET role = 'viewer' WHERE role = 'dpo'")
    _alter_roles(NEW_ROLES, OLD_ROLES)
    op.drop_table("erased_identifiers")
    op.drop_index("ix_privacy_requests_status", table_name="privacy_requests")
    op.drop_table("privacy_requests")
    op.drop_index("ix_consent_records_subject", table_name="consent_records")
    op.drop_table("consent_records")
