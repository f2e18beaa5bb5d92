"""Refused anonymous collector requests: a bounded sample per hour, every one counted, on
SQLite and PostgreSQL; and admin tokens: one active after a rotation, digests only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnichannel.ingest.unauthorized import (
    INVALID_KEY,
    MISSING_KEY,
    UnauthorizedRequests,
    unauthorized_counts,
)
from omnichannel.opstore import OpStore
from omnichannel.opstore.admin_tokens import (
    active_admin_tokens,
    create_admin_token,
    find_admin_token,
    rotate_admin_token,
)

NINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_each_hour_keeps_its_own_bounded_sample_and_every_request_is_counted(
    store: OpStore,
) -> None:
    guard = UnauthorizedRequests(store, sample_per_hour=2, sample_bytes=100)
    kept = [guard.note(MISSING_KEY, size=10, now=NINE + timedelta(minutes=m)) for m in range(5)]
    later = NINE + timedelta(hours=1, minutes=5)
    kept += [guard.note(INVALID_KEY, size=1000, now=later) for _ in range(3)]
    assert kept == [True, True, False, False, False, True, True, False]
    guard.flush()
    # Same hour, after the flush: still counted, no longer sampled.
    assert not guard.note(INVALID_KEY, size=10, now=later + timedelta(minutes=30))
    guard.flush()
    with store.session() as session:
        counts = unauthorized_counts(session)
    assert counts["requests"] == 9 and counts["sampled"] == 4
    assert counts["by_reason"] == {MISSING_KEY: 5, INVALID_KEY: 4}
    assert counts["latest_hour"] == (NINE + timedelta(hours=1)).isoformat()


def test_rotation_leaves_one_active_token_and_stores_no_token(store: OpStore) -> None:
    with store.session() as session:
        first = create_admin_token(session, actor="test")
        second = rotate_admin_token(session, actor="test")
    with store.session() as session:
        assert find_admin_token(session, first) is None
        assert find_admin_token(session, second) is not None
        assert find_admin_token(session, second + "x") is None
        assert find_admin_token(session, "omni_admin_\udc00") is None  # not a token, no crash
        [active] = active_admin_tokens(session)
        assert active.prefix == second[:15] and second not in active.token_hash
