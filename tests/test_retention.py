"""The retention job deletes what OMNI_RETENTION no longer keeps, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.errors import ConfigError
from omnichannel.opstore.audit import record
from omnichannel.opstore.models import AuditEntry
from omnichannel.platform import Platform

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _events(ids_and_days: list[tuple[str, int]]) -> pa.Table:
    at = [(NOW - timedelta(days=d)).replace(tzinfo=None) for _, d in ids_and_days]
    return pa.table(
        {
            "message_id": [m for m, _ in ids_and_days],
            "type": ["track"] * len(at),
            "event": ["Viewed"] * len(at),
            "received_at": pa.array(at, pa.timestamp("us")),
            "loaded_at": pa.array(at, pa.timestamp("us")),
        }
    )


def test_rows_older_than_their_tables_period_go_and_the_run_is_audited(
    tmp_path: Path, warehouse_url: str
) -> None:
    keep = "events=30d, audit_log=10d, dead_letters=off"
    opened = Platform.open(tmp_path / "home", retention=keep, warehouse_url=warehouse_url)
    with opened as platform:
        with platform.warehouse.writer() as wh:
            wh.append("events", _events([("old", 31), ("edge", 29), ("new", 1)]))
        with platform.opstore.session() as session:
            for days in (11, 9):
                record(
                    session,
                    actor="t",
                    action="test.entry",
                    object_type="test",
                    object_id=days,
                    at=NOW - timedelta(days=days),
                )
        run = platform.jobs.run("retention", options={"as_of": NOW.isoformat()})
        assert run.status == "succeeded", run.error
        assert run.detail["events"]["deleted"] == 1 and run.detail["audit_log"]["deleted"] == 1
        assert "dead_letters" not in run.detail  # off: kept for good
        with platform.warehouse.reader() as wh:
            left = wh.table("events").message_id.to_pyarrow().to_pylist()
        assert sorted(left) == ["edge", "new"]
        with platform.opstore.session() as session:
            actions = [(e.action, e.object_id) for e in session.query(AuditEntry)]
        assert ("test.entry", "9") in actions and ("test.entry", "11") not in actions
        assert ("retention.applied", None) in actions  # the deletion itself is on record
        again = platform.jobs.run("retention", options={"as_of": NOW.isoformat()})
        assert again.rows == 0


def test_a_table_retention_cannot_apply_to_is_refused_naming_it(tmp_path: Path) -> None:
    with Platform.open(tmp_path / "home", retention="stock_movements=30d") as platform:
        run = platform.jobs.run("retention")
    assert run.status == "failed"
    assert "OMNI_RETENTION.stock_movements" in str(run.error) and "events" in str(run.error)
    with pytest.raises(ConfigError, match="expected table=period"):
        from omnichannel.retention import parse_retention

        parse_retention("events")
