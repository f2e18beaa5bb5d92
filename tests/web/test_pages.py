"""Every page on the demo data through the app (no browser): content, language, CSV."""

from __future__ import annotations

import csv
import html
import io
import re
import time
from typing import Any

from fastapi.testclient import TestClient

from omnichannel.privacy.masking import mask_email, mask_phone
from omnichannel.web.pages.people import identifier_of


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_overview_shows_sources_tables_and_the_per_channel_charts(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="sources"' in page.text and 'hx-get="/overview/activity"' in page.text
    tables = {
        r["table"]: int(r["rows"]) for r in _csv(client.get("/?format=csv&table=tables").text)
    }
    assert tables["events"] > 1000 and tables["profiles"] > 0
    sources = _csv(client.get("/?format=csv").text)
    assert sum(int(r["events"]) for r in sources) == tables["events"]
    assert all(r["last_received_at"] for r in sources if int(r["events"]))
    activity = client.get("/overview/activity")
    assert activity.status_code == 200
    assert activity.text.count("data-chart=") == 3
    rows = _csv(client.get("/overview/activity?format=csv").text)
    assert rows and sum(float(r["revenue"] or 0) for r in rows) > 0


def test_customer_360_found_by_email_with_timeline_paged_and_exported(
    client: TestClient, person: dict[str, Any]
) -> None:
    email = person["identifiers"]["email"][0]
    page = client.get("/customers", params={"q": email})
    assert page.status_code == 200
    assert person["profile_id"] in page.text and email in page.text
    assert 'id="timeline"' in page.text and "Segment" in page.text and "lapsing" in page.text
    exported = _csv(client.get("/customers", params={"q": email, "format": "csv"}).text)
    assert 0 < len(exported) <= 20 and exported[0]["timestamp"]
    older = re.search(r'hx-get="(/customers/[^"]+/timeline[^"]*)"', page.text)
    assert older is not None, "a demo customer has more than one page of timeline"
    more = client.get(html.unescape(older.group(1)))
    assert more.status_code == 200 and more.text.count("<tr>") >= 1
    assert more.text.count("<tr>") + len(exported) > 20


def test_an_unknown_or_malformed_identifier_is_a_clear_answer(client: TestClient) -> None:
    missing = client.get("/customers", params={"q": "nobody@example.invalid"})
    assert missing.status_code == 404
    assert "email:nobody@example.invalid" in missing.text
    bad = client.get("/customers", params={"q": "phone:not-a-phone"})
    assert bad.status_code == 400 and 'id="lookup-error"' in bad.text


def test_what_a_person_types_becomes_an_identifier() -> None:
    assert identifier_of("ann@example.com") == "email:ann@example.com"
    assert identifier_of("+86 138 1234 5678") == "phone:+8613812345678"
    assert identifier_of("p_0123") == "profile_id:p_0123"
    assert identifier_of("u42") == "user_id:u42"
    assert identifier_of("crm_id:CRM-1") == "crm_id:CRM-1"


def test_service_desk_masks_contacts_and_records_an_interaction(
    client: TestClient, person: dict[str, Any]
) -> None:
    email, phone = person["identifiers"]["email"][0], person["identifiers"]["phone"][0]
    page = client.get("/service-desk", params={"q": email})
    assert page.status_code == 200
    assert email not in page.text and phone not in page.text
    assert mask_email(email) in page.text and mask_phone(phone) in page.text
    recorded = client.post(
        "/service-desk/interactions",
        data={"q": email, "kind": "call", "note": "asked about a refund"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303 and "recorded=1" in recorded.headers["location"]
    assert email not in recorded.headers["location"]
    # It is an event like any other: loaded, then on the person's timeline.
    deadline = time.monotonic() + 120  # a wait for the loader, not a speed claim
    while "Service Interaction Recorded" not in client.get("/customers", params={"q": email}).text:
        assert time.monotonic() < deadline, "the recorded interaction never reached the timeline"
        time.sleep(0.2)
    refused = client.post(
        "/service-desk/interactions", data={"q": email, "kind": "fax", "note": "x"}
    )
    assert refused.status_code == 400 and "fax" in refused.text and "call" in refused.text


def test_chinese_labels_numbers_and_the_language_cookie(client: TestClient) -> None:
    switched = client.get("/segments", params={"lang": "zh"})
    assert switched.status_code == 200
    assert "分群" in switched.text and "成员数" in switched.text and 'lang="zh-CN"' in switched.text
    assert switched.cookies.get("omni_lang") == "zh"
    # Dates in the Chinese medium format (the segment's update time).
    assert "年" in client.get("/segments/lapsing").text
    assert "旅程" in client.get("/journeys").text  # the cookie keeps the choice
    client.cookies.clear()
    by_browser = client.get("/journeys", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "旅程" in by_browser.text
    english = client.get("/journeys", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Journeys" in english.text and "旅程" not in english.text


def test_segments_list_page_conditions_and_why(client: TestClient, person: dict[str, Any]) -> None:
    listed = _csv(client.get("/segments?format=csv").text)
    lapsing = next(r for r in listed if r["name"] == "lapsing")
    assert int(lapsing["members"]) > 0
    page = client.get("/segments/lapsing", params={"profile": person["identifiers"]["email"][0]})
    assert page.status_code == 200
    assert 'id="conditions"' in page.text and 'id="why-verdict"' in page.text
    assert "is a member" in page.text
    conditions = _csv(client.get("/segments/lapsing?format=csv").text)
    assert len(conditions) == 2 and all(int(c["size"]) >= 0 for c in conditions)
    members = _csv(client.get("/segments/lapsing?format=csv&table=members").text)
    assert len(members) == int(lapsing["members"])


def test_journeys_list_and_graph_with_counts_per_step(client: TestClient) -> None:
    listed = _csv(client.get("/journeys?format=csv").text)
    names = {r["name"] for r in listed}
    assert {"abandoned-cart", "welcome-series", "win-back"} <= names
    page = client.get("/journeys/abandoned-cart")
    assert page.status_code == 200 and 'id="journey-graph"' in page.text
    assert "wait-for-purchase" in page.text and "on_timeout" in page.text
    steps = {r["step"]: r for r in _csv(client.get("/journeys/abandoned-cart?format=csv").text)}
    assert int(steps["wait-for-purchase"]["executed"]) > 0


def test_an_unknown_segment_journey_or_person_is_a_page_saying_so(client: TestClient) -> None:
    segment = client.get("/segments/no-such-segment")
    assert segment.status_code == 404 and "no-such-segment" in segment.text
    assert 'id="not-found"' in segment.text and 'href="/segments"' in segment.text
    journey = client.get("/journeys/no-such-journey")
    assert journey.status_code == 404 and "no-such-journey" in journey.text
    why = client.get("/segments/lapsing", params={"profile": "nobody@example.invalid"})
    assert why.status_code == 200 and "email:nobody@example.invalid" in why.text
