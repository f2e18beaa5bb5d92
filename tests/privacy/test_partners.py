"""Partner audiences on the demo home: what is sent holds only consenting people, hashed
as documented; overlap and attribution are counts, withheld below the minimum group;
an expired partner file is gone and refused; the HTTP API and the CLI say the same."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.errors import ValidationError
from omnichannel.opstore.models import AuditEntry, utcnow
from omnichannel.platform import Platform
from tests.cli.run import omni_in_process
from tests.support.collector import bearer, make_admin_token

SALT = b"a salt both sides agreed on, 32+"


def partner_hash(id_type: str, value: str) -> str:
    """What the partner computes, from docs/privacy.md (not from our code)."""
    return hmac.new(SALT, f"{id_type}:{value}".encode(), hashlib.sha256).hexdigest()


def partner_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["identifier_type,identifier_hash"] + [f"{t},{partner_hash(t, v)}" for t, v in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def emails(demo_platform: Platform) -> list[tuple[str, str]]:
    """(profile id, email) of 80 demo people, one email each."""
    with demo_platform.warehouse.reader() as wh:
        rows = wh.con.raw_sql(
            "SELECT profile_id, min(id_value) FROM profile_identifiers "
            "WHERE id_type = 'email' AND status = 'linked' GROUP BY 1 ORDER BY 1 LIMIT 80"
        ).fetchall()
    assert len(rows) == 80
    return [(str(p), str(e)) for p, e in rows]


@pytest.fixture(scope="module")
def salt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("salt") / "acme.salt"
    path.write_bytes(SALT)
    path.chmod(0o600)
    return path


def test_what_we_send_holds_only_consenting_people_hashed(
    demo_platform: Platform, emails: list[tuple[str, str]], tmp_path: Path
) -> None:
    granted, silent = emails[:55], emails[55:]
    for profile_id, _ in granted:
        demo_platform.consent.record(
            f"profile:{profile_id}",
            purpose="third_party_sharing",
            status="granted",
            source="partner form",
            actor="test",
            text_version="acme-2026-12",
        )
    out = tmp_path / "to-acme.csv"
    sent = demo_platform.partners.share("all", partner="acme", salt=SALT, out=out, actor="t")
    text = out.read_text()
    lines = set(text.splitlines())
    assert sent["details"]["shared"] == 55 and sent["details"]["left_out_without_consent"] > 0
    assert all(f"email,{partner_hash('email', e)}" in lines for _, e in granted)
    assert not any(partner_hash("email", e) in text for _, e in silent)
    assert not any(e in text for _, e in emails)  # nothing in clear
    assert out.stat().st_mode & 0o077 == 0
    with demo_platform.opstore.session() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert "partners.sent" in actions


def test_overlap_is_a_count_withheld_below_the_minimum_group(
    demo_platform: Platform, emails: list[tuple[str, str]], tmp_path: Path
) -> None:
    theirs = [("email", e) for _, e in emails[:52]] + [
        ("email", f"stranger{i}@elsewhere.example") for i in range(30)
    ]
    got = demo_platform.partners.receive(
        partner_file(tmp_path / "acme.csv", theirs), partner="acme", salt=SALT
    )
    assert got["rows"] == 82 and Path(got["file"]).is_file()
    counted = demo_platform.partners.overlap(got["id"], audience="all", salt=SALT, min_group=50)
    assert counted["overlap"] == {"count": 52, "below_minimum": False}
    small = demo_platform.partners.overlap(got["id"], audience="all", salt=SALT, min_group=60)
    assert small["overlap"] == {"count": None, "below_minimum": True}
    assert small["by_type"]["phone"] == {"count": None, "below_minimum": True}
    with pytest.raises(ValidationError, match="salt"):
        demo_platform.partners.overlap(
            got["id"], audience="all", salt=b"another salt, 16+ bytes", min_group=50
        )


def test_a_joint_campaigns_orders_are_split_between_the_partners_holding_the_buyer(
    demo_platform: Platform, tmp_path: Path
) -> None:
    with demo_platform.warehouse.reader() as wh:
        rows = wh.con.raw_sql(
            """
            WITH c AS (SELECT campaign_id FROM orders WHERE campaign_id IS NOT NULL
                       GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
            SELECT o.campaign_id, rp.profile_id, count(*), sum(o.total),
                   (SELECT min(id_value) FROM profile_identifiers pi
                    WHERE pi.profile_id = rp.profile_id AND id_type = 'email'
                      AND status = 'linked')
            FROM orders o JOIN c USING (campaign_id)
            JOIN record_profiles rp ON rp.source = o.source AND rp.record_id = o.order_id
            GROUP BY 1, 2 ORDER BY 2
            """
        ).fetchall()
    buyers = [r for r in rows if r[4]]
    assert len(buyers) >= 2
    campaign, (x, y) = rows[0][0], buyers[:2]
    a = demo_platform.partners.receive(
        partner_file(tmp_path / "a.csv", [("email", x[4]), ("email", y[4])]),
        partner="alpha",
        salt=SALT,
    )
    b = demo_platform.partners.receive(
        partner_file(tmp_path / "b.csv", [("email", y[4])]), partner="beta", salt=SALT
    )
    split = demo_platform.partners.attribute(campaign, [a["id"], b["id"]], salt=SALT, min_group=1)
    alpha, beta = split["partners"]
    assert alpha["buyers"]["count"] == 2 and beta["buyers"]["count"] == 1
    assert alpha["orders"] == pytest.approx(x[2] + y[2] / 2, abs=0.01)
    assert beta["revenue"] == pytest.approx(float(y[3]) / 2, abs=0.01)
    withheld = demo_platform.partners.attribute(campaign, [a["id"]], salt=SALT, min_group=3)
    assert withheld["partners"][0] == {
        "partner": "alpha",
        "buyers": {"count": None, "below_minimum": True},
        "orders": None,
        "revenue": None,
    }


def test_an_expired_partner_file_is_removed_and_refused(
    demo_platform: Platform, emails: list[tuple[str, str]], tmp_path: Path
) -> None:
    got = demo_platform.partners.receive(
        partner_file(tmp_path / "short.csv", [("email", emails[0][1])]),
        partner="shortlived",
        salt=SALT,
        expires_days=1,
    )
    # The hourly job removes it once it is due, whether or not anyone uses it again.
    early = demo_platform.jobs.run("partners-purge", options={"as_of": utcnow().isoformat()})
    assert early.status == "succeeded" and got["id"] not in early.detail["purged"]
    assert Path(got["file"]).exists()
    later = (utcnow() + timedelta(days=2)).isoformat()
    run = demo_platform.jobs.run("partners-purge", options={"as_of": later})
    assert run.status == "succeeded", run.error
    assert got["id"] in run.detail["purged"] and not Path(got["file"]).exists()
    with pytest.raises(ValidationError, match="not past its expiry"):
        demo_platform.partners.overlap(got["id"], audience="all", salt=SALT)
    [listed] = demo_platform.partners.exchanges(partner="shortlived")
    assert listed["expired"] and listed["purged_at"]


@pytest.fixture(scope="module")
def client(demo_home: Path, demo_platform: Platform) -> Iterator[tuple[TestClient, str]]:
    token = make_admin_token(demo_home)
    with TestClient(create_app(Settings(home=demo_home))) as served:
        yield served, token


def test_over_http_a_bad_file_or_an_open_salt_file_is_refused_in_words(
    client: tuple[TestClient, str], salt_file: Path, tmp_path: Path, demo_home: Path
) -> None:
    http, token = client
    admin = bearer(token)
    bad = tmp_path / "bad.csv"
    bad.write_text("identifier_type,identifier_hash\nemail,not-a-hash\n", encoding="utf-8")
    body = {"file": str(bad), "partner": "acme", "salt_file": str(salt_file)}
    refused = http.post("/api/partners/receive", json=body, headers=admin)
    assert refused.status_code == 400
    assert refused.json()["detail"]["field"] == "bad.csv line 2 identifier_hash"
    latin = tmp_path / "latin.csv"  # a spreadsheet's export in its own encoding
    latin.write_bytes(b"identifier_type,identifier_hash\nemail,caf\xe9\n")
    undecodable = http.post(
        "/api/partners/receive", json=body | {"file": str(latin)}, headers=admin
    )
    assert undecodable.status_code == 400
    assert undecodable.json()["detail"]["field"] == "latin.csv encoding"
    assert "expected UTF-8 text" in undecodable.text
    good = partner_file(tmp_path / "good.csv", [("email", "nobody@elsewhere.example")])
    missing = {"file": str(good), "salt_file": str(tmp_path / "no-such.salt")}
    no_salt = http.post("/api/partners/receive", json=body | missing, headers=admin)
    assert no_salt.status_code == 400  # was a 500: FileNotFoundError from the mode check
    assert no_salt.json()["detail"]["field"] == "salt_file"
    made = http.post("/api/partners/receive", json=body | {"file": str(good)}, headers=admin)
    assert made.status_code == 201
    counted = http.post(
        f"/api/partners/{made.json()['id']}/overlap",
        json={"audience": "all", "salt_file": str(salt_file), "min_group": 1},
        headers=admin,
    )
    assert counted.status_code == 200 and counted.json()["overlap"]["count"] is None
    salt_file.chmod(0o644)
    try:
        unsafe = http.post("/api/partners/receive", json=body | {"file": str(good)}, headers=admin)
    finally:
        salt_file.chmod(0o600)
    assert unsafe.status_code == 400 and "chmod 600" in unsafe.text
    assert http.get("/api/partners", headers=admin).status_code == 200
    assert http.get("/api/partners").status_code == 401
    listed = omni_in_process("partners", "list", home=demo_home)
    assert "acme" in listed.stdout and "received" in listed.stdout


def test_a_wrong_exchange_is_named_before_the_salt_is_asked_for(
    demo_home: Path, tmp_path: Path
) -> None:
    # No salt anywhere (the CLI runs without OMNI_* variables): the first thing wrong is
    # the exchange id, and saying "salt too short" would send the user after the salt.
    def said(*args: str) -> str:
        ran = omni_in_process("partners", *args, home=demo_home, check=False)
        assert ran.returncode != 0
        return ran.stdout + ran.stderr

    assert "no received partner file 999999" in said("overlap", "999999")
    assert "no received partner file 999999" in said("attribute", "CMP-1", "--exchange", "999999")
    share = said("share", "all", "--partner", "x", "--out", str(tmp_path / "x.csv"))
    # Which variable, that it is not set, and whose environment it is read from.
    assert "$OMNI_PARTNER_SALT (not set)" in share and "omni serve" in share
