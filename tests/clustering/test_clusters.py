"""Clusters on the small demo home, through the library, the API and the CLI: personas,
a person's cluster, a saved cluster segment holding exactly its members and following
the cluster through a refit, and a viewer refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnichannel.api.app import create_app
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.cli.run import omni
from tests.support.collector import bearer, make_admin_token
from tests.support.homes import small_demo_home
from tests.web.sessions import PASSWORD, cheap_hashing

pytestmark = pytest.mark.slow(seconds=60)
__all__ = ["cheap_hashing"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("clusters") / "home"
    small_demo_home(tmp_path_factory, target)
    with Platform.open(target) as platform:
        platform.models.train("clusters", "kmeans", by="test")
    return target


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home)), headers=bearer(make_admin_token(home))) as c:
        yield c


def test_every_profile_has_a_cluster_and_each_cluster_a_persona(client: TestClient) -> None:
    answer = client.get("/api/clusters").json()
    personas = answer["personas"]
    assert answer["k"] == len([p for p in personas if not p["prospects"]])
    assert answer["chosen_by"] == "silhouette"
    best = max(s["silhouette"] for s in answer["scores"])
    assert answer["silhouette"] == pytest.approx(best, abs=1e-4)
    assert sum(p["size"] for p in personas) == answer["profiles"]
    assert sum(p["share"] for p in personas) == pytest.approx(1.0, abs=1e-3)
    for p in personas:
        assert p["name"] and p["description"].startswith(p["name"] + ":")
        assert any(ch.isdigit() for ch in p["description"])
    member = client.get(f"/api/clusters/{personas[-1]['cluster']}", params={"limit": 1}).json()
    assigned = client.get("/api/clusters/assign", params={"identifier": member["members"][0]})
    assert assigned.json()["cluster"] == personas[-1]["cluster"]
    unknown = client.get("/api/clusters/99")
    assert unknown.status_code == 400 and "cluster=99" in unknown.text


def test_a_saved_cluster_segment_holds_that_cluster_and_follows_it_through_a_refit(
    client: TestClient, home: Path
) -> None:
    cluster = client.get("/api/clusters").json()["personas"][-1]["cluster"]
    expected = client.get(f"/api/clusters/{cluster}", params={"limit": 10_000}).json()
    saved = client.post(f"/api/clusters/{cluster}/segment", json={"name": "cluster-top"})
    assert saved.status_code == 201, saved.text
    members = client.get("/api/segments/cluster-top/members").json()
    assert sorted(members["profile_ids"]) == expected["members"]
    assert members["total"] == expected["size"]
    with Platform.open(home) as platform:
        before = platform.clusters.model()[1]
        # Another seed on the same data: the clusters are matched to the ones in use, so
        # (nearly) everyone keeps their cluster id, and the segment follows its cluster.
        refit = platform.models.train(
            "clusters", "kmeans", options={"seed": 3}, by="test", promote=True
        )
        assert refit["status"] == "active", refit.get("promotion_refused")
        after = platform.clusters.model()[1]
        same = sum(after.label_of(p) == before.label_of(p) for p in before.profile_ids)
        assert same >= 0.97 * len(before.profile_ids)
        link = platform.clusters.segments.links()[0]
        assert link["version"] == refit["version"] and link["stale"] is None
        followed = platform.segments.members("cluster-top")
        now_members = platform.clusters.member_ids(after, cluster)
        audit = platform.segments.show("cluster-top")
    assert sorted(followed["profile_ids"]) == now_members
    assert audit["version"] == 2  # rewritten for the new version, by model:clusters


def test_a_viewer_cannot_save_a_cluster_as_a_segment(client: TestClient, home: Path) -> None:
    with Platform.open(home) as platform:
        platform.users.create("vic@example.com", role="viewer", password=PASSWORD, actor="t")
        token = platform.users.create_token("vic@example.com", name="t", actor="t")["token"]
    viewer = bearer(token)
    assert client.get("/api/clusters", headers=viewer).status_code == 200
    refused = client.post("/api/clusters/1/segment", headers=viewer, json={"name": "not-mine"})
    assert refused.status_code == 403 and "segments:write" in refused.text
    assert client.get("/api/segments/not-mine").status_code == 404


def test_the_cli_lists_the_personas_and_shows_one(home: Path) -> None:
    listed = omni("--home", str(home), "clusters", "list")
    assert "personas" in listed.stdout and "silhouette" in listed.stdout
    assert "cluster-top" in listed.stdout  # the segment saved from a cluster above
    shown = json.loads(omni("--home", str(home), "clusters", "show", "1", "--json").stdout)
    assert shown["cluster"] == 1 and shown["size"] >= len(shown["members"]) > 0
