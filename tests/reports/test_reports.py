"""Saved reports on the small demo home: versions, teams and sharing, bad definitions,
and a scheduled report emailed over a real SMTP conversation (aiosmtpd) with its CSV."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.platform import Platform
from omnichannel.reports.schedule import next_due
from omnichannel.reports.service import ReportForbidden
from tests.channels.servers.smtp import smtp_server
from tests.support.homes import small_demo_home

OWNER, MEMBER, OUTSIDER = "ana@shop.example", "li@shop.example", "bo@shop.example"
REVENUE = {
    "title": "Revenue per channel and month",
    "metric": {"kind": "kpi", "kpis": ["revenue", "deals"]},
    "dimensions": ["channel", "period"],
    "period": "month",
    "presentation": "bar",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("reports") / "home"
    small_demo_home(tmp_path_factory, target)
    with Platform.open(target) as platform:
        for email, role in ((OWNER, "analyst"), (MEMBER, "viewer"), (OUTSIDER, "marketer")):
            platform.users.create(email, role=role, actor="test")
        platform.reports.teams.create("growth", description="campaign people", actor="test")
        platform.reports.teams.add("growth", MEMBER, actor="test")
    return target


@pytest.fixture(scope="module")
def platform(home: Path) -> Iterator[Platform]:
    with Platform.open(home) as opened:
        yield opened


def test_a_report_is_saved_run_versioned_and_audited(platform: Platform) -> None:
    saved = platform.reports.create(REVENUE, owner=OWNER)
    answer = platform.reports.run(saved["id"], user=OWNER)
    assert answer["columns"] == ["channel", "period", "revenue", "deals"]
    kpis = platform.kpis.run(["revenue"], period="month")
    total = sum(r["kpis"]["revenue"]["value"] or 0 for r in kpis["rows"])
    assert sum(r["revenue"] or 0 for r in answer["rows"]) == pytest.approx(total)
    assert answer["chart"] == {"x": "period", "y": ["revenue"], "group": ["channel"]}

    changed = platform.reports.update(
        saved["id"], {**REVENUE, "title": "Revenue, monthly"}, actor=OWNER, user=OWNER
    )
    assert changed["version"] == 2 and changed["title"] == "Revenue, monthly"
    first = platform.reports.show(saved["id"], version=1)
    assert first["definition"]["title"] == REVENUE["title"] and first["shown_version"] == 1
    assert [v["version"] for v in platform.reports.versions(saved["id"])] == [2, 1]
    entries = platform.access.audit(target=f"report:{saved['id']}")
    assert [e["action"] for e in entries] == ["report.update", "report.create"]
    assert entries[0]["before"]["version"] == 1 and entries[0]["after"]["version"] == 2
    assert entries[0]["actor"] == OWNER


def test_a_shared_report_is_seen_by_its_team_and_changed_only_by_its_owner(
    platform: Platform,
) -> None:
    saved = platform.reports.create(REVENUE, owner=OWNER)
    rid = saved["id"]
    assert rid not in [r["id"] for r in platform.reports.list(user=MEMBER)]
    with pytest.raises(NotFoundError):
        platform.reports.show(rid, user=MEMBER)  # private: as if it did not exist
    platform.reports.share(rid, "growth", actor=OWNER, user=OWNER)
    assert rid in [r["id"] for r in platform.reports.list(user=MEMBER)]
    assert platform.reports.run(rid, user=MEMBER)["rows"]
    assert rid not in [r["id"] for r in platform.reports.list(user=OUTSIDER)]
    with pytest.raises(ReportForbidden, match="only its owner"):
        platform.reports.share(rid, None, actor=MEMBER, user=MEMBER)
    assert platform.reports.recipients(rid) == [MEMBER]
    platform.reports.share(rid, None, actor=OWNER, user=OWNER)
    assert rid not in [r["id"] for r in platform.reports.list(user=MEMBER)]
    assert rid in [r["id"] for r in platform.reports.list()]  # admins see every report


@pytest.mark.parametrize(
    ("document", "field", "accepted"),
    [
        ({"metric": {"kind": "kpi", "kpis": ["ctr"]}}, "title", "Field required"),
        ({"title": "t", "metric": {"kind": "pie"}}, "metric.kind", "'kpi', 'funnel'"),
        ({"title": "t", "metric": {"kind": "kpi", "kpis": ["nope"]}}, "metric.kpis", "ctr"),
        (
            {"title": "t", "metric": {"kind": "kpi", "kpis": ["ctr"]}, "dimensions": ["device"]},
            "dimensions.0",
            "channel, campaign, content, period",
        ),
        (
            {"title": "t", "metric": {"kind": "funnel"}, "dimensions": []},
            "metric.funnel",
            "preset: marketing",
        ),
        (
            {"title": "t", "metric": {"kind": "attribution", "models": ["magic"]}},
            "metric.models.0",
            "markov",
        ),
        (
            {"title": "t", "metric": {"kind": "kpi", "kpis": ["ctr"]}, "presentation": "pie"},
            "presentation",
            "'table', 'bar' or 'line'",
        ),
    ],
)
def test_a_bad_definition_names_the_field_and_what_is_accepted(
    platform: Platform, document: dict[str, Any], field: str, accepted: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        platform.reports.create(document, owner=OWNER)
    assert caught.value.field == field and accepted in caught.value.accepted


def test_each_metric_kind_answers_one_table(platform: Platform) -> None:
    funnel = platform.reports.preview(
        {
            "title": "views to carts",
            "metric": {"kind": "funnel", "funnel": {"steps": ["Product Viewed", "Product Added"]}},
            "dimensions": ["device"],
        }
    )
    direct = platform.funnels.run({"steps": ["Product Viewed", "Product Added"]})
    firsts = [r["entered"] for r in funnel["rows"] if r["step"] == 1]
    assert sum(firsts) == direct["overall"]["steps"][0]["entered"]
    retention = platform.reports.preview(
        {"title": "buyers", "metric": {"kind": "retention", "retention": {"periods": 2}}}
    )
    assert retention["columns"][:3] == ["cohort", "people", "period_0"]
    assert all(r["period_0"] == 1.0 for r in retention["rows"] if r["people"])
    both = platform.reports.attribution(["first_touch", "last_touch"])
    for model in ("first_touch", "last_touch"):
        credited = sum(r[model] for r in both["rows"])
        assert credited == pytest.approx(both["conversions"])  # the untouched are apart


def test_next_due_of_each_schedule() -> None:
    wednesday = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
    assert next_due({"every": "day", "hour": 7}, after=wednesday) == datetime(
        2026, 6, 4, 7, tzinfo=UTC
    )
    assert next_due({"every": "week", "hour": 7, "weekday": 0}, after=wednesday) == datetime(
        2026, 6, 8, 7, tzinfo=UTC
    )
    assert next_due({"every": "month", "hour": 7, "day": 1}, after=wednesday) == datetime(
        2026, 7, 1, 7, tzinfo=UTC
    )


def test_a_scheduled_report_is_emailed_to_its_team_with_the_csv_attached(
    home: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    with smtp_server() as smtp:
        (copy / "channels.yaml").write_text(
            f"email:\n  host: {smtp.host}\n  port: {smtp.port}\n"
            "  from_address: reports@shop.example\n"
        )
        with Platform.open(copy) as platform:
            assert platform.job_registry.get("reports").every == timedelta(minutes=15)
            saved = platform.reports.create(REVENUE, owner=OWNER, team="growth")
            start = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
            planned = platform.reports.schedule(
                saved["id"], {"every": "day", "hour": 7}, actor=OWNER, user=OWNER, now=start
            )
            assert planned["next_send_at"] == datetime(2026, 6, 4, 7, tzinfo=UTC)
            assert platform.reports.send_due(now=start)["sent"] == []  # not due yet
            platform.channels.start(["email"], poll_seconds=0.2)
            due = platform.reports.send_due(now=datetime(2026, 6, 4, 7, 5, tzinfo=UTC))
            assert [s["address"] for s in due["sent"][0]["sent"]] == [MEMBER]
            deadline = time.monotonic() + 120  # a wait for the channel's worker
            while not smtp.messages and time.monotonic() < deadline:
                time.sleep(0.1)
            again = platform.reports.send_due(now=datetime(2026, 6, 4, 7, 20, tzinfo=UTC))
            assert again["sent"] == []  # the next one is due tomorrow
            shown = platform.reports.show(saved["id"])
            assert shown["next_send_at"] == datetime(2026, 6, 5, 7, tzinfo=UTC)
            rows = platform.reports.run(saved["id"])["rows"]
        mails = list(smtp.messages)
    assert len(mails) == 1 and mails[0].recipients == [MEMBER]
    message = mails[0].message
    assert message["Subject"] == "[omnichannel] report: Revenue per channel and month"
    page = mails[0].part("html")
    assert "<table" in page and "revenue" in page
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["revenue-per-channel-and-month.csv"]
    text = attachments[0].get_content()
    text = text.decode("utf-8") if isinstance(text, bytes) else text
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(table) == len(rows) and set(table[0]) == {"channel", "period", "revenue", "deals"}
