"""Recommendations and the model lifecycle on the small demo business (300 people).

The library faces first (rules, reasons, cold start, fold-in, lifecycle, evaluation,
templates), then a real ``omni serve``: an event posted to its collector changes that
person's next recommendations, and ``omni recs``/``omni models`` work through it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from omnichannel.channels.render import render_parts
from omnichannel.cli.main import app as cli
from omnichannel.errors import ValidationError
from omnichannel.models.service import ModelWorseError
from omnichannel.platform import Platform
from omnichannel.recommendations.config import RecommendationsConfig, Slot
from omnichannel.recommendations.recommend import PersonState, recommend
from tests.support.collector import bearer, make_admin_token, make_source, running_server
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow(seconds=60)

REASONS = (
    "bought together with ",
    "people who bought ",
    "similar to ",
    "popular in ",
    "you viewed it",
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo home with an ALS version in use (the first version trained)."""
    target = tmp_path_factory.mktemp("recommendations") / "home"
    small_demo_home(tmp_path_factory, target)
    with Platform.open(target) as platform:
        first = platform.models.train("recommendations", "als", by="test")
    assert first["status"] == "active" and first["version"] == 1
    return target


def _shopper(platform: Platform) -> tuple[str, str]:
    """(user id, profile id) of the person with the most events who has a user id."""
    with platform.warehouse.reader() as wh:
        row = wh.con.sql(
            "select i.id_value, p.profile_id from profile_identifiers i join profiles p "
            "using (profile_id) where i.id_type = 'user_id' and i.status = 'linked' "
            "order by p.events desc, p.profile_id limit 1"
        ).to_pyarrow()
    return str(row["id_value"][0].as_py()), str(row["profile_id"][0].as_py())


def _ids(answer: dict[str, Any]) -> list[str]:
    return [item["product_id"] for item in answer["items"]]


def test_a_shopper_gets_the_slot_with_rules_diversity_and_a_reason_each(home: Path) -> None:
    with Platform.open(home) as platform:
        user, profile_id = _shopper(platform)
        answer = platform.recommendations.for_identifier(f"user_id:{user}", slot="email")
        _, model = platform.recommendations.model()
        i = model.people[profile_id]
        bought = {model.items[j] for j in model.purchased[i].indices}
        replenishable = {model.items[j] for j in np.flatnonzero(model.replenishable)}
    assert answer["profile_id"] == profile_id and answer["strategy"] == "als"
    assert answer["model"] == {"name": "recommendations", "version": 1}
    assert len(answer["items"]) == 6  # the email slot's k
    categories = [item["category"] for item in answer["items"]]
    assert max(categories.count(c) for c in categories) <= 2  # max_per_category
    assert not (set(_ids(answer)) & bought) - replenishable  # bought, not replenishable: out
    assert all(item["reason"].startswith(REASONS) for item in answer["items"])
    assert answer["stock"] == "no stock data: every product counts as in stock"


def test_cold_start_matches_the_readers_kind_the_hotel_example(home: Path) -> None:
    """A reviews reader is shown items with reviews, a photo looker items with galleries."""
    with Platform.open(home) as platform:
        _, model = platform.recommendations.model()
        with platform.warehouse.reader() as wh:
            content = wh.table("content_items").to_pyarrow().to_pylist()
    with_reviews = {c["product_id"] for c in content if c["content_type"] == "review"}
    with_gallery = {c["product_id"] for c in content if c["content_type"] == "photo_gallery"}
    empty = model.row("p_nobody")
    slot, config = Slot("home", k=8, max_per_category=None), RecommendationsConfig()

    def shown(types: list[float]) -> dict[str, Any]:
        state = PersonState(empty, set(), set(), np.array(types), changed=True)
        return recommend(model, "p_nobody", state, slot, config)

    reader = shown([5, 0, 0, 0, 0])
    looker = shown([0, 5, 0, 0, 0])
    assert reader["strategy"] == looker["strategy"] == "content"
    assert set(_ids(reader)) <= with_reviews and set(_ids(looker)) <= with_gallery
    assert reader["items"][0]["reason"] == "many reviews, and you read reviews"
    assert looker["items"][0]["reason"] == "a strong photo gallery, and you look at photos"


def test_events_since_training_fold_in_without_a_retrain(home: Path) -> None:
    with Platform.open(home) as platform:
        user, profile_id = _shopper(platform)
        before = platform.recommendations.for_profile(profile_id, slot="in_app", k=12)
        _, model = platform.recommendations.model()
        beauty = [
            p
            for p, c in zip(model.items, model.item_category, strict=True)
            if model.categories[c] == "beauty"
        ][:6]
        batch = pa.table(
            {
                "message_id": [f"fold-{i}" for i in range(6)],
                "event": ["Product Added"] * 6,
                "source": ["app"] * 6,
                "user_id": [user] * 6,
                "anonymous_id": [None] * 6,
                "properties": [json.dumps({"product_id": p}) for p in beauty],
                "load_seq": [model.trained_load_seq + 1 + i for i in range(6)],
            }
        )
        assert platform.recommendations.observe(batch) == 1
        assert platform.recommendations.observe(batch) == 0  # replayed: kept once
        after = platform.recommendations.for_profile(profile_id, slot="in_app", k=12)
        assert len(platform.recommendations.live) == 6
    assert _ids(after) != _ids(before)
    assert not set(_ids(after)) & set(beauty)  # the in_app slot leaves out what was viewed
    assert after["model"]["version"] == before["model"]["version"] == 1


def test_a_worse_version_is_refused_with_both_scores_and_the_history_kept(home: Path) -> None:
    with Platform.open(home) as platform:
        content = platform.models.train("recommendations", "content", by="test")
        popular = platform.models.train("recommendations", "popularity", by="test")
        in_use = platform.models.active("recommendations")
        assert in_use is not None
        better, worse = sorted([content, popular, in_use], key=lambda v: v["score"])[::-1][:2]
        if better["status"] != "active":
            platform.models.promote("recommendations", better["version"])
        if worse["score"] < better["score"]:
            with pytest.raises(ModelWorseError) as refused:
                platform.models.promote("recommendations", worse["version"])
            message = str(refused.value)
            assert f"{worse['score']:.4f}" in message and f"{better['score']:.4f}" in message
        history = platform.models.history("recommendations")
        shown = platform.models.show("recommendations", content["version"])
    assert [v["version"] for v in history] == [1, 2, 3]
    assert sum(v["status"] == "active" for v in history) == 1
    assert shown["evaluations"][0]["reason"] == "trained"
    assert shown["evaluations"][0]["split"]["holdout_days"] == 14
    assert (Path(home) / shown["artefact"]).exists()


def test_the_retrain_job_trains_the_algorithm_in_use(home: Path) -> None:
    with Platform.open(home) as platform:
        in_use = platform.models.active("recommendations")
        run = platform.jobs.run("models-retrain")
        newest = platform.models.list("recommendations")[0]
    assert in_use is not None and run.status == "succeeded"
    assert (
        newest["algorithm"] == in_use["algorithm"] and newest["trained_by"] == "job:models-retrain"
    )
    assert run.detail["recommendations"]["version"] == newest["version"]


def test_evaluation_scores_every_algorithm_on_one_time_split(home: Path) -> None:
    with Platform.open(home) as platform:
        result = platform.recommendations.evaluate(["popularity", "als", "item_knn"])
        with pytest.raises(ValidationError, match="algorithm='svd'"):
            platform.recommendations.evaluate(["svd"])
    assert list(result["metrics"]) == ["popularity", "als", "item_knn"]
    for metrics in result["metrics"].values():
        assert all(0.0 <= metrics[m] <= 1.0 for m in ("recall_at_10", "ndcg_at_10", "map_at_10"))
    # The baseline shows the same few items to everyone; a personal model covers more.
    assert result["metrics"]["als"]["coverage"] > result["metrics"]["popularity"]["coverage"]


def test_the_rules_of_the_baskets_are_kept_with_the_model(home: Path) -> None:
    with Platform.open(home) as platform:
        answer = platform.recommendations.rules(top=5)
        with pytest.raises(ValidationError, match="product='PRD-nope'"):
            platform.recommendations.rules(product="PRD-nope")
    rules = answer["rules"]
    assert answer["summary"]["baskets"] > 0 and len(rules) == 5
    assert [r["lift"] for r in rules] == sorted((r["lift"] for r in rules), reverse=True)
    assert all(r["lift"] > 1 and r["baskets"] >= 3 and 0 < r["confidence"] <= 1 for r in rules)
    assert rules[0]["antecedent_names"][0].startswith(tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def test_a_message_template_reads_the_persons_recommendations(home: Path) -> None:
    with Platform.open(home) as platform:
        _, profile_id = _shopper(platform)
        expected = platform.recommendations.for_profile(profile_id, slot="email")["items"]
        items = platform.recommendations.lazy_items(profile_id, "email")
        nobody = platform.recommendations.lazy_items(None, "email")
    text = "{% for item in recommendations %}{{ item.name }} ({{ item.reason }});{% endfor %}"
    rendered = render_parts("email", {"text": text}, {"recommendations": items})
    assert rendered["text"] == "".join(f"{i['name']} ({i['reason']});" for i in expected)
    assert render_parts("email", {"text": text}, {"recommendations": nobody})["text"] == ""
    with Platform.open(home) as platform:
        content = {"subject": "For you", "text": text, "html": f"<p>{text}</p>"}
        platform.templates.save("picks", channel="email", content=content, created_by="test")
        preview = platform.templates.preview("picks", profile=f"profile_id:{profile_id}")
    assert preview["rendered"]["text"] == rendered["text"]


def test_a_collected_event_changes_the_next_answer_of_a_running_server(home: Path) -> None:
    key = make_source(home, "recs-test")
    token = make_admin_token(home)
    with Platform.open(home) as platform:
        user, profile_id = _shopper(platform)
        _, model = platform.recommendations.model()
        shoes = [
            p
            for p, c in zip(model.items, model.item_category, strict=True)
            if model.categories[c] == "shoes"
        ][:8]
    runner = CliRunner()
    route = f"/v1/profiles/user_id:{user}/recommendations"
    with (
        running_server(home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=60) as http,
    ):
        before = http.get(route, params={"slot": "in_app", "k": 12})
        assert before.status_code == 200, before.text
        batch = [
            {
                "type": "track",
                "event": "Product Added",
                "userId": user,
                "properties": {"product_id": p},
                "messageId": f"srv-{p}",
            }
            for p in shoes
        ]
        posted = httpx.post(f"{server.url}/v1/batch", json={"batch": batch}, auth=(key, ""))
        assert posted.status_code == 200, posted.text
        deadline = time.monotonic() + 90
        after = before
        while _ids(after.json()) == _ids(before.json()) and time.monotonic() < deadline:
            time.sleep(0.5)
            after = http.get(route, params={"slot": "in_app", "k": 12})
        assert _ids(after.json()) != _ids(before.json())
        assert not set(_ids(after.json())) & set(shoes)

        shown = runner.invoke(
            cli,
            [
                "--home",
                str(home),
                "recs",
                "show",
                f"user_id:{user}",
                "--slot",
                "in_app",
                "--k",
                "12",
                "--json",
            ],
        )
        assert shown.exit_code == 0, shown.output
        assert _ids(json.loads(shown.output)) == _ids(after.json())
        listed = runner.invoke(cli, ["--home", str(home), "models", "list", "--json"])
        assert listed.exit_code == 0 and json.loads(listed.output)[0]["model"] == "recommendations"

        bad_slot = http.get(route, params={"slot": "banner"})
        unknown = http.get("/v1/profiles/user_id:nobody-at-all/recommendations")
        bad_k = http.get(route, params={"k": 0})
    assert bad_slot.status_code == 400 and bad_slot.json()["detail"]["field"] == "slot"
    assert unknown.status_code == 404
    assert bad_k.status_code == 400 and bad_k.json()["detail"]["field"] == "k"
    del profile_id
