"""Audience files: what Google and Meta receive for each person, and who is left out and why.

Expected hashes are SHA-256 of the normalised values written out by hand from each
platform's documented rules, so a wrong normalisation (a kept gmail dot, a '+' sent to
Meta, a state not abbreviated) changes the file and fails here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from omnichannel.config import Settings
from omnichannel.errors import ValidationError
from omnichannel.platform import Platform
from omnichannel.segments.export import NO_CONTACT, export_members
from tests.segments.audience import PEOPLE, audience_settings, build_audience_home
from tests.support.postgres import create_database


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def audience(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, str]]:
    """The audience installation with its warehouse on each engine of the matrix."""
    home = tmp_path_factory.mktemp("export") / "home"
    url = None
    if request.param == "postgres":
        server: str = request.getfixturevalue("postgres_server_url")
        database = create_database(server, f"omni_{uuid.uuid4().hex[:12]}")
        url = database.replace("postgresql://", "postgres://", 1)
    profile_of = build_audience_home(home, url)
    return audience_settings(home, url), profile_of


@pytest.fixture
def platform(audience: tuple[Settings, dict[str, str]]) -> Iterator[Platform]:
    with Platform(audience[0]) as opened:
        yield opened


def _export(platform: Platform, fmt: str, **options: Any) -> tuple[list[list[str]], Any]:
    out = io.StringIO()
    with platform.warehouse.reader() as wh:
        ids = wh.table("profiles").select("profile_id")
        result = export_members(
            wh, ids, fmt=fmt, out=out, consents=platform.config.consents(), **options
        )
    return list(csv.reader(io.StringIO(out.getvalue()))), result


def test_google_customer_match_file_is_normalised_hashed_and_honours_consent(
    platform: Platform,
) -> None:
    rows, result = _export(platform, "google")
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    body = sorted(rows[1:])
    ann = [h("johnsmith@gmail.com"), h("+8613812345678"), h("zoë"), h("pérez smith"), "US"]
    assert [*ann, "94016-1234"] in body
    # cy unsubscribed from email, no ads decision: the phone goes, the email does not.
    assert ["", h("+8613900001111"), "", "", "", ""] in body
    # fay unsubscribed from email but granted ads: the ads decision wins.
    assert [h("fay@mail.cn"), "", "", "", "", ""] in body
    assert len(body) == 3 and result.rows == 3 and result.members == len(PEOPLE)
    assert result.left_out == {
        "ads consent denied": 1,  # bob
        "email consent unsubscribed": 1,  # dee: her only contact was refused
        NO_CONTACT: 1,  # eve: a first name only
    }


def test_meta_custom_audience_file_uses_metas_rules(platform: Platform) -> None:
    rows, result = _export(platform, "meta")
    assert rows[0] == ["EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY"]
    ann = [
        h("john.smith@gmail.com"),  # Meta keeps gmail dots
        h("8613812345678"),  # digits only, country code, no '+'
        h("zoë"),
        h("pérezsmith"),
        h("94016"),  # a US zip: its first five digits
        h("sanfrancisco"),
        h("ca"),  # a US state: its two-letter code
        h("us"),
    ]
    assert ann in rows[1:]
    assert result.rows == 3 and sum(result.left_out.values()) == 3


def test_csv_carries_chosen_profile_columns_and_the_consent_of_a_channel(
    platform: Platform, audience: tuple[Settings, dict[str, str]]
) -> None:
    profile_of = audience[1]
    rows, result = _export(platform, "csv", columns=["events"])
    assert rows[0] == ["profile_id", "events"]
    assert sorted(rows[1:]) == sorted([p, "1"] for p in profile_of.values())
    assert result.left_out == {}
    rows, result = _export(platform, "csv", channel="email")
    kept = {r[0] for r in rows[1:]}
    assert kept == {profile_of[u] for u in ("ann", "bob", "eve")}
    assert result.left_out == {"email consent unsubscribed": 3}


def test_unknown_column_and_format_are_refused_by_name(platform: Platform) -> None:
    with pytest.raises(ValidationError) as refused:
        _export(platform, "csv", columns=["shoe_size"])
    assert refused.value.field == "columns" and refused.value.value == "shoe_size"
    assert "predicted_clv" in refused.value.accepted
    with pytest.raises(ValidationError) as refused:
        _export(platform, "tiktok")
    assert refused.value.field == "format" and "google" in refused.value.accepted
