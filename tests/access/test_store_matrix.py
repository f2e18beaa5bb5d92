"""Users of every role, tokens and sessions on SQLite and PostgreSQL (the migrated schema)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from omnichannel.access.permissions import ROLES
from omnichannel.access.users import UsersCapability
from omnichannel.config import Settings
from omnichannel.opstore import OpStore
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD


def test_every_role_is_stored_and_an_unknown_one_refused_by_the_database(
    store: OpStore, opstore_url: str, tmp_path: Path
) -> None:
    platform = Platform(Settings(home=tmp_path, opstore_url=opstore_url))
    try:
        users = UsersCapability(platform)
        for role in ROLES:
            users.create(f"{role}@shop.example", role=role, password=PASSWORD, actor="t")
            made = users.create_token(f"{role}@shop.example", name="t", actor="t")
            who = users.principal_for_token(made["token"])
            assert who is not None and who.role == role
        assert sorted(u["role"] for u in users.list()) == sorted(ROLES)
        # The migration's CHECK constraint holds on either database: no role by hand.
        refused = pytest.raises(Exception, match=r"(?i)check|constraint")
        with refused, platform.opstore.session() as session:
            session.execute(text("UPDATE users SET role = 'engineer' WHERE id = 1"))
    finally:
        platform.close()
