"""The journey editor, dry run and lifecycle buttons through the app: live validation names
the path, saves are new versions by the signed-in user, approval needs the approver role
and a second person (the library's rule, its message on the page), a viewer changes
nothing; every string of the builders' pages is translated."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from omnichannel.journeys.definition import json_schema
from tests.web.sessions import cheap_hashing, csrf, signed_in

__all__ = ["cheap_hashing"]  # the module's fixture, used by its tests through autouse

WEB = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"
MINE = (
    "templates/segments.html",
    "templates/segment.html",
    "templates/segment_builder.html",
    "templates/segment_estimate.html",
    "templates/journeys.html",
    "templates/journey.html",
    "templates/journey_editor.html",
    "templates/journey_validation.html",
    "templates/journey_simulate.html",
    "builders.py",
    "pages/segments.py",
    "pages/journeys.py",
)
WELCOME = {
    "name": "welcome-page",
    "description": "one email after sign-up",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "hello",
    "steps": {
        "hello": {"send": {"channel": "email", "template": "welcome-1"}, "next": "done"},
        "done": {"exit": {}},
    },
}


def _post(browser: TestClient, path: str, token: str, **form: str) -> httpx.Response:
    return browser.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def test_live_validation_answers_what_the_journey_uses_or_the_path_of_its_problem(
    client: TestClient,
) -> None:
    page = client.get("/journeys/new")
    assert page.status_code == 200 and 'hx-post="/journeys/builder/validate"' in page.text
    assert json.dumps(json_schema(), ensure_ascii=False)[:40] in page.text.replace("&#34;", '"')
    valid = client.post("/journeys/builder/validate", data={"document": json.dumps(WELCOME)})
    assert 'id="validation-ok"' in valid.text and "Valid: 2 steps" in valid.text
    assert "welcome-1" in valid.text
    wrong = json.loads(json.dumps(WELCOME))
    wrong["steps"]["hello"]["send"]["template"] = "no-such-template"
    refused = client.post("/journeys/builder/validate", data={"document": json.dumps(wrong)})
    assert 'data-error-path="steps.hello.send.template"' in refused.text
    assert "the name of an existing template" in refused.text


def test_create_edit_approve_start_by_role_and_the_two_person_rule(client: TestClient) -> None:
    marketer = signed_in(client, "mia@shop.example", "marketer")
    token = csrf(marketer, "/journeys/new")
    made = _post(marketer, "/journeys/new", token, document=json.dumps(WELCOME))
    assert made.status_code == 303
    shown = client.get("/api/journeys/welcome-page").json()
    assert (shown["status"], shown["version"], shown["version_by"]) == (
        "draft",
        1,
        "mia@shop.example",
    )
    page = marketer.get("/journeys/welcome-page")
    assert 'id="action-approve"' not in page.text and 'id="edit-journey"' in page.text
    assert 'id="action-archive"' in page.text  # operate: the marketer's
    assert _post(marketer, "/journeys/welcome-page/approve", token).status_code == 403

    edited = {**WELCOME, "description": "one email, edited"}
    saved = _post(marketer, "/journeys/welcome-page/edit", token, document=json.dumps(edited))
    assert saved.status_code == 303
    assert client.get("/api/journeys/welcome-page").json()["version"] == 2

    # An admin who saved the newest version may not approve it: the library says why.
    boss = signed_in(client, "boss@shop.example", "admin")
    boss_token = csrf(boss, "/journeys/new")
    by_boss = {**WELCOME, "description": "the boss's version"}
    _post(boss, "/journeys/welcome-page/edit", boss_token, document=json.dumps(by_boss))
    own = _post(boss, "/journeys/welcome-page/approve", boss_token)
    assert own.status_code == 400
    assert "someone other than boss@shop.example" in own.text

    approver = signed_in(client, "li@shop.example", "approver")
    approver_token = csrf(approver, "/journeys")
    approver_page = approver.get("/journeys/welcome-page")
    assert 'id="action-approve"' in approver_page.text
    assert 'id="edit-journey"' not in approver_page.text
    assert 'id="action-start"' not in approver_page.text  # starting is an operator's
    approved = _post(approver, "/journeys/welcome-page/approve", approver_token)
    assert approved.status_code == 303
    after = client.get("/api/journeys/welcome-page").json()
    assert (after["status"], after["approved_by"], after["approved_version"]) == (
        "approved",
        "li@shop.example",
        3,
    )
    assert "li@shop.example" in approver.get("/journeys/welcome-page?done=approve").text

    started = _post(marketer, "/journeys/welcome-page/start", token)
    assert started.status_code == 303
    assert client.get("/api/journeys/welcome-page").json()["status"] == "live"
    again = _post(marketer, "/journeys/welcome-page/start", token)
    assert again.status_code == 409 and "live on version 3 already" in again.text
    _post(marketer, "/journeys/welcome-page/pause", token)
    assert client.get("/api/journeys/welcome-page").json()["status"] == "paused"
    audit = client.get("/api/audit", params={"target": "journey:welcome-page"}).json()
    assert {(r["action"], r["actor"]) for r in audit} >= {
        ("journey.create", "mia@shop.example"),
        ("journey.approve", "li@shop.example"),
        ("journey.start", "mia@shop.example"),
    }


def test_a_bad_save_keeps_the_document_and_names_its_path(client: TestClient) -> None:
    marketer = signed_in(client, "mia@shop.example", "marketer")
    token = csrf(marketer, "/journeys/new")
    wrong = {**WELCOME, "name": "broken-one", "start": "nowhere"}
    refused = _post(marketer, "/journeys/new", token, document=json.dumps(wrong))
    assert refused.status_code == 400
    assert "nowhere" in refused.text and 'data-error-path="start"' in refused.text
    assert client.get("/api/journeys/broken-one").status_code == 404


def test_a_viewer_reads_journeys_and_changes_nothing(client: TestClient) -> None:
    viewer = signed_in(client, "vic@shop.example", "viewer")
    token = csrf(viewer, "/journeys")
    page = viewer.get("/journeys/win-back")
    assert page.status_code == 200 and 'id="simulate-journey"' in page.text
    assert "action-" not in page.text and 'id="edit-journey"' not in page.text
    assert 'id="new-journey"' not in viewer.get("/journeys").text
    assert viewer.get("/journeys/new").status_code == 403
    document = json.dumps({**WELCOME, "name": "by-viewer"})
    assert _post(viewer, "/journeys/new", token, document=document).status_code == 403
    for action in ("edit", "approve", "start", "pause", "archive"):
        answer = _post(viewer, f"/journeys/win-back/{action}", token, document=document)
        assert answer.status_code == 403, action
    assert client.get("/api/journeys/by-viewer").status_code == 404
    checked = _post(viewer, "/journeys/builder/validate", token, document=document)
    assert checked.status_code == 200


def test_simulate_shows_the_librarys_dry_run(client: TestClient) -> None:
    page = client.get("/journeys/win-back/simulate", params={"days": 7})
    assert page.status_code == 200
    api = client.post("/api/journeys/simulate", json={"name": "win-back", "days": 7}).json()
    steps = client.get(
        "/journeys/win-back/simulate", params={"days": 7, "format": "csv", "table": "steps"}
    ).text.lstrip("\ufeff")
    rows = steps.splitlines()
    assert rows[0] == "step,kind,reached,routes,waiting"
    assert len(rows) - 1 == len(api["steps"])
    assert f"{api['entered']:,} would enter" in page.text
    sends = client.get(
        "/journeys/win-back/simulate", params={"days": 7, "format": "csv", "table": "sends"}
    ).text
    assert "winback-offer" in sends
    bad = client.get("/journeys/win-back/simulate", params={"days": "0"})
    assert bad.status_code == 400 and "days=0 is not accepted" in bad.text


def test_every_string_of_the_builders_pages_is_translated() -> None:
    with (WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    missing = []
    for name in MINE:
        method = "jinja2.ext.babel_extract" if name.endswith(".html") else "python"
        for _line, message, _comments, _context in extract_from_file(
            method, str(WEB / name), options={"extensions": "jinja2.ext.i18n"}
        ):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                missing.append(f"{name}: {msgid}")
    assert not missing, missing


def test_the_editor_speaks_chinese(client: TestClient) -> None:
    page = client.get("/journeys/new", params={"lang": "zh"})
    assert "新建旅程" in page.text and "保存为新版本" in page.text
    labels = client.get("/segments/new", params={"lang": "zh"}).text
    assert "全部满足" in labels
