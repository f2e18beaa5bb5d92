"""Every dashboard page on the demo data: time to render over HTTP, beside the JSON API
call behind it (the same library call without the template), on one ``omni serve``.

Each page and its baseline are requested alternately, ``--repeat`` times each after one
warm-up of both (the warm-up builds the lookup index and opens the warehouse); the
figure is the median, with the p99 seen; the ratio is page / baseline. Target: every
page under 1 s. Without ``--home`` it makes ``omni demo --people 300`` in a temporary
directory first (about a minute, not timed).

    .venv/bin/python benchmarks/web_pages.py
    .venv/bin/python benchmarks/web_pages.py --home /tmp/webdemo/omni-home --repeat 20
    .venv/bin/python benchmarks/web_pages.py --only /analytics --only /reports
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import quantile, server

TARGET_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_home(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "omnichannel", "demo", "--people", "300", "--json"],
        cwd=directory,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return directory / "omni-home"


def _a_customer(http: httpx.Client) -> tuple[str, str]:
    members = http.get("/segments/lapsing", params={"format": "csv", "table": "members"})
    for line in members.text.lstrip("\ufeff").splitlines()[1:]:
        card = http.get(f"/v1/profiles/profile_id:{line.strip()}/card").json()
        if card["identifiers"].get("email"):
            return card["profile_id"], card["identifiers"]["email"][0]
    raise RuntimeError("no member of 'lapsing' has an email")


def _pairs(profile_id: str, email: str) -> list[tuple[str, str]]:
    """(page, the JSON call behind it)."""
    return [
        ("/", "/v1/warehouse/status"),
        (
            "/overview/activity",
            "/api/analytics/kpis?kpis=reach,interactions,revenue&by=channel&period=month",
        ),
        (f"/customers?q={email}", f"/v1/profiles/email:{email}/card"),
        (f"/service-desk?q={email}", f"/v1/profiles/email:{email}/card"),
        (
            f"/customers/{profile_id}/timeline",
            f"/v1/profiles/profile_id:{profile_id}/events?limit=20",
        ),
        ("/segments", "/api/segments?trend_days=30"),
        (
            f"/segments/lapsing?profile={profile_id}",
            f"/api/segments/lapsing/explain?profile={profile_id}",
        ),
        ("/journeys", "/api/journeys"),
        ("/journeys/abandoned-cart", "/api/journeys/abandoned-cart/stats"),
    ]


Call = str | tuple[str, dict[str, Any]]  # a GET, or a POST with its httpx arguments


def _builder_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The builders' pages and fragments beside the library call each one makes."""
    import json

    segment = {"condition": http.get("/api/segments/lapsing").json()["definition"]["condition"]}
    journey = http.get("/api/journeys/welcome-series").json()["definition"]
    return [
        ("/segments/new", ("/api/segments/preview", {"json": {**NEW_SEGMENT, "sample": 0}})),
        ("/segments/lapsing/edit", ("/api/segments/preview", {"json": {**segment, "sample": 0}})),
        (
            ("/segments/builder/preview", {"data": {"document": json.dumps(segment)}}),
            ("/api/segments/preview", {"json": {**segment, "sample": 0}}),
        ),
        ("/journeys/welcome-series/edit", ("/api/journeys/validate", {"json": journey})),
        (
            ("/journeys/builder/validate", {"data": {"document": json.dumps(journey)}}),
            ("/api/journeys/validate", {"json": journey}),
        ),
        (
            "/journeys/win-back/simulate?days=7",
            ("/api/journeys/simulate", {"json": {"name": "win-back", "days": 7}}),
        ),
    ]


def _message_pairs(email: str) -> list[tuple[Call, Call]]:
    """Messages and channels, comments and notifications, beside their JSON calls."""
    preview: Call = (f"/api/templates/welcome-1/preview?profile=email:{email}", {})
    return [
        ("/messages", "/api/templates"),
        (f"/messages/templates/welcome-1?profile={email}", preview),
        ("/messages/log", "/api/messages/log?limit=50"),
        ("/messages/log?channel=email&status=sent", "/api/messages/log?channel=email&status=sent"),
        ("/channels", "/api/channels/health"),
        ("/comments/segment/lapsing", "/api/comments?subject=segment:lapsing"),
        ("/me/notifications", "/api/notifications"),
    ]


def _analytics_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The Analytics pages and reports beside the library calls behind them (a page may
    make more than one: the funnel builder also lists event names, the KPI page also
    compares periods)."""
    steps = ["Product Viewed", "Product Added"]
    models = ["first_touch", "last_touch", "linear", "position_based", "markov"]
    kpis = "sends,clicks,ctr,deals,deal_rate,revenue,roas"
    month = "since=2026-06-01&until=2026-07-01"  # the demo's last full month
    report = {
        "title": "benchmark: revenue per channel and month",
        "metric": {"kind": "kpi", "kpis": ["revenue", "deals"]},
        "dimensions": ["channel", "period"],
        "period": "month",
        "presentation": "bar",
    }
    made = http.post("/api/reports", json={"document": report})
    made.raise_for_status()
    rid = made.json()["id"]
    form = {
        "title": report["title"],
        "kind": "kpi",
        "kpi": ["revenue", "deals"],
        "dimension": ["channel", "period"],
        "period": "month",
        "presentation": "bar",
        "action": "preview",
    }
    query = "&".join(f"step={s.replace(' ', '+')}" for s in steps)
    return [
        ("/analytics", "/api/alerts?state=open"),
        (
            f"/analytics/funnels?{query}",
            ("/api/analytics/funnels", {"json": {"steps": steps, "window": "7d"}}),
        ),
        ("/analytics/funnels?preset=marketing", "/api/analytics/funnels/marketing"),
        (
            "/analytics/retention?period=month&periods=6",
            (
                "/api/analytics/retention",
                {"json": {"start": {"order": {}}, "period": "month", "periods": 6}},
            ),
        ),
        (
            "/analytics/attribution",
            "/api/reports/attribution?" + "&".join(f"models={m}" for m in models),
        ),
        ("/analytics/kpis", f"/api/analytics/kpis?kpis={kpis}&by=channel&period=month"),
        (
            f"/analytics/kpis/compare?kpi=revenue&kpi=ctr&by=channel&{month}",
            f"/api/analytics/kpis/compare?kpis=revenue,ctr&by=channel&{month}",
        ),
        ("/analytics/experiments", "/api/experiments"),
        ("/analytics/experiments/journeys/win-back", "/api/experiments/journeys/win-back"),
        ("/reports", "/api/reports"),
        (f"/reports/{rid}", f"/api/reports/{rid}/run"),
        (
            ("/reports/new", {"data": form}),
            ("/api/reports/preview", {"json": {"document": report}}),
        ),
    ]


def _budget_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The budget page (curves, split, two scenarios, plans) beside the allocation behind
    it; a home without a marketing-mix fit is given curves for the demo's paid channels."""
    if http.get("/api/budget/model").status_code == 404:
        curves = [
            {"channel": c, "decay": 0.4, "half": 150.0, "shape": s, "top": 1.5}
            for c, s in (("search", 1.0), ("social", 1.2), ("video", 2.0), ("display", 0.9))
        ]
        document = {"target": "orders", "period": "day", "curves": curves}
        http.post("/api/budget/model", json={"model": document}).raise_for_status()
    return [
        (
            "/budget?total=300&total_1=200&total_2=400",
            ("/api/budget/optimise", {"json": {"total": 300}}),
        )
    ]


def _models_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The models page (scores, rules, the clustering section) beside the personas behind
    its clustering section; a home without a clustering is given one first."""
    if http.get("/api/clusters").status_code == 404:
        http.post("/api/models/clusters/versions", json={}, timeout=600).raise_for_status()
    return [("/models", "/api/clusters")]


def _surveys_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The surveys page (NPS by channel with its trend, free text, responses) beside the
    results behind it; the demo's survey."""
    return [("/surveys?survey=store-nps&by=channel", "/api/surveys/store-nps/results?by=channel")]


def _models_pairs(http: httpx.Client) -> list[tuple[Call, Call]]:
    """The models page (scores, rules, the clustering section) beside the personas behind
    its clustering section; a home without a clustering is given one first."""
    if http.get("/api/clusters").status_code == 404:
        http.post("/api/models/clusters/versions", json={}, timeout=600).raise_for_status()
    return [("/models", "/api/clusters")]


NEW_SEGMENT = {"condition": {"all": [{"trait": {"field": "orders", "gte": 1}}]}}


def _time(http: httpx.Client, call: Call) -> float:
    start = time.perf_counter()
    if isinstance(call, str):
        url, answer = call, http.get(call)
    else:
        url, answer = call[0], http.post(call[0], **call[1])
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="An installation (default: a new demo).")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--only", action="append", default=[], help="Only pages whose path starts so (repeat)."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omni-web-bench-") as tmp:
        home = args.home or _demo_home(Path(tmp))
        print(f"home {home}; load average {os.getloadavg()[0]:.1f} at start")
        with server(home, _free_port()) as base:
            from omnichannel.server_runtime import read_runtime

            runtime = read_runtime(home)
            assert runtime is not None, "omni serve wrote no runtime file"
            headers = {"Authorization": f"Bearer {runtime.token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                profile_id, email = _a_customer(http)
                results: list[dict[str, Any]] = []
                pairs: list[tuple[Call, Call]] = [*_pairs(profile_id, email)]
                pairs.extend(_builder_pairs(http))
                pairs.extend(_message_pairs(email))
                pairs.extend(_analytics_pairs(http))
                pairs.extend(_models_pairs(http))
                pairs.extend(_models_pairs(http))
                pairs.extend(_budget_pairs(http))
                pairs.extend(_surveys_pairs(http))
                for page, api in pairs:
                    path = page if isinstance(page, str) else page[0]
                    if args.only and not any(path.startswith(o) for o in args.only):
                        continue
                    _time(http, page), _time(http, api)  # warm-up
                    pages, apis = [], []
                    for _ in range(args.repeat):
                        pages.append(_time(http, page))
                        apis.append(_time(http, api))
                    results.append({"page": page, "pages": pages, "apis": apis})
        print(f"{'page':<44} {'median':>8} {'p99':>8} {'JSON API':>9} {'ratio':>6}")
        slow = []
        for r in results:
            page_ms = statistics.median(r["pages"]) * 1000
            api_ms = statistics.median(r["apis"]) * 1000
            shown = r["page"] if isinstance(r["page"], str) else "POST " + r["page"][0]
            shown = shown.split("?")[0]
            print(
                f"{shown:<44} {page_ms:>6.0f} ms {quantile(r['pages'], 0.99) * 1000:>5.0f} ms"
                f" {api_ms:>6.0f} ms {page_ms / api_ms:>5.2f}x"
            )
            if statistics.median(r["pages"]) >= TARGET_SECONDS:
                slow.append(shown)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        verdict = "every page under 1 s" if not slow else "over 1 s: " + ", ".join(slow)
        print(f"target < {TARGET_SECONDS:.0f} s per page (median): {verdict}")


if __name__ == "__main__":
    main()
