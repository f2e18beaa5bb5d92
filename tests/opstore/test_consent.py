"""Consent: one current row per subject and channel; a change replaces it and is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from omnichannel.errors import ValidationError
from omnichannel.opstore import OpStore
from omnichannel.opstore.audit import entries
from omnichannel.opstore.consent import get_consent, set_consent
from omnichannel.opstore.models import Consent, ConsentStatus, utcnow

SUBJECT = {"subject_type": "email", "subject_value": "li@example.com"}


def test_an_update_replaces_the_current_row(store: OpStore) -> None:
    granted_at = utcnow() - timedelta(days=3)
    with store.session() as session:
        set_consent(
            session,
            **SUBJECT,
            channel="email",
            status="granted",
            source="signup_form",
            actor="collector",
            at=granted_at,
        )
    with store.session() as session:
        current = set_consent(
            session,
            **SUBJECT,
            channel="email",
            status=ConsentStatus.UNSUBSCRIBED,
            source="unsubscribe_link",
            actor="collector",
        )
        assert current.status is ConsentStatus.UNSUBSCRIBED
    with store.session() as session:
        rows = session.scalars(select(Consent)).all()
        assert len(rows) == 1
        assert rows[0].status is ConsentStatus.UNSUBSCRIBED
        assert rows[0].source == "unsubscribe_link"
        assert rows[0].updated_at > granted_at
        fetched = get_consent(session, **SUBJECT, channel="email")
        assert fetched is not None and fetched.id == rows[0].id
        history = [entry.details for entry in entries(session, object_type="consent")]
    assert history == [
        {"from": None, "to": "granted", "source": "signup_form"},
        {"from": "granted", "to": "unsubscribed", "source": "unsubscribe_link"},
    ]


def test_channels_and_subjects_are_kept_apart(store: OpStore) -> None:
    with store.session() as session:
        set_consent(session, **SUBJECT, channel="email", status="denied", source="", actor="t")
        set_consent(session, **SUBJECT, channel="sms", status="granted", source="", actor="t")
        set_consent(
            session,
            subject_type="profile",
            subject_value="prof-1",
            channel="email",
            status="granted",
            source="",
            actor="t",
        )
    with store.session() as session:
        assert get_consent(session, **SUBJECT, channel="push") is None
        sms = get_consent(session, **SUBJECT, channel="SMS")
        assert sms is not None and sms.status is ConsentStatus.GRANTED
        assert len(session.scalars(select(Consent)).all()) == 3


def test_the_database_refuses_a_second_current_row(store: OpStore) -> None:
    insert = text(
        "INSERT INTO consents (subject_type, subject_value, channel, status, source, updated_at)"
        " VALUES ('email', 'li@example.com', 'email', :status, '', CURRENT_TIMESTAMP)"
    )
    with store.engine.begin() as connection:
        connection.execute(insert, {"status": "granted"})
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(insert, {"status": "denied"})


def test_bad_values_name_the_field(store: OpStore) -> None:
    with store.session() as session:
        with pytest.raises(ValidationError, match="status='maybe'"):
            set_consent(session, **SUBJECT, channel="email", status="maybe", source="", actor="t")
        with pytest.raises(ValidationError, match="channel="):
            set_consent(
                session, **SUBJECT, channel="e mail", status="granted", source="", actor="t"
            )
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        # The CHECK constraint holds even for writers that bypass this module.
        connection.execute(
            text(
                "INSERT INTO consents (subject_type, subject_value, channel, status, source,"
                " updated_at) VALUES ('profile', 'p', 'email', 'maybe', '', CURRENT_TIMESTAMP)"
            )
        )
