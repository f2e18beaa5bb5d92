"""Propensity on the small demo home: trained through the model lifecycle on a time split,
scores written as profile traits a segment selects on, explained per person, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from omnichannel.access import passwords
from omnichannel.api.app import create_app
from omnichannel.config import Settings
from omnichannel.models.service import ModelWorseError
from omnichannel.platform import Platform
from tests.support.collector import bearer, make_admin_token
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow(seconds=90)
MODELS = ("propensity-purchase-30d", "propensity-churn")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("propensity") / "home"
    small_demo_home(tmp_path_factory, target)
    with Platform.open(target) as platform:
        for model in MODELS:
            platform.models.train(model, by="test")  # the first: in use, everyone scored
    return target


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home)), headers=bearer(make_admin_token(home))) as c:
        yield c


def deciles(scored: dict[str, float]) -> list[int]:
    from omnichannel.propensity.train import deciles as rank

    return [int(d) for d in rank(np.array(list(scored.values())))]


def scores(platform: Platform, target: str) -> dict[str, float]:
    with platform.warehouse.reader() as wh:
        s = wh.table("propensity_scores")
        rows = s.filter(s.target == target).select("profile_id", "propensity").to_pyarrow()
    return dict(zip(rows["profile_id"].to_pylist(), rows["propensity"].to_pylist(), strict=True))


def test_each_version_is_scored_on_a_later_cutoff_than_it_was_trained_on(home: Path) -> None:
    with Platform.open(home) as platform:
        for model in MODELS:
            v = platform.models.show(model)
            split = v["evaluations"][0]["split"]
            cutoff = datetime.fromisoformat(split["cutoff"])
            # Every training label window (30 days) ends by the evaluation cut-off.
            for trained in split["train_cutoffs"]:
                assert datetime.fromisoformat(trained) + timedelta(days=30) <= cutoff
            assert cutoff + timedelta(days=30) == datetime.fromisoformat(split["end"])
            m = v["metrics"]
            assert v["status"] == "active" and v["primary_metric"] == "auc"
            assert 0.5 < m["auc"] <= 1 and 0 < m["pr_auc"] <= 1 and 0 < m["brier"] < 0.25
            assert {"auc", "pr_auc", "brier"} <= set(m["baseline"])
            assert sum(r["people"] for r in m["reliability"]) == m["people"]
            assert [d["decile"] for d in m["lift"]] == list(range(10, 0, -1))


def test_a_segment_on_the_churn_trait_selects_the_people_with_high_scores(home: Path) -> None:
    with Platform.open(home) as platform:
        churn = scores(platform, "churn")
        threshold = sorted(churn.values())[len(churn) * 3 // 4]  # the top quarter or so
        condition = {"trait": {"field": "churn_propensity", "gte": threshold}}
        preview = platform.segments.preview({"condition": condition}, sample=1000)
        decile = platform.segments.preview(
            {"condition": {"trait": {"field": "purchase_30d_decile", "equals": 10}}}, sample=1000
        )
        purchase = scores(platform, "purchase_30d")
    expected = {pid for pid, p in churn.items() if p >= threshold}
    assert preview["size"] == len(expected) > 0
    assert set(preview["sample"]) == expected
    assert decile["size"] == sum(1 for d in deciles(purchase) if d == 10) > 0


def test_the_scores_survive_a_profile_build_and_show_on_the_profile(
    home: Path, client: TestClient
) -> None:
    with Platform.open(home) as platform:
        before = scores(platform, "purchase_30d")
        platform.profiles.build(force=True)
        with platform.warehouse.reader() as wh:
            p = wh.table("profiles")
            rows = p.filter(p.purchase_30d_propensity.notnull()).select(
                "profile_id", "purchase_30d_propensity"
            )
            table = rows.to_pyarrow()
            built = dict(
                zip(
                    table["profile_id"].to_pylist(),
                    table["purchase_30d_propensity"].to_pylist(),
                    strict=True,
                )
            )
    assert built == before
    pid = max(before, key=lambda k: before[k])
    card = client.get(f"/v1/profiles/profile_id:{pid}/card").json()
    assert card["traits"]["purchase_30d_propensity"] == before[pid]
    assert card["all_traits"]["purchase_30d_decile"] == 10


def test_a_person_is_explained_in_words_over_http(client: TestClient, home: Path) -> None:
    with Platform.open(home) as platform:
        churn = scores(platform, "churn")
        pid = max(churn, key=lambda k: churn[k])
        local = platform.propensity.explain(f"profile_id:{pid}")
    answer = client.get(f"/api/propensity/profiles/profile_id:{pid}")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    assert body["targets"]["churn"]["propensity"] == churn[pid]
    assert body["targets"]["churn"]["decile"] == 10
    reasons = body["targets"]["churn"]["reasons"]
    assert 1 <= len(reasons) <= 3 and all(r["text"] and r["direction"] for r in reasons)
    assert [r["text"] for r in reasons] == [r["text"] for r in local["targets"]["churn"]["reasons"]]
    summary = client.get("/api/propensity/scores").json()["targets"]
    assert summary["churn"]["people"] == len(churn)
    assert [d["decile"] for d in summary["churn"]["deciles"]] == list(range(10, 0, -1))
    missing = client.get("/api/propensity/profiles/email:nobody@nowhere.example")
    assert missing.status_code == 404
    bad = client.get("/api/propensity/evaluation", params={"target": "loyalty"})
    assert bad.status_code == 400 and "target" in bad.text and "purchase_30d" in bad.text


def test_a_worse_version_is_refused_and_a_viewer_cannot_rescore(
    home: Path, client: TestClient
) -> None:
    with Platform.open(home) as platform:
        first = platform.models.show("propensity-churn")
        other = platform.models.train("propensity-churn", options={"holdout_days": 14}, by="test")
        worse, better = sorted([first, other], key=lambda v: v["score"])
        if better["version"] == other["version"]:
            platform.models.promote("propensity-churn", better["version"])
        with pytest.raises(ModelWorseError, match="its auc is"):
            platform.models.promote("propensity-churn", worse["version"])
        previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8 * 1024))
        try:
            platform.users.create("vic@shop.example", role="viewer", password="x" * 12, actor="t")
            token = platform.users.create_token("vic@shop.example", name="t", actor="t")["token"]
        finally:
            passwords.use_hasher(previous)
    denied = client.post("/api/propensity/score", headers=bearer(token))
    assert denied.status_code == 403
    assert client.get("/api/propensity/scores", headers=bearer(token)).status_code == 200


def test_the_models_page_shows_both_targets_calibration_lift_and_a_persons_reasons(
    client: TestClient, home: Path
) -> None:
    with Platform.open(home) as platform:
        churn = scores(platform, "churn")
        pid = max(churn, key=lambda k: churn[k])
        reasons = platform.propensity.explain(f"profile_id:{pid}")["targets"]["churn"]["reasons"]
        versions = [platform.models.history(m) for m in MODELS]
    page = client.get("/models", params={"person": f"profile_id:{pid}"})
    assert page.status_code == 200
    for name in ("purchase_30d", "churn"):
        for table in ("versions", "calibration", "lift"):
            assert f'id="propensity-{table}-{name}"' in page.text
    assert 'id="propensity-person"' in page.text
    assert all(r["text"] in page.text for r in reasons)
    exported = client.get("/models", params={"format": "csv", "table": "propensity"})
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("target,version,status,auc,pr_auc,brier")
    assert len(lines) == 1 + sum(len(v) for v in versions)
    lift = client.get("/models", params={"format": "csv", "table": "lift"}).text
    assert len(lift.lstrip("\ufeff").splitlines()) == 1 + 2 * 10
    assert "十分位" in client.get("/models", params={"lang": "zh"}).text
    client.cookies.clear()


def test_every_string_of_the_propensity_section_is_translated() -> None:
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    web = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"
    with open(web / "locale" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    template = web / "templates" / "_models_propensity.html"
    options = {"extensions": "jinja2.ext.i18n"}
    missing = []
    for _line, message, _c, _ctx in extract_from_file("jinja2", str(template), options=options):
        msgid = message if isinstance(message, str) else message[0]
        entry = catalog.get(msgid)
        if entry is None or not entry.string:
            missing.append(msgid)
    assert missing == []
