"""Simulated recipients of the demo's journey messages, drawn from the demo's hidden truth.

Each person of ``truth/people.parquet`` has a 24-hour activity profile and affinities for
content types; a message is opened with a probability that follows the person's
activity at the local hour it arrived (the demo's day starts at 08:00 local), and a
link is followed with one that follows their affinity for what it links to. A click
lands on the link's page (a page view), and some clicks then buy, online or, for those
with a loyalty card, in a store later; customers who have not left buy at their own
rate, unprompted. Every draw
is a hash of (seed, person, what, ...), not a draw from a shared stream, so the outcome
of one message does not depend on the order messages arrived in: the same seed gives
the same counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

# The local hour (Asia/Shanghai) the recipients' day begins at.
DAY_STARTS = 8
CONTENT_TYPES = ("article", "review", "photo_gallery", "video", "store_page")


@dataclass(frozen=True)
class Recipient:
    """What the demo knows of one person: who they are to the platform, and their habits."""

    person_id: str
    user_id: str | None  # their member id, when they have a CRM record with one
    email: str | None
    hour_profile: tuple[float, ...]  # 24 shares of activity, local hours 0-23
    affinity: dict[str, float]  # content type -> share of interest (sums to 1)
    daily_purchases: float = 0.0  # expected orders a day, 0 once they have left
    crm_record: str | None = None  # their CRM record (a storefront order's Customer ID)
    loyalty_record: str | None = None  # their loyalty card's record (shown at the till)

    @property
    def member(self) -> bool:
        """Reachable online: a member id to act under and an email to be written to."""
        return self.user_id is not None and self.email is not None

    def activity_at(self, local_hour: int) -> float:
        """Activity at a local hour relative to the person's peak hour (0..1)."""
        peak = max(self.hour_profile) or 1.0
        return self.hour_profile[local_hour % 24] / peak


@dataclass(frozen=True)
class Response:
    """How strongly a message's link draws, and how often a click ends in an order."""

    content_type: str | None  # what the link points to (None: a product, not content)
    click_base: float
    buy_after_click: float


# Of the clicks that buy, the share bought in a store by those with a loyalty card (all of
# them for people without a member id, who cannot order online as themselves).
IN_STORE = 0.35


# Per template: what its main link shows and how persuasive it is.
RESPONSES: dict[str, Response] = {
    "welcome-1": Response("article", 0.10, 0.05),
    "welcome-2": Response("video", 0.08, 0.08),
    "cart-reminder": Response(None, 0.30, 0.40),
    "winback-offer": Response("photo_gallery", 0.12, 0.30),
}


class Responders:
    """Decides, deterministically per seed, who opens, clicks and buys."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def draw(self, *parts: object) -> float:
        """A uniform number in [0, 1) fixed by the seed and ``parts``."""
        text = "\x1f".join(str(p) for p in (self.seed, *parts))
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def opens(self, person: Recipient, template: str, sent_after: timedelta) -> bool:
        """About 12 % at the person's quietest hour up to 50 % at their peak.

        ``sent_after``: when the message went, after the start of the demo's day, which the
        recipients live as if it began at ``DAY_STARTS`` local time whatever the hour the
        demo runs, so the same seed gives the same counts at any time of day."""
        local_hour = DAY_STARTS + int(sent_after.total_seconds() // 3600)
        p = 0.12 + 0.38 * person.activity_at(local_hour)
        return self.draw(person.person_id, template, "open") < p

    def clicks(self, person: Recipient, template: str) -> bool:
        """An opener follows the link more often the more they like what it shows."""
        response = RESPONSES.get(template, Response(None, 0.1, 0.0))
        liking = person.affinity.get(response.content_type or "", 0.0)
        p = min(0.9, response.click_base + 0.6 * liking)
        return self.draw(person.person_id, template, "click") < p

    def buys_after_click(self, person: Recipient, template: str) -> bool:
        response = RESPONSES.get(template, Response(None, 0.1, 0.0))
        return self.draw(person.person_id, template, "buy") < response.buy_after_click

    def buys_in_store(self, person: Recipient, template: str) -> bool:
        """Where a click's purchase happens: in a store (loyalty card shown) or online."""
        if person.loyalty_record is None:
            return False
        if person.user_id is None:
            return True
        return self.draw(person.person_id, template, "store") < IN_STORE

    def buys_anyway(self, person: Recipient, what: str, rate: float) -> bool:
        """A purchase with no message to thank for it (the baseline a holdout measures)."""
        return self.draw(person.person_id, what, "organic") < rate

    def minutes(self, person: Recipient, what: str, low: int, high: int) -> int:
        """A delay in minutes, in [low, high), fixed per person and purpose."""
        return low + int(self.draw(person.person_id, what, "delay") * (high - low))
