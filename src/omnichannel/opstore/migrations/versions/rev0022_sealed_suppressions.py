"""The suppression list sealed at rest: ``address`` becomes sealed TEXT, keyed by its
blind index ``address_key`` (opstore/sealed.py), and unique on (channel, address_key).

Rows written before keep their clear address, and get it as their key too: the list
stays unique, and a lookup matches either the blind index or the clear value (a store
without a keyring keys its clear rows the same way). A suppression re-added with a
keyring is sealed then (``channels/suppressions.py``).

A downgrade refuses while any address is sealed: the older version would read
``pii1:...`` as the address and send to nobody it knows, or suppress nobody.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.String(length=512), nullable=True))
    op.execute("UPDATE suppressions SET address_key = address")
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.alter_column("address_key", existing_type=sa.String(length=512), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_suppressions_channel_address"), type_="unique")
        batch_op.alter_column(
            "address", existing_type=sa.String(length=512), type_=sa.Text(), existing_nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_suppressions_channel_address_key"), ["channel", "address_key"]
        )


def downgrade() -> None:
    sealed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM suppressions WHERE address LIKE 'pii1:%'")
    )
    if sealed:
        raise RuntimeError(
            f"cannot downgrade below revision 0022: {sealed} suppressed addresses are sealed "
            "and an older version cannot open them; restore a backup taken before the upgrade"
        )
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_suppressions_channel_address_key"), type_="unique")
        batch_op.alter_column(
            "address", existing_type=sa.Text(), type_=sa.String(length=512), existing_nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_suppressions_channel_address"), ["channel", "address"]
        )
        batch_op.drop_column("address_key")
