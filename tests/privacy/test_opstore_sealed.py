"""The outbox, the in-app inbox and the audit log sealed at rest: a real send through the
send path (SMTP with aiosmtpd), an in-app message and an audited change leave neither
the address, the content nor the identifiers in the operational store's bytes; the mail
arrives as written; listings open them, after a data-key and a master-key rotation too;
erasure of the person still finds and removes their rows."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from omnichannel.access.audit import entries, record
from omnichannel.channels.inbox import list_inbox
from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.opstore.models import OutboxStatus
from omnichannel.platform import Platform
from tests.channels.servers.smtp import SmtpServer, smtp_server

EMAIL = "ann.sealed.77@example.com"
USER = "u-ann-sealed-77"
SUBJECT = "Spring offer 7731"
TEXT = "Hello Ann, your code is SECRETCODE7731"
# The audit entry's target stays clear (it is what the log is filtered by): not a person.
TICKET = "ticket:4411"
SECRETS = (EMAIL, USER, "SECRETCODE7731", "Spring offer 7731", "Inbox note 5566")


def _store_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("opstore.sqlite*"))


def _yaml(smtp: SmtpServer) -> str:
    return (
        "public_base_url: https://shop.example\n"
        "email:\n"
        f"  host: {smtp.host}\n  port: {smtp.port}\n"
        "  from_address: news@shop.example\n"
        "  timeout: 5\n  retry: {max_attempts: 2, base: 0.05, max: 0.1}\n"
        "inbox: {}\n"
    )


def _settled(platform: Platform, ids: list[int]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = [platform.messages.get(i, history=False)["status"] for i in ids]
        if all(s == OutboxStatus.SENT for s in statuses):
            return
        time.sleep(0.05)
    raise AssertionError(f"not sent in time: {statuses}")


def _shown(platform: Platform) -> dict[str, Any]:
    """What the listings show: the outbox, one message with content, inbox, audit."""
    listed = platform.messages.list()
    mail = next(m for m in listed if m["channel"] == "email")
    return {
        "addresses": sorted(m["address"] for m in listed),
        "mail": platform.messages.get(mail["id"], history=False),
        "inbox": [(m["title"], m["body"]) for m in list_inbox(platform.opstore, USER)["messages"]],
        "audit": [(e["details"], e["after"]) for e in entries(platform.opstore, target=TICKET)],
    }


def test_outbox_inbox_and_audit_are_sealed_opened_rotated_and_erased(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with smtp_server() as smtp, Platform(Settings(home=home)) as platform:
        platform.messages.use_config(parse_channels_config(_yaml(smtp)))
        mail = platform.messages.send(
            channel="email", address=EMAIL, content={"subject": SUBJECT, "text": TEXT}
        )
        note = platform.messages.send(
            channel="inbox", address=USER, content={"title": "Inbox note 5566", "body": TEXT}
        )
        with platform.opstore.session() as session:
            record(
                session,
                "desk@shop.example",
                "customer.note",
                TICKET,
                after={"email": EMAIL},
                details={"said": f"called from {EMAIL} for {USER}"},
            )
        platform.channels.start(["email", "inbox"], poll_seconds=0.05)
        try:
            _settled(platform, [int(mail["outbox_id"]), int(note["outbox_id"])])
        finally:
            platform.channels.stop()
        shown = _shown(platform)
        platform.privacy.rotate_keys(actor="test")
        after_data_key = _shown(platform)
        platform.privacy.rotate_keys(actor="test", master=True)
        after_master = _shown(platform)
    [got] = smtp.messages
    assert got.recipients == [EMAIL] and got.message["Subject"] == SUBJECT
    assert TEXT in got.message.get_body(("plain",)).get_content()
    raw = _store_bytes(home)
    assert [s for s in SECRETS if s.encode() in raw] == []
    assert shown["addresses"] == sorted([EMAIL, USER])
    assert shown["mail"]["content"]["subject"] == SUBJECT
    assert shown["inbox"] == [("Inbox note 5566", TEXT)]
    assert shown["audit"] == [({"said": f"called from {EMAIL} for {USER}"}, {"email": EMAIL})]
    assert after_data_key == shown and after_master == shown
    with Platform(Settings(home=home)) as platform:  # a new process, after both rotations
        assert _shown(platform) == shown
        platform.privacy.erase(f"email:{EMAIL}", requested_by="test")
        platform.privacy.erase(f"user_id:{USER}", requested_by="test")
        assert platform.messages.list() == []
        assert list_inbox(platform.opstore, USER)["messages"] == []
        [entry] = entries(platform.opstore, target=TICKET)
    assert entry["details"] == {"said": "called from [erased] for [erased]"}
    assert entry["after"] == {"email": "[erased]"}


def test_rows_written_before_sealing_still_read_and_are_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Platform(Settings(home=home)) as platform:
        platform.messages.use_config(parse_channels_config("inbox: {}\n"))
        platform.opstore  # noqa: B018 - creates the store at head
    # What an older version wrote: clear values and no blind index.
    with sqlite3.connect(home / "opstore.sqlite") as con:
        con.execute(
            "INSERT INTO inbox_messages (user_id, title, body, data, created_at)"
            " VALUES (?, 'Old title', 'Old body', '{}', '2026-01-01 00:00:00.000000')",
            (USER,),
        )
    with Platform(Settings(home=home)) as platform:
        found = list_inbox(platform.opstore, USER)["messages"]
        assert [(m["title"], m["body"]) for m in found] == [("Old title", "Old body")]
        platform.privacy.erase(f"user_id:{USER}", requested_by="test")
        assert list_inbox(platform.opstore, USER)["messages"] == []


def test_a_downgrade_below_sealing_refuses_while_messages_are_sealed(tmp_path: Path) -> None:
    from alembic import command

    from omnichannel.opstore.migrate import alembic_config

    home = tmp_path / "home"
    with Platform(Settings(home=home)) as platform:
        platform.messages.use_config(parse_channels_config("inbox: {}\n"))
        platform.messages.send(channel="inbox", address=USER, content={"title": "t", "body": "b"})
        with platform.opstore.engine.begin() as connection, pytest.raises(RuntimeError) as refused:
            command.downgrade(alembic_config(connection=connection), "0020")
    assert "below revision 0021: 1 messages are sealed" in str(refused.value)
    with sqlite3.connect(home / "opstore.sqlite") as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0021",)]
