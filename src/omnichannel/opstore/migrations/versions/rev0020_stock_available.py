"""Available units per SKU and location kind, kept by triggers (opstore/stock_available.py).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from omnichannel.opstore import stock_available

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_available",
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("levels", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "kind", name=op.f("pk_stock_available")),
    )
    stock_available.create(op.get_bind(), backfill=True)


def downgrade() -> None:
    stock_available.drop(op.get_bind())
    op.drop_table("stock_available")
