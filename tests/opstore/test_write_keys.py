"""Write keys: found by their hash, never stored in plain text, dead once revoked."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from omnichannel.opstore import OpStore
from omnichannel.opstore.audit import entries
from omnichannel.opstore.models import Source, WriteKey
from omnichannel.opstore.write_keys import create_write_key, find_write_key, revoke_write_key


def test_a_key_is_found_by_its_hash_and_stored_only_hashed(
    store: OpStore, web_source: Source
) -> None:
    with store.session() as session:
        source = session.get(Source, web_source.id)
        assert source is not None
        key, secret = create_write_key(session, source=source, actor="cli")

    with store.session() as session:
        found = find_write_key(session, secret)
        assert found is not None
        assert found.id == key.id
        assert found.source.name == "web"

    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM write_keys")).mappings().all()
    assert len(rows) == 1
    stored = rows[0]
    assert stored["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in stored.values())
    # The display prefix identifies the key without revealing it.
    assert secret.startswith(stored["prefix"])
    assert len(stored["prefix"]) < len(secret) // 2


def test_unknown_and_revoked_keys_are_not_valid(store: OpStore, web_source: Source) -> None:
    with store.session() as session:
        source = session.get(Source, web_source.id)
        assert source is not None
        _kept, kept_secret = create_write_key(session, source=source, actor="cli")
        dropped, dropped_secret = create_write_key(session, source=source, actor="cli")

    with store.session() as session:
        row = session.get(WriteKey, dropped.id)
        assert row is not None
        revoke_write_key(session, key=row, actor="ana@example.com")

    with store.session() as session:
        assert find_write_key(session, dropped_secret) is None
        assert find_write_key(session, kept_secret) is not None
        assert find_write_key(session, kept_secret + "x") is None
        assert find_write_key(session, "") is None
        # The revoked row is kept (for the audit trail), just not valid.
        revoked_at = session.scalars(
            select(WriteKey.revoked_at).where(WriteKey.id == dropped.id)
        ).one()
        assert revoked_at is not None
        actions = [entry.action for entry in entries(session, object_type="write_key")]
    assert actions == ["write_key.create", "write_key.create", "write_key.revoke"]


def test_deleting_a_source_deletes_its_keys(store: OpStore, web_source: Source) -> None:
    with store.session() as session:
        source = session.get(Source, web_source.id)
        assert source is not None
        create_write_key(session, source=source, actor="cli")
    with store.engine.begin() as connection:
        # Raw SQL, so the database's ON DELETE CASCADE (foreign keys on, on SQLite too)
        # does the work rather than the ORM's cascade.
        connection.execute(text("DELETE FROM sources"))
        assert connection.execute(text("SELECT count(*) FROM write_keys")).scalar() == 0
