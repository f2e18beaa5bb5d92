"""Migrations build the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, select, text
from sqlalchemy.exc import StatementError

from omnichannel.errors import SchemaVersionError
from omnichannel.opstore import (
    OpStore,
    OpStoreError,
    current_revision,
    head_revision,
    open_opstore,
)
from omnichannel.opstore.migrate import alembic_config
from omnichannel.opstore.models import Base, Source

EXPECTED_TABLES = {
    "sources",
    "write_keys",
    "users",
    "segment_definitions",
    "journeys",  # 0007 (0001's journey_definitions replaced)
    "journey_versions",  # 0007
    "journey_enrolments",  # 0007 (0001's placeholder replaced)
    "journey_steps",  # 0007
    "consents",
    "audit_log",
    "admin_tokens",  # 0002
    "unauthorized_requests",  # 0002
    "job_runs",  # 0003
    "job_locks",  # 0003
    "consumer_checkpoints",  # 0004
    "outbox",  # 0005
    "message_templates",  # 0005
    "message_template_versions",  # 0005
    "suppressions",  # 0005
    "inbox_messages",  # 0005
    "api_tokens",  # 0008
    "web_sessions",  # 0008
    "alert_rules",  # 0009
    "alerts",  # 0009
    "experiments",  # 0010
    "experiment_exposures",  # 0010
    "model_versions",  # 0012
    "model_evaluations",  # 0012
    "comments",  # 0013
    "notifications",  # 0013
    "large_sends",  # 0013
    "teams",  # 0014
    "team_members",  # 0014
    "reports",  # 0014
    "report_versions",  # 0014
    "budget_plans",  # 0018
    "budget_outcomes",  # 0018
    "consent_records",  # 0015
    "privacy_requests",  # 0015
    "erased_identifiers",  # 0015
    "partner_exchanges",  # 0019
    "channel_listings",  # 0016
    "stock_locations",  # 0016
    "stock_levels",  # 0016
    "stock_available",  # 0020
    "stock_reservations",  # 0016
    "stock_movements",  # 0016
    "commerce_orders",  # 0016
    "order_shipments",  # 0016
    "order_status_history",  # 0016
    "surveys",  # 0017
    "survey_versions",  # 0017
    "survey_invitations",  # 0017
    "survey_responses",  # 0017
}


def _diff(store: OpStore, metadata: MetaData) -> list[object]:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_open_creates_every_table_at_head(store: OpStore, opstore_url: str) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert tables == EXPECTED_TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == EXPECTED_TABLES
    assert store.found_revision is None
    assert store.revision == head_revision()
    assert current_revision(opstore_url) == head_revision()


def test_models_and_migrations_agree(store: OpStore) -> None:
    # A model changed without a revision shows up here as a non-empty diff.
    assert _diff(store, Base.metadata) == []


def test_a_model_change_without_migration_is_detected(store: OpStore) -> None:
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["users"].append_column(Column("login_count", Integer, nullable=True))
    diff = _diff(store, changed)
    assert [(op[0], op[3].name) for op in diff] == [("add_column", "login_count")]


def test_reopening_keeps_data_and_changes_nothing(opstore_url: str) -> None:
    with open_opstore(opstore_url) as first, first.session() as session:
        session.add(Source(name="pos", kind="pos"))
    with open_opstore(opstore_url) as again:
        assert again.found_revision == head_revision()
        assert not again.upgraded
        with again.session() as session:
            assert session.scalars(select(Source.name)).all() == ["pos"]
        assert _diff(again, Base.metadata) == []


def test_a_store_from_a_newer_version_is_refused(opstore_url: str) -> None:
    with open_opstore(opstore_url) as store, store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaVersionError) as caught:
        open_opstore(opstore_url)
    message = str(caught.value)
    assert "'9999_future'" in message
    assert f"newest it knows is {head_revision()!r}" in message
    assert "newer Omnichannel" in message
    # Refusing must not have touched the stamp.
    assert current_revision(opstore_url) == "9999_future"


def test_an_older_store_is_upgraded_on_open(opstore_url: str) -> None:
    with open_opstore(opstore_url) as store, store.engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
    assert current_revision(opstore_url) is None
    with open_opstore(opstore_url) as reopened:
        assert reopened.revision == head_revision()
        assert set(inspect(reopened.engine).get_table_names()) >= EXPECTED_TABLES
        assert _diff(reopened, Base.metadata) == []


def test_current_revision_does_not_create_a_missing_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "opstore.sqlite"
    assert current_revision(f"sqlite:///{path}") is None
    assert not path.exists()


def test_opening_creates_the_sqlite_directory_with_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "new-home" / "opstore.sqlite"
    with open_opstore(f"sqlite:///{path}") as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert path.exists()


def test_in_memory_sqlite_keeps_its_schema_across_sessions() -> None:
    with open_opstore("sqlite://") as store:
        with store.session() as session:
            session.add(Source(name="crm", kind="crm"))
        with store.session() as session:
            assert session.scalars(select(Source.name)).one() == "crm"


def test_datetimes_come_back_aware_in_utc(store: OpStore) -> None:
    shanghai = timezone(timedelta(hours=8))
    written = datetime(2025, 3, 1, 9, 30, tzinfo=shanghai)
    with store.session() as session:
        session.add(Source(name="app", kind="http", created_at=written))
    with store.session() as session:
        read = session.scalars(select(Source.created_at)).one()
    assert read == written
    assert read.tzinfo == UTC
    assert read.hour == 1


def test_naive_datetimes_are_refused(store: OpStore) -> None:
    with pytest.raises(StatementError, match="has no time zone"), store.session() as session:
        session.add(Source(name="naive", kind="file", created_at=datetime(2025, 1, 1)))


@pytest.mark.postgres
def test_an_unreachable_store_is_reported_without_its_password(postgres_server_url: str) -> None:
    base = postgres_server_url.replace("postgresql://omni@", "postgresql+psycopg://omni:s3cret@")
    url = base.rsplit("/", 1)[0] + "/omni_no_such_database"
    with pytest.raises(OpStoreError) as caught:
        open_opstore(url)
    message = str(caught.value)
    assert "omni_no_such_database" in message
    assert "s3cret" not in message
    assert "***" in message
