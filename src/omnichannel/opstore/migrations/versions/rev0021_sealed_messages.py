"""Outbox, in-app inbox and audit log sealed at rest: blind-index columns for the lookups
by address and user id, and TEXT for the sealed columns (opstore/sealed.py).

A sealed value is about a third longer than the clear one plus 46 characters, so the
bounded columns it replaces (an address of up to 512, a title of up to 500) become TEXT.
Rows written before keep their clear values and a NULL key: readers take an unsealed
value as it is, and the lookups also match a NULL key by the clear column.

A downgrade refuses while any address or user id is sealed: the older version could not
open them, and on PostgreSQL a sealed value no longer fits the bounded column.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.String(length=64), nullable=True))
        batch_op.alter_column(
            "address", existing_type=sa.String(length=512), type_=sa.Text(), existing_nullable=False
        )
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_key", sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f("ix_inbox_messages_user_id"))
        batch_op.alter_column(
            "user_id", existing_type=sa.String(length=256), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "title", existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=False
        )
        batch_op.create_index(batch_op.f("ix_inbox_messages_user_key"), ["user_key"], unique=False)


def downgrade() -> None:
    connection = op.get_bind()
    sealed = sum(
        connection.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE {column} LIKE 'pii1:%'"))
        for table, column in (("outbox", "address"), ("inbox_messages", "user_id"))
    )
    if sealed:
        raise RuntimeError(
            f"cannot downgrade below revision 0021: {sealed} messages are sealed and an "
            "older version cannot open them; restore a backup taken before the upgrade"
        )
    with op.batch_alter_table("inbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_messages_user_key"))
        batch_op.alter_column(
            "title", existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=False
        )
        batch_op.alter_column(
            "user_id", existing_type=sa.Text(), type_=sa.String(length=256), existing_nullable=False
        )
        batch_op.create_index(batch_op.f("ix_inbox_messages_user_id"), ["user_id"], unique=False)
        batch_op.drop_column("user_key")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.Text(), type_=sa.String(length=512), existing_nullable=False
        )
        batch_op.drop_column("address_key")
