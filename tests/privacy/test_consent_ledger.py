"""The consent ledger: history per purpose and channel, and the send path obeying it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.errors import ValidationError
from omnichannel.opstore.consent import PROFILE_SUBJECT, set_consent
from omnichannel.platform import Platform
from omnichannel.privacy.consent_events import capture
from tests.privacy.conftest import person_with_unique_name

NOTE = {"subject": "Your order", "text": "It has shipped."}


def test_a_withdrawal_through_the_ledger_refuses_the_next_send(demo_platform: Platform) -> None:
    profile_id, email = person_with_unique_name(demo_platform)
    send = {"channel": "email", "profile_id": profile_id, "content": NOTE, "kind": "transactional"}
    before = demo_platform.messages.send(**send)
    assert before["status"] == "queued", before
    demo_platform.consent.record(
        f"email:{email}",
        purpose="marketing",
        channel="email",
        status="withdrawn",
        source="preference_centre",
        actor="ana@shop.example",
        text_version="2026-03",
        evidence={"form": "preferences"},
    )
    after = demo_platform.messages.send(**send)
    assert after["status"] == "dropped" and after["reason"] == "consent", after
    shown = demo_platform.consent.show(f"profile:{profile_id}")
    assert shown["channels"]["email"] == "withdrawn"
    [entry] = demo_platform.consent.history(f"profile:{profile_id}")
    assert (entry["source"], entry["actor"], entry["text_version"]) == (
        "preference_centre",
        "ana@shop.example",
        "2026-03",
    )


def test_an_opt_out_written_by_the_channels_is_in_the_history(demo_platform: Platform) -> None:
    with demo_platform.opstore.session() as session:
        set_consent(
            session,
            subject_type=PROFILE_SUBJECT,
            subject_value="p-history",
            channel="sms",
            status="unsubscribed",
            source="sms reply STOP",
            actor="provider",
        )
    [entry] = demo_platform.consent.history("profile:p-history")
    assert (entry["purpose"], entry["channel"], entry["status"]) == (
        "marketing",
        "sms",
        "unsubscribed",
    )
    assert entry["source"] == "sms reply STOP"


def test_the_ledger_names_what_it_refuses(demo_platform: Platform) -> None:
    record = demo_platform.consent.record
    with pytest.raises(ValidationError, match=r"purpose='spam'.*marketing, analytics"):
        record("profile:p1", purpose="spam", status="granted", source="t", actor="t")
    with pytest.raises(ValidationError, match=r"text_version.*separate consent"):
        record(
            "profile:p1", purpose="cross_border_transfer", status="granted", source="t", actor="t"
        )
    with pytest.raises(ValidationError, match="lawful_basis='because'"):
        record(
            "profile:p1",
            purpose="analytics",
            status="granted",
            lawful_basis="because",
            source="t",
            actor="t",
        )
    with pytest.raises(ValidationError, match="person='nobody'"):
        record("nobody", purpose="analytics", status="granted", source="t", actor="t")


def test_consent_updated_events_become_ledger_decisions(demo_platform: Platform) -> None:
    props = {"purpose": "analytics", "status": "denied", "text_version": "banner-7"}
    batch = pa.Table.from_pylist(
        [
            {
                "type": "track",
                "event": "Consent Updated",
                "user_id": "u-banner",
                "properties": json.dumps(props),
                "message_id": "m-1",
                "source": "web",
            },
            {
                "type": "track",
                "event": "Product Viewed",
                "user_id": "u-banner",
                "properties": "{}",
                "message_id": "m-2",
                "source": "web",
            },
        ]
    )
    assert capture(demo_platform.opstore, batch) == 1
    with demo_platform.opstore.session() as session:
        from omnichannel.privacy import ledger

        [entry] = ledger.history(session, [("user_id", "u-banner")])
        assert (entry.purpose, entry.status, entry.text_version) == (
            "analytics",
            "denied",
            "banner-7",
        )
        assert entry.evidence["message_id"] == "m-1" and entry.source == "event:web"


def test_a_csv_import_records_every_row_or_none(demo_platform: Platform, tmp_path: Path) -> None:
    good = tmp_path / "signups.csv"
    good.write_text(
        "identifier,purpose,channel,status,at\n"
        "profile:p-csv,marketing,sms,granted,2026-05-01T09:30:00Z\n"
        "profile:p-csv,profiling,*,denied,\n"
    )
    assert (
        demo_platform.consent.import_file(good, source="store tablet", actor="t")["recorded"] == 2
    )
    assert demo_platform.consent.show("profile:p-csv")["purposes"]["profiling"] is False
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "identifier,purpose,channel,status\nprofile:p-bad,marketing,sms,granted\n"
        "profile:p-bad,marketing,fax,granted\n"
    )
    with pytest.raises(ValidationError, match="line 3: channel"):
        demo_platform.consent.import_file(bad, source="t", actor="t")
    assert demo_platform.consent.history("profile:p-bad") == []
