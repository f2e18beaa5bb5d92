"""The suppression list sealed at rest: an address suppressed on a channel is not in the
operational store's bytes, yet is found (in any letter case), listed in clear, still
found after both key rotations, and erased with its person. A list written before
sealing (revision 0021) keeps working after the upgrade, and is sealed as it is used."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from omnichannel.access.audit import entries
from omnichannel.channels.suppressions import (
    add_suppression,
    is_suppressed,
    list_suppressions,
    remove_suppression,
    suppressed_among,
)
from omnichannel.config import Settings
from omnichannel.opstore import open_opstore
from omnichannel.opstore.migrate import alembic_config
from omnichannel.platform import Platform
from omnichannel.privacy.keyring import Keyring

BOUNCED = "gone.sealed.4417@shop.test"
OLD = "old.clear.2231@shop.test"


def _store_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("opstore.sqlite*"))


def _found(platform: Platform) -> tuple[str | None, list[str], list[str]]:
    with platform.opstore.session() as session:
        row = is_suppressed(session, channel="email", address=BOUNCED.upper())
        among = suppressed_among(session, channel="email", addresses=[BOUNCED.title(), OLD])
        listed = [r.address for r in list_suppressions(session, channel="email")]
        return (row.reason if row else None), sorted(among), listed


def test_a_suppressed_address_is_sealed_found_rotated_and_erased(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Platform(Settings(home=home)) as platform:
        with platform.opstore.session() as session:
            add_suppression(
                session, channel="email", address=BOUNCED, reason="hard_bounce", actor="smtp"
            )
            # A second bounce for the same mailbox replaces the first: still one entry.
            add_suppression(
                session, channel="email", address=BOUNCED, reason="complaint", actor="smtp"
            )
        shown = _found(platform)
        platform.privacy.rotate_keys(actor="test")
        after_data_key = _found(platform)
        platform.privacy.rotate_keys(actor="test", master=True)
        after_master = _found(platform)
        [audited, _] = entries(platform.opstore, target="suppression")
    assert shown == ("complaint", [BOUNCED.title()], [BOUNCED])
    assert after_data_key == shown and after_master == shown
    assert audited["details"]["address"] == BOUNCED
    assert BOUNCED.encode() not in _store_bytes(home)
    with Platform(Settings(home=home)) as platform:  # a new process, after both rotations
        assert _found(platform) == shown
        platform.privacy.erase(f"email:{BOUNCED}", requested_by="test")
        assert _found(platform) == (None, [], [])


def test_a_list_written_before_sealing_is_found_after_the_upgrade_and_sealed_on_use(
    opstore_url: str, tmp_path: Path
) -> None:
    ring = Keyring.of_home(tmp_path / "home")
    with open_opstore(opstore_url) as store, store.engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0021")
        connection.execute(
            text(
                "INSERT INTO suppressions (channel, address, reason, source, detail, created_at)"
                " VALUES ('email', :a, 'hard_bounce', 'smtp', '{}', :t), "
                "('email', :b, 'manual', 'desk', '{}', :t)"
            ),
            {"a": OLD, "b": BOUNCED, "t": "2026-01-01 00:00:00+00:00"},
        )
    with open_opstore(opstore_url, sealer=lambda: ring) as store:  # upgraded on open
        with store.session() as session:
            assert is_suppressed(session, channel="email", address=OLD.upper()) is not None
            found = suppressed_among(session, channel="email", addresses=[OLD, BOUNCED])
            assert sorted(found) == sorted([OLD, BOUNCED])
            # Suppressing it again seals the old entry instead of adding a second one.
            add_suppression(session, channel="email", address=OLD, reason="complaint", actor="t")
            remove_suppression(session, channel="email", address=BOUNCED, actor="t")
        with store.session() as session:
            [row] = list_suppressions(session)
            assert (row.address, row.reason) == (OLD, "complaint")
            assert is_suppressed(session, channel="email", address=BOUNCED) is None
        with store.engine.begin() as connection:
            stored = connection.execute(text("SELECT address, address_key FROM suppressions"))
            [(address, key)] = list(stored)
            assert address.startswith("pii1:") and OLD not in key
            with pytest.raises(RuntimeError, match="1 suppressed addresses are sealed"):
                command.downgrade(alembic_config(connection=connection), "0021")
