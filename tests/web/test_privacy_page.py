"""The /privacy page on the demo home: requests with their deadline and status, a person's
consent history, an erasure's receipt and the partner files, each with its CSV; Chinese;
a viewer is refused; every string of the page translated."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.catalogue import WEB, untranslated

PERSON = "email:privacy-page@shop.example"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.slow(seconds=15)  # an erasure on the demo home
def test_requests_consent_receipts_and_partner_files_on_one_page(
    client: TestClient, tmp_path: Path
) -> None:
    logged = client.post(
        "/api/privacy/requests", json={"kind": "export", "person": PERSON, "regulation": "pipl"}
    )
    assert logged.status_code == 201, logged.text
    decision = {"person": PERSON, "purpose": "marketing", "channel": "email", "status": "withdrawn"}
    assert client.post("/api/consent", json=decision | {"source": "desk"}).status_code == 201
    erased = client.post(
        "/api/privacy/erase", json={"person": "email:gone@nowhere.example", "confirm": True}
    )
    assert erased.status_code == 200, erased.text
    page = client.get("/privacy", params={"person": PERSON})
    assert page.status_code == 200
    request_id = logged.json()["id"]
    assert f'id="request-{request_id}"' in page.text and "PIPL" in page.text
    assert "withdrawn" in page.text and "desk" in page.text  # the consent history
    receipts = _rows(client.get("/privacy", params={"format": "csv", "table": "receipts"}).text)
    assert [r["request"] for r in receipts] == [str(erased.json()["request"]["id"])]
    requests = _rows(client.get("/privacy", params={"format": "csv", "status": "open"}).text)
    assert [r["id"] for r in requests] == [str(request_id)]
    assert requests[0]["due_at"] == logged.json()["due_at"]
    history = _rows(
        client.get("/privacy", params={"format": "csv", "table": "consent", "person": PERSON}).text
    )
    assert [(h["purpose"], h["status"]) for h in history] == [("marketing", "withdrawn")]
    partners = client.get("/privacy", params={"format": "csv", "table": "partners"})
    assert partners.status_code == 200 and _rows(partners.text) == []
    refused = client.get("/privacy", params={"person": "no-colon"})
    assert refused.status_code == 200 and "person=&#39;no-colon&#39;" in refused.text


def _token(client: TestClient, email: str, role: str) -> dict[str, str]:
    made = client.post("/api/users", json={"email": email, "role": role, "password": "p" * 16})
    assert made.status_code == 201, made.text
    token = client.post(f"/api/users/{email}/tokens", json={"name": "tests"}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_chinese_a_viewer_sees_contacts_masked_and_the_service_desk_is_refused(
    client: TestClient,
) -> None:
    assert "数据主体请求" in client.get("/privacy", params={"lang": "zh"}).text
    client.cookies.clear()
    viewer = _token(client, "privacy-viewer@shop.example", "viewer")
    desk = _token(client, "privacy-desk@shop.example", "service_desk")
    seen = client.get(
        "/privacy", params={"person": PERSON, "format": "csv", "table": "consent"}, headers=viewer
    )
    assert seen.status_code == 200
    assert [h["subject"] for h in _rows(seen.text)] == ["email:p***********@s***.example"]
    assert client.get("/privacy", headers=desk).status_code == 403


def test_every_string_of_the_privacy_page_is_translated() -> None:
    assert untranslated(WEB / "pages" / "privacy.py", WEB / "templates" / "privacy.html") == []
