"""Partner audiences: files of salted hashes exchanged with partners (privacy/partners.py).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 17:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("file", sa.String(length=1000), nullable=False),
        sa.Column("salt_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_exchanges")),
    )
    with op.batch_alter_table("partner_exchanges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_partner_exchanges_partner", ["partner", "direction"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_exchanges", schema=None) as batch_op:
        batch_op.drop_index("ix_partner_exchanges_partner")
    op.drop_table("partner_exchanges")
