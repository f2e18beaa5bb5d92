"""The surveys' faces on one running ``omni serve``: the public answer page (a phone's
form post, Chinese, CSRF, replays), the app's JSON answers, /api/surveys with its roles,
and ``omni surveys`` beside the server going through its API."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.cli.run import omni_in_process as omni
from tests.support.collector import Server, bearer, free_port, server_token, start_server
from tests.surveys.conftest import INVITE, NPS

pytestmark = pytest.mark.slow(seconds=30)


@pytest.fixture(scope="module")
def served(
    people_template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path, str]]:
    """The people's home (a survey, a viewer's token) served; (server, home, viewer token)."""
    home = tmp_path_factory.mktemp("survey-faces") / "home"
    shutil.copytree(people_template[0], home, ignore=shutil.ignore_patterns("server.json"))
    port = free_port()
    (home / "channels.yaml").write_text(f"public_base_url: http://127.0.0.1:{port}\n")
    with Platform(Settings(home=home)) as platform:
        platform.surveys.create(NPS, actor="ana@shop.example")
        platform.users.create("vi@shop.example", role="viewer", actor="test", password="x" * 12)
        viewer = platform.users.create_token("vi@shop.example", name="t", actor="test")["token"]
    server = start_server(home, port=port)
    try:
        yield server, home, viewer
    finally:
        server.stop()


def _api(served: tuple[Server, Path, str]) -> httpx.Client:
    server = served[0]
    return httpx.Client(base_url=server.url, headers=bearer(server_token(server.url)), timeout=60)


def _form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_the_answer_page_on_a_phone_in_chinese_keeps_partial_answers_and_answers_once(
    served: tuple[Server, Path, str],
) -> None:
    with _api(served) as api:
        sent = api.post(
            "/api/surveys/store-nps/send",
            json={"channel": "email", "identifier": "user_id:ann", "content": INVITE},
        ).json()
    link = sent["survey_link"]
    public = httpx.Client(timeout=60)  # no credentials: the link is the only one
    page = public.get(link, params={"lang": "zh"})
    assert page.status_code == 200
    assert 'name="viewport"' in page.text and '<html lang="zh-CN">' in page.text
    assert "您有多大可能向朋友推荐我们" in page.text and "发送" in page.text
    assert "<legend>" in page.text and 'for="q-score-0"' in page.text
    assert re.search(r'<fieldset id="q-why" hidden', page.text)  # shown after a low score
    token = _form_token(page.text)

    forged = public.post(link, data={"q_score": "2", "action": "save", "form_token": "x"})
    assert forged.status_code == 400
    saved = public.post(link, data={"q_score": "2", "action": "save", "form_token": token})
    assert saved.status_code == 200 and not re.search(r'<fieldset id="q-why" hidden', saved.text)
    missing = public.post(link, data={"action": "submit", "form_token": token})
    assert missing.status_code == 200  # the saved score stays: nothing is missing
    assert 'id="survey-thanks"' in missing.text
    again = public.post(link, data={"q_score": "10", "action": "submit", "form_token": token})
    assert again.status_code == 409
    assert public.get(link[:-3] + "abc").status_code == 404

    with _api(served) as api:
        responses = api.get("/api/surveys/store-nps/responses").json()
    assert [(r["score"], r["completed"], r["lang"]) for r in responses] == [(2.0, True, "zh")], (
        responses
    )


def test_the_app_answers_in_json_and_a_viewer_changes_nothing(
    served: tuple[Server, Path, str],
) -> None:
    server, _home, viewer = served
    with _api(served) as api:
        prompt = api.post("/api/surveys/store-nps/prompt", json={"identifier": "user_id:bob"})
        assert prompt.status_code == 200, prompt.text
        shown = prompt.json()
    assert shown["show"] is True and [q["id"] for q in shown["questions"]][:1] == ["score"]
    url = f"{server.url}/s/{shown['token']}"
    body = {"answers": {"score": 11}, "complete": True, "form_token": shown["form_token"]}
    refused = httpx.post(url, json=body, timeout=60)
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "answers.score"
    body["answers"] = {"score": 9, "topics": ["staff"]}
    answered = httpx.post(url, json=body, timeout=60).json()
    assert (answered["category"], answered["channel"]) == ("promoter", "in_app")
    assert httpx.post(url, json=body, timeout=60).status_code == 409

    as_viewer = httpx.Client(base_url=server.url, headers=bearer(viewer), timeout=60)
    assert as_viewer.get("/api/surveys/store-nps/results").status_code == 200
    denied = as_viewer.post("/api/surveys", json={"document": NPS.replace("store-nps", "v")})
    assert denied.status_code == 403
    assert as_viewer.post("/api/surveys/store-nps/prompt", json={}).status_code == 403


def test_the_cli_beside_the_server_reads_what_the_api_answers(
    served: tuple[Server, Path, str], tmp_path: Path
) -> None:
    home = served[1]
    listed = json.loads(omni("surveys", "list", "--json", home=home).stdout)
    assert [s["name"] for s in listed] == ["store-nps"]
    printed = omni("surveys", "results", "store-nps", "--by", "channel", home=home).stdout
    assert "NPS by channel" in printed and "in_app" in printed
    with _api(served) as api:
        api_results: dict[str, Any] = api.get(
            "/api/surveys/store-nps/results", params={"by": "channel"}
        ).json()
    cli_results = json.loads(
        omni("surveys", "results", "store-nps", "--by", "channel", "--json", home=home).stdout
    )
    assert cli_results["groups"] == api_results["groups"]
    out = tmp_path / "r.svg"
    omni(
        "surveys",
        "qr",
        "store-nps",
        "--store",
        "sh-01",
        "--receipt",
        "R9",
        "-o",
        str(out),
        home=home,
    )
    assert out.read_bytes().startswith(b"<?xml")
