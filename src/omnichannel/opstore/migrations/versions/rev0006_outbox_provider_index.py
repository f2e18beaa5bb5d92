"""Outbox: an index on (channel, provider_message_id), for provider callbacks.

Twilio's status callbacks and WeChat's template-send-finished events name the message by
the provider's id; without the index each callback scanned the outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_provider_message", "outbox", ["channel", "provider_message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_provider_message", table_name="outbox")
