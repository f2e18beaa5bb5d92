"""Messages and channels, comments and @mentions, large-send approval on the pages, through
the app on the demo home: templates and previews, channel health, the delivery log."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from omnichannel.platform import Platform
from omnichannel.privacy.masking import mask_email
from tests.access.conftest import login

PASSWORD = "correct horse battery"
WEB = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"
MINE = (
    "templates/messages.html",
    "templates/message_template.html",
    "templates/message_log.html",
    "templates/channels.html",
    "templates/notifications.html",
    "templates/bell.html",
    "templates/_comments.html",
    "templates/comments_fragment.html",
    "templates/comments_page.html",
    "pages/messages.py",
    "pages/channels.py",
)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.fixture(scope="module")
def platform(client: TestClient) -> Platform:
    found: Platform = client.app.state.services.platform  # type: ignore[attr-defined]
    return found


@pytest.fixture(scope="module")
def people(platform: Platform) -> dict[str, str]:
    """Users of the roles these pages tell apart (password PASSWORD)."""
    made = {
        "viewer": "vic@shop.example",
        "approver": "lin@shop.example",
        "marketer": "mia@shop.example",
        "service_desk": "sam@shop.example",
    }
    for role, email in made.items():
        platform.users.create(email, role=role, password=PASSWORD, actor="test")
    return made


@pytest.fixture
def as_user(client: TestClient) -> Iterator[Any]:
    """``as_user(email)``: a browser-like client signed in as that user (no bearer)."""
    opened: list[TestClient] = []

    def sign_in(email: str) -> TestClient:
        browser = TestClient(client.app, base_url="http://testserver")
        assert login(browser, email, PASSWORD).status_code == 303
        opened.append(browser)
        return browser

    yield sign_in
    for browser in opened:
        browser.close()


def _csrf(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, page_text[:500]
    return found.group(1)


def test_templates_per_channel_and_a_preview_for_a_person(
    client: TestClient, person: dict[str, Any]
) -> None:
    page = client.get("/messages")
    assert page.status_code == 200
    assert 'data-channel="email"' in page.text and "/messages/templates/welcome-1" in page.text
    names = {r["name"] for r in _csv(client.get("/messages?format=csv").text)}
    assert {"welcome-1", "cart-reminder"} <= names

    email = person["identifiers"]["email"][0]
    shown = client.get("/messages/templates/welcome-1", params={"profile": email})
    assert shown.status_code == 200
    subject = re.search(r'<pre id="part-subject"[^>]*>([^<]*)</pre>', shown.text)
    assert subject is not None and "Welcome to Lotus &amp; Pine" in subject.group(1)
    api = client.post("/api/templates/welcome-1/preview", params={"profile": f"email:{email}"})
    assert html.escape(api.json()["rendered"]["subject"], quote=False) == subject.group(1)
    assert not subject.group(1).endswith(", 朋友")  # their own first name, not the fallback
    assert person["profile_id"] in shown.text  # rendered for them, not for a sample
    sample = client.get("/messages/templates/welcome-1")
    assert "Rendered for a sample person." in sample.text
    assert [r["version"] for r in _csv(client.get("/messages/templates/welcome-1?format=csv").text)]

    nobody = client.get("/messages/templates/welcome-1", params={"profile": "no@where.invalid"})
    assert nobody.status_code == 404 and "email:no@where.invalid" in nobody.text
    assert client.get("/messages/templates/no-such-template").status_code == 404


def test_a_variable_the_person_lacks_is_shown_as_the_renderers_error(
    client: TestClient, platform: Platform, person: dict[str, Any]
) -> None:
    # A journey's send gives its entry event as `entry`; a preview for a person has none
    # (the save-time check ran on the sample, which has a segment, so it passed).
    platform.templates.save(
        "order-note",
        channel="email",
        content={"subject": "Your order", "text": "{{ 'ok' if segment else entry.order }}"},
        created_by="test",
    )
    email = person["identifiers"]["email"][0]
    shown = client.get("/messages/templates/order-note", params={"profile": email})
    assert shown.status_code == 400, shown.text[:300]
    error = re.search(r'id="preview-error">([^<]*)<', shown.text)
    assert error is not None and "content.text line 1" in error.group(1)
    assert "entry" in error.group(1)


def test_channel_health_and_the_delivery_log_filtered_paged_and_exported(
    client: TestClient,
) -> None:
    health = client.get("/channels")
    assert health.status_code == 200 and 'id="channel-email"' in health.text
    rows = {r["channel"]: r for r in _csv(client.get("/channels?format=csv").text)}
    assert int(rows["email"]["recent_sent"]) >= 0 and "suppressions" in rows["email"]
    api = client.get("/api/channels/health").json()
    assert {c["channel"] for c in api} == set(rows)

    log = client.get("/messages/log")
    assert log.status_code == 200
    total = int(client.get("/api/messages/log", params={"limit": 1}).json()["total"])
    assert total > 50, "the demo's journeys leave more than a page of deliveries"
    assert 'id="next-page"' in log.text and log.text.count("<tr>") == 51
    second = client.get("/messages/log", params={"page": 2})
    assert 'id="previous-page"' in second.text
    sent = client.get("/messages/log", params={"channel": "email", "status": "sent"})
    steps = set(re.findall(r'<span class="status">([^<]+)</span>', sent.text))
    assert steps == {"sent"}
    exported = _csv(client.get("/messages/log?format=csv&status=sent").text)
    assert exported and {r["status"] for r in exported} == {"sent"}
    by_api = client.get("/api/messages/log", params={"status": "sent", "limit": 1000}).json()
    assert len(exported) == len(by_api["rows"])
    wrong = client.get("/messages/log", params={"status": "posted"})
    assert wrong.status_code == 400 and "status=&#39;posted&#39;" in wrong.text
    assert "opened" in wrong.text  # what is accepted


def test_the_service_desk_sees_the_log_masked_and_no_templates_or_comments(
    client: TestClient, people: dict[str, str], as_user: Any
) -> None:
    exported = _csv(client.get("/messages/log?format=csv").text)
    address = next(r["recipient"] for r in exported if "@" in (r["recipient"] or ""))
    desk = as_user(people["service_desk"])
    page = desk.get("/messages/log")
    assert page.status_code == 200
    assert address not in page.text and mask_email(address) in page.text
    assert desk.get("/messages/templates/welcome-1").status_code == 403
    assert desk.get("/comments/segment/lapsing").status_code == 403


def test_comments_with_mentions_notify_the_user_and_are_audited(
    client: TestClient, platform: Platform, people: dict[str, str], as_user: Any
) -> None:
    marketer = as_user(people["marketer"])
    segment = marketer.get("/segments/lapsing")
    token = _csrf(segment.text)
    posted = marketer.post(
        "/comments/segment/lapsing",
        data={"body": "@lin is the 90-day rule right?", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert posted.status_code == 200 and "@lin is the 90-day rule right?" in posted.text
    wrong = marketer.post(
        "/comments/segment/lapsing",
        data={"body": "ask @nobody-here", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert (
        'id="comment-error"' in wrong.text and "@nobody-here matches no active user" in wrong.text
    )
    assert "ask @nobody-here" in wrong.text  # the text is kept in the form

    approver = as_user(people["approver"])
    bell = approver.get("/me/notifications/bell")
    assert 'class="badge">1<' in bell.text
    mine = approver.get("/me/notifications")
    assert "segment:lapsing" in mine.text and people["marketer"] in mine.text
    assert 'href="/segments/lapsing#comment-' in mine.text
    assert (
        approver.post(
            "/me/notifications/read", data={"csrf_token": _csrf(mine.text)}, follow_redirects=False
        ).status_code
        == 303
    )
    assert 'class="badge"' not in approver.get("/me/notifications/bell").text

    listed = client.get("/api/comments", params={"subject": "segment:lapsing"}).json()
    assert [(c["author"], c["mentions"]) for c in listed] == [
        (people["marketer"], [people["approver"]])
    ]
    fragment = client.get("/comments/segment/lapsing", headers={"HX-Request": "true"})
    assert "@lin is the 90-day rule right?" in fragment.text
    [entry] = platform.access.audit(action="comment.create")
    assert entry["actor"] == people["marketer"] and entry["target"] == "segment:lapsing"
    # Viewers join the discussion (a comment changes no object); the service desk does not.
    viewer = as_user(people["viewer"])
    said = viewer.post(
        "/comments/journey/win-back",
        data={"body": "Looks good", "csrf_token": _csrf(viewer.get("/journeys").text)},
        follow_redirects=False,
    )
    assert said.status_code == 303 and said.headers["location"].startswith("/journeys/win-back")


def test_a_large_send_is_approved_on_the_page_by_an_approver_not_a_viewer(
    client: TestClient, platform: Platform, people: dict[str, str], as_user: Any
) -> None:
    held = platform.messages.large_sends.hold(
        {"segment": "lapsing", "channel": "email", "template": "winback-offer", "campaign": "x-1"},
        12_345,
        actor=people["marketer"],
    )
    viewer = as_user(people["viewer"])
    listing = viewer.get("/messages")
    assert f'id="send-{held["id"]}"' in listing.text
    assert f"/messages/sends/{held['id']}/approve" not in listing.text  # no button for them
    refused = viewer.post(
        f"/messages/sends/{held['id']}/approve", data={"csrf_token": _csrf(listing.text)}
    )
    assert refused.status_code == 403 and "messages:approve" in refused.text
    assert platform.messages.get_send(held["id"])["status"] == "pending_approval"

    approver = as_user(people["approver"])
    page = approver.get("/messages")
    assert f"/messages/sends/{held['id']}/approve" in page.text
    done = approver.post(
        f"/messages/sends/{held['id']}/approve",
        data={"csrf_token": _csrf(page.text), "note": "ok"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    decided = platform.messages.get_send(held["id"])
    assert (decided["status"], decided["decided_by"]) == ("sent", people["approver"])
    assert sum(decided["result"]["by_status"].values()) == decided["result"]["members"]
    again = approver.post(
        f"/messages/sends/{held['id']}/approve", data={"csrf_token": _csrf(page.text)}
    )
    assert again.status_code == 409 and 'id="send-error"' in again.text


def test_every_string_of_these_pages_is_in_chinese(client: TestClient) -> None:
    po = WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
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
    assert missing == []
    assert "模板" in client.get("/messages", params={"lang": "zh"}).text
    client.cookies.clear()
