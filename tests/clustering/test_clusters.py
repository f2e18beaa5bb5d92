"""Clusters on the small demo home, through the library, the API and the CLI: personas,
a person's cluster, a saved cluster segment holding exactly its members and following
the cluster through a refit, and a viewer refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from omnichannel.api.app import create_app
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.cli.run import omni
from tests.support.collector import bearer, make_admin_token
from tests.support.homes import small_demo_home
from tests.web.sessions import PASSWORD, cheap_hashing, csrf, signed_in

pytestmark = pytest.mark.slow(seconds=60)
__all__ = ["cheap_hashing"]
WEB = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"


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
        # A refit on the same data (the retrain job's): equal score, so it is put in use;
        # its clusters are matched to the ones in use, so everyone keeps their cluster id
        # (ids matched across a shuffled, reseeded fit: test_fit.py).
        refit = platform.models.retrain("clusters", by="test")
        assert refit["status"] == "active", refit.get("promotion_refused")
        after = platform.clusters.model()[1]
        assert after.kept == sorted(before.ids)
        assert all(after.label_of(p) == before.label_of(p) for p in before.profile_ids)
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


def test_the_models_page_shows_the_personas_and_saves_a_cluster_for_a_marketer_only(
    client: TestClient,
) -> None:
    personas = client.get("/api/clusters").json()["personas"]
    page = client.get("/models")
    assert page.status_code == 200 and 'id="clusters-chart"' in page.text
    for p in personas:
        assert f'id="persona-{p["cluster"]}"' in page.text
        assert p["name"] in page.text
    exported = client.get("/models", params={"format": "csv", "table": "personas"}).text
    assert exported.lstrip("\ufeff").splitlines()[0] == "cluster,name,size,share,description"
    marketer = signed_in(client, "mia@example.com", "marketer")
    token = csrf(marketer, "/models")
    saved = marketer.post(
        "/models/clusters/1/segment",
        data={"name": "from-the-page", "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/segments/from-the-page"
    viewer = signed_in(client, "val@example.com", "viewer")
    assert "save-cluster" not in viewer.get("/models").text
    refused = viewer.post(
        "/models/clusters/1/segment",
        data={"name": "not-by-a-viewer", "csrf_token": csrf(viewer, "/models")},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    audit = client.get("/api/audit", params={"target": "segment:from-the-page"}).json()
    assert "mia@example.com" in json.dumps(audit)
    assert client.get("/api/segments/not-by-a-viewer").status_code == 404


def test_every_string_of_the_clusters_section_is_translated(client: TestClient) -> None:
    assert "保存为分群" in client.get("/models", params={"lang": "zh"}).text
    client.cookies.clear()
    with open(WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    missing = []
    for path, method in (
        (WEB / "pages" / "models_clusters.py", "python"),
        (WEB / "templates" / "_models_clusters.html", "jinja2"),
    ):
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), options=options
        ):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                missing.append(msgid)
    assert missing == []
