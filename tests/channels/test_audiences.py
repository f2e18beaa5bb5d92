"""A segment synced to stand-ins of Meta's and Google Ads' audience APIs, consent honoured.

The installation is tests/segments/audience.py's six people: ann (a gmail address with
dots, a phone, a full US address), bob (refused ads), cy (email unsubscribed, a phone),
dee (email unsubscribed, nothing else), eve (a first name only), fay (email
unsubscribed but ads granted).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnichannel.channels.audiences import AudienceSyncError, parse_audiences
from omnichannel.cli.main import app as cli
from omnichannel.config import Settings
from omnichannel.errors import ConfigError, NotFoundError
from omnichannel.opstore.audit import entries
from omnichannel.platform import Platform
from tests.channels.servers.ads import (
    AUDIENCE,
    CUSTOMER,
    DEVELOPER_TOKEN,
    GOOGLE_TOKEN,
    META_TOKEN,
    USER_LIST,
    GoogleAdsStandIn,
    MetaStandIn,
)
from tests.support.homes import audience_home

BUYERS = {"name": "buyers", "condition": {"event": {"name": "Order Completed"}}}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("audiences") / "home"
    audience_home(tmp_path_factory, home)  # built once per test run, copied
    with Platform(Settings(home=home)) as platform:
        platform.segments.create(BUYERS, created_by="test")
    return home


@pytest.fixture
def ads() -> Iterator[tuple[MetaStandIn, GoogleAdsStandIn]]:
    with MetaStandIn().running() as meta, GoogleAdsStandIn().running() as google:
        assert isinstance(meta, MetaStandIn) and isinstance(google, GoogleAdsStandIn)
        yield meta, google


def audiences_yaml(meta: MetaStandIn, google: GoogleAdsStandIn, batch: int = 10_000) -> str:
    return (
        "destinations:\n"
        "  meta-buyers:\n"
        "    platform: meta\n"
        f"    base_url: {meta.base_url}/v19.0\n"
        f"    audience_id: '{AUDIENCE}'\n"
        "    access_token: ${META_TOKEN}\n"
        f"    batch_size: {batch}\n"
        "    retry_pause: 0\n"
        "  google-buyers:\n"
        "    platform: google\n"
        f"    base_url: {google.base_url}/v17\n"
        f"    customer_id: '{CUSTOMER}'\n"
        f"    user_list_id: '{USER_LIST}'\n"
        f"    developer_token: {DEVELOPER_TOKEN}\n"
        f"    access_token: {GOOGLE_TOKEN}\n"
        f"    batch_size: {batch}\n"
        "    retry_pause: 0\n"
    )


@pytest.fixture
def home(
    template: Path,
    tmp_path: Path,
    ads: tuple[MetaStandIn, GoogleAdsStandIn],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(template, copy, ignore=shutil.ignore_patterns("server.json", "*.wal"))
    monkeypatch.setenv("META_TOKEN", META_TOKEN)
    (copy / "audiences.yaml").write_text(audiences_yaml(*ads, batch=2))
    return copy


def test_meta_gets_the_consenting_members_hashed_and_who_was_left_out_is_said(home, ads):
    meta, _ = ads
    with Platform(Settings(home=home)) as platform:
        result = platform.audiences.sync("buyers", "meta-buyers", actor="ana")
        with platform.opstore.session() as session:
            found = entries(session, object_type="segment", object_id="buyers")
            (audit,) = [e for e in found if e.action == "audience.sync"]
    assert result["members"] == 6 and result["rows"] == 3
    assert result["left_out"] == {
        "ads consent denied": 1,
        "email consent unsubscribed": 1,
        "no email, phone or full name and address": 1,
    }
    assert result["uploaded"] == 3 and result["batches"] == 2  # batch_size 2
    emails = sorted(r["EMAIL"] for r in meta.audience if "EMAIL" in r)
    # Meta keeps the gmail dots (Google drops them); fay granted ads, so her email goes.
    assert emails == sorted([sha("john.smith@gmail.com"), sha("fay@mail.cn")])
    phones = sorted(r["PHONE"] for r in meta.audience if "PHONE" in r)
    assert phones == sorted([sha("8613812345678"), sha("8613900001111")])
    assert sha("bob@mail.cn") not in json.dumps(meta.audience)  # bob refused ads
    assert audit.actor == "ana"
    assert audit.details["rows"] == 3


def test_google_replaces_the_list_so_people_who_left_leave_it(home, ads):
    _, google = ads
    google.unavailable = 1  # the first call fails with 503 and is tried again
    with Platform(Settings(home=home)) as platform:
        result = platform.audiences.sync("buyers", "google-buyers")
    assert result["reference"].startswith(f"customers/{CUSTOMER}/offlineUserDataJobs/")
    assert len(google.members) == 3  # the one uploaded before is gone (removeAll)
    flat = json.dumps(google.members)
    assert sha("johnsmith@gmail.com") in flat and sha("+8613812345678") in flat
    ann = next(m for m in google.members if {"hashedEmail": sha("johnsmith@gmail.com")} in m)
    address = next(i["addressInfo"] for i in ann if "addressInfo" in i)
    assert address == {
        "hashedFirstName": sha("zoë"),
        "hashedLastName": sha("pérez smith"),
        "countryCode": "US",
        "postalCode": "94016-1234",
    }


def test_a_refused_token_fails_the_sync_with_the_platforms_answer(home, ads, monkeypatch):
    monkeypatch.setenv("META_TOKEN", "expired")
    with Platform(Settings(home=home)) as platform:
        with pytest.raises(AudienceSyncError, match=r"Invalid OAuth access token.*190"):
            platform.audiences.sync("buyers", "meta-buyers")
        with pytest.raises(NotFoundError, match="google-buyers, meta-buyers"):
            platform.audiences.sync("buyers", "tiktok")


def test_audiences_yaml_errors_name_the_place_and_hide_secrets():
    with pytest.raises(ConfigError, match=r"destinations.x.platform=.tiktok. .*meta or google"):
        parse_audiences("destinations:\n  x: {platform: tiktok}\n")
    with pytest.raises(ConfigError, match=r"customer_id='123-456-7890'"):
        parse_audiences(
            "destinations:\n  g: {platform: google, customer_id: 123-456-7890, "
            "user_list_id: '1', developer_token: d, access_token: a}\n"
        )
    with pytest.raises(ConfigError, match="NOPE, which is not set"):
        parse_audiences(
            "destinations:\n  m: {platform: meta, audience_id: '1', access_token: '${NOPE}'}\n",
            environ={},
        )


def test_omni_audiences_list_and_sync(home, ads):
    runner = CliRunner()
    listed = runner.invoke(cli, ["--home", str(home), "audiences", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [d["name"] for d in json.loads(listed.output)] == ["google-buyers", "meta-buyers"]
    synced = runner.invoke(
        cli, ["--home", str(home), "audiences", "sync", "buyers", "--to", "meta-buyers"]
    )
    assert synced.exit_code == 0, synced.output
    assert "3 of 6 members uploaded" in synced.output
    assert "left out: 1 (ads consent denied)" in synced.output


def test_the_api_lists_destinations_and_syncs_with_the_admin_token(home, ads):
    import httpx

    from omnichannel.api.app import create_app
    from tests.channels.providers import serving
    from tests.support.collector import bearer, make_admin_token

    token = make_admin_token(home)
    with serving(create_app(Settings(home=home))) as url:
        assert httpx.get(f"{url}/api/audiences").status_code == 401
        with httpx.Client(base_url=url, headers=bearer(token), timeout=60) as http:
            listed = http.get("/api/audiences").json()
            assert {d["name"]: d["platform"] for d in listed} == {
                "google-buyers": "google",
                "meta-buyers": "meta",
            }
            assert "access_token" not in json.dumps(listed)
            synced = http.post("/api/audiences/google-buyers/sync", params={"segment": "buyers"})
            assert synced.status_code == 200, synced.text
            assert synced.json()["rows"] == 3 and synced.json()["left_out_total"] == 3
            missing = http.post("/api/audiences/nowhere/sync", params={"segment": "buyers"})
            assert missing.status_code == 404 and "nowhere" in missing.json()["detail"]["message"]
    assert len(ads[1].members) == 3


def test_the_audiences_job_syncs_each_followed_destination_and_a_failing_one_costs_no_other(
    home, ads, monkeypatch
):
    meta, google = ads
    text = (
        audiences_yaml(meta, google)
        .replace("    platform: meta\n", "    platform: meta\n    segment: buyers\n")
        .replace("    platform: google\n", "    platform: google\n    segment: buyers\n")
    )
    (home / "audiences.yaml").write_text(text)
    with Platform(Settings(home=home)) as platform:
        ok = platform.jobs.run("audiences")
        assert ok.status == "succeeded", ok.error
        assert sorted(r["destination"] for r in ok.detail["synced"]) == [
            "google-buyers",
            "meta-buyers",
        ]
        monkeypatch.setenv("META_TOKEN", "expired")
        google.members = []
        failed = platform.jobs.run("audiences")
    assert failed.status == "failed"
    assert "meta-buyers" in failed.error and "synced: google-buyers" in failed.error
    assert len(google.members) == 3  # synced although Meta refused
