"""The marketing funnel: exposure > click > visit > purchase, per campaign and channel.

Event names are the ones the platform's own channels and the demo produce (docs/demo.md):
a message sent or delivered (the delivery log) or an ad impression is an exposure; a
tracked link click, push tap or message click (or a ``clicked`` step of the delivery log,
or an ad click) is a click; a page or screen view is a visit; any purchase, online or in
a store, is the purchase: the same person's store order counts, because one profile
holds both.
"""

from __future__ import annotations

from typing import Any

EXPOSURE_EVENTS = ["Ad Impression", "Email Opened"]
CLICK_EVENTS = [
    "Email Link Clicked",
    "SMS Link Clicked",
    "Push Notification Tapped",
    "WeChat Message Clicked",
    "Ad Clicked",
]
VISIT_EVENTS = ["Page Viewed", "Screen Viewed"]


def marketing_funnel() -> dict[str, Any]:
    """The preset's document (``omni funnel marketing --show`` prints it)."""
    return {
        "name": "marketing",
        "steps": [
            {
                "label": "exposure",
                "any_of": [
                    {"message": {"status": ["sent", "delivered"]}},
                    {"event": EXPOSURE_EVENTS},
                ],
            },
            {
                "label": "click",
                "any_of": [{"event": CLICK_EVENTS}, {"message": {"status": ["clicked"]}}],
            },
            {"label": "visit", "event": VISIT_EVENTS},
            {"label": "purchase", "order": {}},
        ],
        "window": "7d",
        "order": "ordered",
        "by": ["campaign", "channel"],
        # A person exposed to two campaigns enters each campaign's funnel.
        "entry": "breakdown",
    }
