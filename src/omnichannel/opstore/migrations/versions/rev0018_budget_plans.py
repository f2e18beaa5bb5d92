"""Budget: plans for a period, and their outcomes after it (budget/loop.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("starts", sa.String(length=10), nullable=False),
        sa.Column("ends", sa.String(length=10), nullable=False),
        sa.Column("goal", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("predicted", sa.JSON(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_plans")),
    )
    with op.batch_alter_table("budget_plans", schema=None) as batch_op:
        batch_op.create_index("ix_budget_plans_period", ["starts", "ends"], unique=False)
    op.create_table(
        "budget_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("planned_spend", sa.Float(), nullable=False),
        sa.Column("actual_spend", sa.Float(), nullable=False),
        sa.Column("predicted", sa.Float(), nullable=False),
        sa.Column("predicted_low", sa.Float(), nullable=True),
        sa.Column("predicted_high", sa.Float(), nullable=True),
        sa.Column("predicted_at_actual", sa.Float(), nullable=False),
        sa.Column("actual", sa.Float(), nullable=True),
        sa.Column("actual_orders", sa.Integer(), nullable=False),
        sa.Column("actual_revenue", sa.Float(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["budget_plans.id"],
            name=op.f("fk_budget_outcomes_plan_id_budget_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_outcomes")),
    )
    with op.batch_alter_table("budget_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_outcomes_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("budget_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_outcomes_plan_id"))
    op.drop_table("budget_outcomes")
    with op.batch_alter_table("budget_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_plans_period")
    op.drop_table("budget_plans")
