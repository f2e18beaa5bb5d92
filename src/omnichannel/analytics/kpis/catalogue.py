"""The KPI catalogue: each KPI's formula over the base measures of ``facts``.

A base measure is a kind of fact (a message sent, a click, a purchase, a day's spend);
``facts.measure_rows`` reads each into one table, and a KPI is a formula over the
measures' totals per group: ``n`` (how many), ``people`` (distinct profiles), ``value``
(money or CLV). The events that count for each measure are named here, so docs/kpis.md
and the code say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

# --- which events feed which measure ----------------------------------------------------

OPEN_EVENTS = ("Email Opened", "Inbox Message Read", "Push Notification Opened")
CLICK_EVENTS = (
    "Email Link Clicked",
    "SMS Link Clicked",
    "WeChat Message Clicked",
    "Push Notification Tapped",
    "Inbox Message Clicked",
)
SHARE_EVENTS = (
    "Product Shared",
    "Content Shared",
    "Cart Shared",
    "Message Forwarded",
    "Email Forwarded",
    "Post Shared",
)
INTERACTION_EVENTS = (
    "Comment Posted",
    "Content Commented",
    "Content Liked",
    "Post Liked",
    "Post Commented",
    "Product Reviewed",
)
RESERVATION_EVENTS = (
    "Reservation Made",
    "Reservation Created",
    "Booking Completed",
    "Appointment Booked",
)
# Delivery-log steps that mean the message left us.
SENT_STATUSES = ("sent", "delivered")
NOT_PURCHASES = ("cancelled", "canceled", "refunded", "failed", "voided")

MEASURES: dict[str, str] = {
    "send": "a message sent (deliveries: a message's sent or delivered step, once per message)",
    "impression": "an ad impression (ad_spend.impressions)",
    "spend": "ad spend (ad_spend.spend)",
    "open": "an open, once per message (events: " + ", ".join(OPEN_EVENTS) + ")",
    "click": "a message click (events: "
    + ", ".join(CLICK_EVENTS)
    + ") or an ad click (ad_spend.clicks)",
    "visit": "a page or screen view carrying a campaign (UTM) context",
    "share": "a share or forward (events: " + ", ".join(SHARE_EVENTS) + ")",
    "interaction": "a comment, like or review (events: " + ", ".join(INTERACTION_EVENTS) + ")",
    "reservation": "a reservation (events: " + ", ".join(RESERVATION_EVENTS) + ")",
    "order": "an order placed, any status (orders)",
    "deal": "a purchase: an order not " + ", ".join(NOT_PURCHASES) + " (orders.total)",
    "new_customer": "a person's first purchase ever (orders, by profile)",
    "clv": "a new customer's predicted CLV (profiles.predicted_clv)",
    "reach": "a person sent a message, or who clicked or visited from a campaign",
}

Kind = Literal["count", "rate", "money", "ratio", "mean"]
Stat = Literal["n", "people", "value", "sq"]
Totals = Mapping[str, Mapping[str, float]]  # measure -> {"n", "people", "value", "sq"}


def _get(t: Totals, measure: str, stat: Stat) -> float:
    return float(t.get(measure, {}).get(stat, 0.0) or 0.0)


@dataclass(frozen=True)
class Term:
    """Sum of ``stat`` over ``measures`` (a numerator or a denominator)."""

    measures: tuple[str, ...]
    stat: Stat = "n"

    def of(self, t: Totals) -> float:
        return sum(_get(t, m, self.stat) for m in self.measures)


@dataclass(frozen=True)
class Kpi:
    """One KPI: ``numerator / denominator`` (or the numerator alone for a total)."""

    name: str
    kind: Kind
    formula: str
    numerator: Term
    denominator: Term | None = None
    # A value other than num/den (ROI), from the totals.
    compute: Callable[[Totals], float | None] | None = None
    # Measures each of which must have data (else: no numerator or no denominator
    # measure with data makes the KPI "no data").
    needs: tuple[str, ...] = ()

    def missing(self, present: set[str]) -> list[str]:
        """The input measures the result has no data for, when that makes it "no data"."""
        if self.needs:
            return [m for m in self.needs if m not in present]
        terms = [self.numerator] + ([self.denominator] if self.denominator else [])
        gone = [t for t in terms if not set(t.measures) & present]
        return list(dict.fromkeys(m for t in gone for m in t.measures))

    @property
    def inputs(self) -> tuple[str, ...]:
        found = list(self.numerator.measures)
        if self.denominator is not None:
            found += self.denominator.measures
        return tuple(dict.fromkeys(found))


def _roi(t: Totals) -> float | None:
    spend = _get(t, "spend", "value")
    return None if spend <= 0 else (_get(t, "deal", "value") - spend) / spend


EXPOSURES = Term(("send", "impression"))
REACH = Term(("reach",), "people")

CATALOGUE: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("reach", "count", "people reached", REACH, needs=("reach",)),
        Kpi("sends", "count", "messages sent", Term(("send",)), needs=("send",)),
        Kpi("impressions", "count", "ad impressions", Term(("impression",)), needs=("impression",)),
        Kpi("exposures", "count", "sends + impressions", EXPOSURES),
        Kpi("clicks", "count", "message clicks + ad clicks", Term(("click",)), needs=("click",)),
        Kpi("ctr", "rate", "clicks / (sends + impressions)", Term(("click",)), EXPOSURES),
        Kpi("opens", "count", "messages opened", Term(("open",)), needs=("open",)),
        Kpi("open_rate", "rate", "opens / sends", Term(("open",)), Term(("send",))),
        Kpi("shares", "count", "shares and forwards", Term(("share",)), needs=("share",)),
        Kpi("share_rate", "rate", "shares / (sends + impressions)", Term(("share",)), EXPOSURES),
        Kpi("interactions", "count", "comments, likes, reviews", Term(("interaction",))),
        Kpi(
            "interaction_rate",
            "rate",
            "interactions / (sends + impressions)",
            Term(("interaction",)),
            EXPOSURES,
        ),
        Kpi("reservations", "count", "reservations", Term(("reservation",))),
        Kpi(
            "reservation_rate",
            "rate",
            "people with a reservation / people reached",
            Term(("reservation",), "people"),
            REACH,
        ),
        Kpi("orders", "count", "orders placed", Term(("order",))),
        Kpi(
            "order_rate",
            "rate",
            "people who ordered / people reached",
            Term(("order",), "people"),
            REACH,
        ),
        Kpi("deals", "count", "purchases", Term(("deal",))),
        Kpi(
            "deal_rate",
            "rate",
            "people who purchased / people reached",
            Term(("deal",), "people"),
            REACH,
        ),
        Kpi("revenue", "money", "sum of purchase totals", Term(("deal",), "value")),
        Kpi("aov", "mean", "revenue / purchases", Term(("deal",), "value"), Term(("deal",))),
        Kpi("spend", "money", "ad spend", Term(("spend",), "value"), needs=("spend",)),
        Kpi(
            "roas", "ratio", "revenue / spend", Term(("deal",), "value"), Term(("spend",), "value")
        ),
        Kpi(
            "roi",
            "ratio",
            "(revenue - spend) / spend",
            Term(("deal", "spend"), "value"),
            compute=_roi,
            needs=("spend", "deal"),
        ),
        Kpi(
            "new_customers",
            "count",
            "people whose first purchase ever is in the group",
            Term(("new_customer",), "people"),
        ),
        Kpi(
            "cac",
            "ratio",
            "spend / new customers",
            Term(("spend",), "value"),
            Term(("new_customer",), "people"),
        ),
        Kpi(
            "clv",
            "mean",
            "mean predicted CLV of the new customers",
            Term(("clv",), "value"),
            Term(("clv",)),
        ),
    )
}
DEFAULT_KPIS = tuple(CATALOGUE)
DIMENSIONS = ("channel", "campaign", "content")
PERIODS = {"day": "D", "week": "W", "month": "M"}


# The measures some KPI counts distinct people of (and the segment's reach): only their
# rows feed the distinct count, the dearest aggregate of the KPI query.
PEOPLE_MEASURES: frozenset[str] = frozenset(
    {
        m
        for kpi in CATALOGUE.values()
        for term in (kpi.numerator, kpi.denominator)
        if term is not None and term.stat == "people"
        for m in term.measures
    }
    | {"reach_in_segment"}
)
