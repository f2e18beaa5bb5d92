"""The demo's survey: a store NPS asked in the app and on till receipts, and its answers.

A few dozen people with a user id are asked in the app, and a few receipts per store
carry the QR code; about two thirds answer, over the four weeks before the demo's last
day, in English or Chinese, some with a comment. The second half of the answers runs a
little better (the "change" the dashboard's before/after reads). Seeded: the same
answers every run. Small on purpose: a second or two of the demo's run.
"""

# ruff: noqa: RUF001 - the Chinese answers are written with Chinese punctuation
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from omnichannel.config import Settings

NAME = "store-nps"
SURVEY: dict[str, Any] = {
    "name": NAME,
    "kind": "nps",
    "title": {"en": "How did we do?", "zh": "我们做得怎么样？"},
    "thanks": {"en": "Thank you for telling us.", "zh": "感谢您的反馈。"},
    "resurvey_after": "30d",
    "questions": [
        {
            "id": "score",
            "type": "scale",
            "min": 0,
            "max": 10,
            "required": True,
            "text": {
                "en": "How likely are you to recommend us to a friend?",
                "zh": "您有多大可能向朋友推荐我们？",
            },
        },
        {
            "id": "why",
            "type": "text",
            "text": {
                "en": "What is the main reason for your score?",
                "zh": "您打这个分的主要原因是？",
            },
        },
        {
            "id": "topics",
            "type": "multiple",
            "show_if": {"question": "score", "lte": 6},
            "text": {"en": "What went wrong?", "zh": "哪里做得不好？"},
            "options": [
                {"value": "staff", "label": {"en": "Staff", "zh": "店员"}},
                {"value": "wait", "label": {"en": "Waiting", "zh": "排队等待"}},
                {"value": "price", "label": {"en": "Price", "zh": "价格"}},
                {"value": "stock", "label": {"en": "Out of stock", "zh": "缺货"}},
            ],
        },
    ],
}
GOOD = [
    ("en", "Friendly staff and fast checkout"),
    ("en", "Great quality, easy returns"),
    ("zh", "店员很热情，结账很快"),
    ("zh", "商品质量不错，很满意"),
    ("en", "Clean store, helpful people"),
    ("zh", "很方便，推荐"),
]
BAD = [
    ("en", "Long wait at the till and rude staff"),
    ("en", "Item out of stock again, disappointed"),
    ("zh", "排队太久，态度差"),
    ("zh", "缺货，很失望"),
    ("en", "Too expensive for the quality"),
    ("zh", "价格太贵"),
]
ASKED_IN_APP = 48
RECEIPTS_PER_STORE = 4


def run_surveys(settings: Settings, *, seed: int, end: datetime | None = None) -> dict[str, Any]:
    """Create the survey and answer it as the demo's customers would; returns counts."""
    from omnichannel.platform import Platform

    rng = np.random.default_rng(seed + 18)
    with Platform(settings) as platform:
        existing = {s["name"]: s for s in platform.surveys.list()}
        if NAME in existing and existing[NAME]["answered"]:
            # A demo run again on this home (--reset keeps the operational store).
            return {"survey": NAME, "asked": existing[NAME]["invited"], "answered": 0}
        if NAME not in existing:
            platform.surveys.create(SURVEY, actor="demo")
        with platform.warehouse.reader() as wh:
            pi = wh.table("profile_identifiers")
            users = pi.filter(pi.id_type == "user_id", pi.status == "linked")
            people = sorted(set(users.select("profile_id").to_pyarrow().column(0).to_pylist()))
            stores = sorted(
                wh.table("stores").select("store_id").to_pyarrow().column(0).to_pylist()
            )
            last = wh.table("events").timestamp.max().to_pyarrow().as_py()
        end = end or (last.replace(tzinfo=UTC) if last else datetime.now(UTC))
        start = end - timedelta(days=28)
        asked = [
            people[i]
            for i in sorted(rng.choice(len(people), min(ASKED_IN_APP, len(people)), replace=False))
        ]
        links: list[tuple[str, datetime]] = []
        for pid in asked:
            at = start + timedelta(seconds=float(rng.uniform(0, 28 * 86400)))
            shown = platform.surveys.prompt(NAME, profile_id=pid, now=at)
            if shown["show"]:
                links.append((shown["token"], at))
        for store in stores:
            for k in range(RECEIPTS_PER_STORE):
                at = start + timedelta(days=float(rng.uniform(0, 28)))
                made = platform.surveys.receipt_qr(
                    NAME, store=store, receipt=f"demo-{store}-{k}", now=at
                )
                links.append((made["url"].rsplit("/s/", 1)[1], at))
        answered = 0
        calls: list[dict[str, Any]] = []

        def collect(_source: str, made: Any) -> None:
            calls.extend(made)

        for token, at in links:
            if rng.random() > 0.67:
                continue
            later = at >= start + timedelta(days=14)
            score = int(np.clip(rng.normal(7.9 if later else 7.0, 2.2), 0, 10))
            answers: dict[str, Any] = {"score": score}
            if rng.random() < 0.6:
                lang, text = (GOOD if score >= 7 else BAD)[int(rng.integers(0, 6))]
                answers["why"] = text
            else:
                lang = "zh" if rng.random() < 0.5 else "en"
            if score <= 6:
                answers["topics"] = ["wait"] if rng.random() < 0.5 else ["staff", "price"]
            when = at + timedelta(minutes=float(rng.uniform(1, 600)))
            platform.surveys.answer(
                token, answers, complete=True, lang=lang, emit=collect, now=when
            )
            answered += 1
        if calls:  # one load of every answer's event, not one per answer
            from omnichannel.surveys.answers import store_calls

            store_calls(platform, calls)
        return {"survey": NAME, "asked": len(links), "answered": answered}
