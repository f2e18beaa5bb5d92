"""Journeys: versioned documents, enrolments with leases and entry keys, executed steps.

Revision 0001's ``journey_definitions`` and ``journey_enrolments`` were placeholders that
nothing wrote: they are dropped and replaced by ``journeys`` (lifecycle), ``journey_versions``
(every saved document), ``journey_enrolments`` (entry key, entry reference, lease, due
time, the event awaited) and ``journey_steps`` (one row per executed step, unique per
enrolment and visit).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = "state IN ('active', 'waiting')"


def _status(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("journey_enrolments", schema=None) as batch_op:
        batch_op.drop_index("uq_journey_enrolments_open", sqlite_where=sa.text(_OPEN))
        batch_op.drop_index(batch_op.f("ix_journey_enrolments_profile_id"))
        batch_op.drop_index(batch_op.f("ix_journey_enrolments_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_journey_enrolments_journey_id"))
    op.drop_table("journey_enrolments")
    with op.batch_alter_table("journey_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_definitions_name"))
        batch_op.drop_index(batch_op.f("ix_journey_definitions_status"))
    op.drop_table("journey_definitions")

    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            _status("draft", "approved", "live", "paused", "archived", name="journey_status"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approved_version", sa.Integer(), nullable=True),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("approved_by", sa.String(length=320), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("name", name=op.f("uq_journeys_name")),
    )
    op.create_index(op.f("ix_journeys_status"), "journeys", ["status"], unique=False)
    op.create_table(
        "journey_versions",
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_versions_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("journey_id", "version", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "journey_enrolments",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=128), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("entry_key", sa.String(length=300), nullable=False),
        sa.Column("entry_ref", sa.String(length=300), nullable=False),
        sa.Column("open_key", sa.String(length=700), nullable=True),
        sa.Column(
            "state",
            _status("active", "waiting", "completed", "exited", name="enrolment_state"),
            nullable=False,
        ),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_event", sa.String(length=200), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arm", sa.String(length=64), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("goal_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sa.String(length=64), nullable=True),
        sa.Column("lease_holder", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_enrolments_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_enrolments")),
        sa.UniqueConstraint(
            "journey_id", "entry_ref", name=op.f("uq_journey_enrolments_journey_id_entry_ref")
        ),
        sa.UniqueConstraint(
            "journey_id", "open_key", name=op.f("uq_journey_enrolments_journey_id_open_key")
        ),
    )
    op.create_index("ix_journey_enrolments_due", "journey_enrolments", ["state", "due_at"])
    op.create_index(
        "ix_journey_enrolments_waiting", "journey_enrolments", ["wait_event", "subject"]
    )
    op.create_index("ix_journey_enrolments_person", "journey_enrolments", ["subject", "journey_id"])
    op.create_table(
        "journey_steps",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("enrolment_id", sa.BigInteger(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["journey_enrolments.id"],
            name=op.f("fk_journey_steps_enrolment_id_journey_enrolments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_steps")),
        sa.UniqueConstraint(
            "enrolment_id", "visit", name=op.f("uq_journey_steps_enrolment_id_visit")
        ),
    )
    op.create_index("ix_journey_steps_journey", "journey_steps", ["journey_id", "step"])


def downgrade() -> None:
    op.drop_index("ix_journey_steps_journey", table_name="journey_steps")
    op.drop_table("journey_steps")
    for name in ("person", "waiting", "due"):
        op.drop_index(f"ix_journey_enrolments_{name}", table_name="journey_enrolments")
    op.drop_table("journey_enrolments")
    op.drop_table("journey_versions")
    op.drop_index(op.f("ix_journeys_status"), table_name="journeys")
    op.drop_table("journeys")
    # Revision 0001's placeholders, empty as they were.
    op.create_table(
        "journey_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            _status(
                "draft", "pending_approval", "live", "paused", "archived", name="journey_status"
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("approved_by", sa.String(length=320), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_definitions")),
    )
    op.create_index(op.f("ix_journey_definitions_name"), "journey_definitions", ["name"])
    op.create_index(op.f("ix_journey_definitions_status"), "journey_definitions", ["status"])
    op.create_table(
        "journey_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.String(length=128), nullable=False),
        sa.Column(
            "state",
            _status("active", "waiting", "completed", "exited", name="enrolment_state"),
            nullable=False,
        ),
        sa.Column("current_step", sa.String(length=128), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journey_definitions.id"],
            name=op.f("fk_journey_enrolments_journey_id_journey_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_enrolments")),
    )
    op.create_index(op.f("ix_journey_enrolments_journey_id"), "journey_enrolments", ["journey_id"])
    op.create_index(
        op.f("ix_journey_enrolments_next_run_at"), "journey_enrolments", ["next_run_at"]
    )
    op.create_index(op.f("ix_journey_enrolments_profile_id"), "journey_enrolments", ["profile_id"])
    op.create_index(
        "uq_journey_enrolments_open",
        "journey_enrolments",
        ["journey_id", "profile_id"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
