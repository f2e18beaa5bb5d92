"""One price book with channel overrides and rules, and the consistency checker.

The price book (``<home>/commerce/pricebook.yaml``, saved through ``save``) says:

```yaml
tolerance: 0.05                # how far two channels' prices of one SKU may differ
rules:                         # a channel's expected price: base x (1 + markup)
  - {channel: tmall, markup: 0.03}
promotions:
  - {name: double-11, channels: [tmall, jd], skus: [LP-A], discount: 0.2,
     starts: 2026-11-10, ends: 2026-11-12}     # or category: tea; ends is exclusive
notify: {webhook: [ops], email: [pricing@shop.example]}
```

A SKU's **base price** is its ``products.price``; a listing's ``price`` is that channel's
**override**; the **effective** price on a channel at a time is the override (else the
base with the channel's markup) less the best promotion running there then. The checker
finds, at a moment:

- ``price_mismatch``: the SKU's effective prices across its listed channels differ by
  more than the tolerance (relative to the lowest);
- ``off_book``: an override differs from the price book's expected price by more than
  the tolerance;
- ``promotion_overlap``: two promotions share a SKU and a channel over overlapping days;
  ``contradicting`` when their discounts differ (which one is the price?).

Each conflict is an alert of the alerts mechanism (rule ``price_consistency``, one per
subject, opened once, resolved when the conflict is gone), notified by webhook and
email through the send path like every alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError
from sqlalchemy import select

from omnichannel.commerce.files import CHANNELS
from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.platform import Platform

RULE = "price_consistency"
BOOK = Path("commerce") / "pricebook.yaml"


class ChannelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    markup: float = Field(0.0, ge=-0.9, le=5.0, description="Expected = base x (1 + markup).")


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    channels: list[str] = Field(min_length=1)
    skus: list[str] = Field(default_factory=list)
    category: str | None = None
    discount: float = Field(gt=0, lt=1, description="The share taken off, 0.2 for 20 %.")
    starts: date
    ends: date = Field(description="The first day it no longer runs.")

    @model_validator(mode="after")
    def _check(self) -> Promotion:
        if self.ends <= self.starts:
            raise ValueError(f"ends ({self.ends}) after starts ({self.starts})")
        if not self.skus and self.category is None:
            raise ValueError("skus or a category the promotion applies to")
        return self

    def runs(self, day: date) -> bool:
        return self.starts <= day < self.ends

    def covers(self, sku: str, category: str | None) -> bool:
        return sku in self.skus or (self.category is not None and self.category == category)


class PriceNotify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook: list[str] = Field(default_factory=list)
    email: list[str] = Field(default_factory=list)


class PriceBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tolerance: float = Field(0.05, ge=0, le=1)
    rules: list[ChannelRule] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)
    notify: PriceNotify = Field(default_factory=PriceNotify)

    @model_validator(mode="after")
    def _channels(self) -> PriceBook:
        named = [r.channel for r in self.rules] + [c for p in self.promotions for c in p.channels]
        for channel in named:
            if channel not in CHANNELS:
                raise ValueError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        return self

    def markup(self, channel: str) -> float:
        return next((r.markup for r in self.rules if r.channel == channel), 0.0)


def parse_book(document: Any) -> PriceBook:
    """A price book from a parsed document; errors name the field, value and what works."""
    if isinstance(document, str):
        try:
            document = yaml.safe_load(document) or {}
        except yaml.YAMLError as exc:
            raise ValidationError("pricebook", "YAML", f"valid YAML ({exc})") from None
    try:
        return PriceBook.model_validate(document)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "pricebook"
        raise ValidationError(where, first.get("input"), first["msg"]) from None


class Prices:
    """The price book, effective prices per channel and the consistency check."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def path(self) -> Path:
        return self._platform.settings.home / BOOK

    def book(self) -> PriceBook:
        if not self.path.is_file():
            return PriceBook.model_validate({})
        return parse_book(self.path.read_text(encoding="utf-8"))

    def save(self, document: Any) -> dict[str, Any]:
        """Check and keep the price book (the whole document replaces the last)."""
        book = parse_book(document)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(book.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        self.path.write_text(text, encoding="utf-8")
        return book.model_dump(mode="json")

    def _products(self) -> dict[str, dict[str, Any]]:
        with self._platform.warehouse.reader() as wh:
            products = wh.table("products")
            rows = products.select("sku", "product_id", "price", "category").to_pyarrow()
        out = {}
        for r in rows.to_pylist():
            sku = r["sku"] or r["product_id"]
            out[sku] = {
                "price": None if r["price"] is None else float(r["price"]),
                "category": r["category"],
            }
        return out

    def prices(self, sku: str, *, at: datetime | None = None) -> dict[str, Any]:
        """A SKU's base price and, per listed channel, expected, override and effective."""
        at = at or datetime.now(UTC)
        products = self._products()
        if sku not in products:
            raise ValidationError("sku", sku, "a SKU of the products table")
        return self._rows(sku, products[sku], self.book(), at.date())

    def _rows(
        self, sku: str, product: dict[str, Any], book: PriceBook, day: date
    ) -> dict[str, Any]:
        base = product["price"]
        channels = {}
        for listing in self._platform.commerce.catalogue.listings(sku=sku, listed=True):
            channel = listing["channel"]
            expected = None if base is None else round(base * (1 + book.markup(channel)), 2)
            price = listing["price"] if listing["price"] is not None else expected
            running = [
                p
                for p in book.promotions
                if channel in p.channels and p.runs(day) and p.covers(sku, product["category"])
            ]
            best = max(running, key=lambda p: p.discount, default=None)
            effective = (
                None if price is None else round(price * (1 - (best.discount if best else 0)), 2)
            )
            channels[channel] = {
                "expected": expected,
                "override": listing["price"],
                "promotion": best.name if best else None,
                "effective": effective,
            }
        return {"sku": sku, "base": base, "day": day.isoformat(), "channels": channels}

    def conflicts(self, *, at: datetime | None = None) -> list[dict[str, Any]]:
        """Every price and promotion conflict at ``at`` (default now)."""
        at = at or datetime.now(UTC)
        book, products = self.book(), self._products()
        found: list[dict[str, Any]] = []
        skus = sorted(
            {
                row["sku"]
                for row in self._platform.commerce.catalogue.listings(listed=True, limit=1_000_000)
            }
        )
        for sku in skus:
            if sku not in products:
                continue
            rows = self._rows(sku, products[sku], book, at.date())["channels"]
            found += _mismatch(sku, rows, book.tolerance) + _off_book(sku, rows, book.tolerance)
        found += _overlaps(book.promotions, products)
        return found

    def check(self, *, at: datetime | None = None, notify: bool = True) -> dict[str, Any]:
        """Conflicts now, as alerts: opened once per subject, resolved when gone, notified."""
        from omnichannel.analytics.alerts.notify import send_notifications
        from omnichannel.analytics.alerts.rules import Notify
        from omnichannel.analytics.alerts.service import public_alert
        from omnichannel.opstore.models import Alert

        found = self.conflicts(at=at)
        book = self.book()
        now = datetime.now(UTC)
        opened, resolved = [], []
        with self._platform.opstore.session() as session:
            open_rows = {
                a.subject: a
                for a in session.scalars(
                    select(Alert).where(Alert.rule_name == RULE, Alert.state == "open")
                )
            }
            subjects = set()
            for conflict in found:
                subjects.add(conflict["subject"])
                row = open_rows.get(conflict["subject"])
                if row is None:
                    row = Alert(
                        rule_name=RULE,
                        kind=conflict["kind"],
                        subject=conflict["subject"],
                        state="open",
                        value=conflict.get("spread"),
                        low=None,
                        high=book.tolerance,
                        message=conflict["message"],
                        detail=conflict,
                        opened_at=now,
                        last_seen_at=now,
                    )
                    session.add(row)
                    session.flush()
                    opened.append(public_alert(row))
                else:
                    row.last_seen_at = now
            for subject, row in open_rows.items():
                if subject not in subjects:
                    row.state, row.resolved_at, row.last_seen_at = "resolved", now, now
                    resolved.append(public_alert(row))
        targets = Notify(webhook=book.notify.webhook, email=book.notify.email)
        if notify:
            for alert in opened:
                alert["notified"] = send_notifications(self._platform, alert, "opened", targets)
            for alert in resolved:
                alert["notified"] = send_notifications(self._platform, alert, "resolved", targets)
        return {"conflicts": found, "opened": opened, "resolved": resolved}


def _mismatch(sku: str, rows: dict[str, dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    priced = {c: r["effective"] for c, r in rows.items() if r["effective"] is not None}
    if len(priced) < 2:
        return []
    low_channel = min(priced, key=lambda c: priced[c])
    high_channel = max(priced, key=lambda c: priced[c])
    low, high = priced[low_channel], priced[high_channel]
    spread = (high - low) / low if low > 0 else 0.0
    if spread <= tolerance:
        return []
    return [
        {
            "kind": "price_mismatch",
            "subject": f"price_mismatch:{sku}",
            "sku": sku,
            "spread": round(spread, 4),
            "prices": priced,
            "message": (
                f"{sku} costs {low:.2f} on {low_channel} but {high:.2f} on {high_channel} "
                f"({spread:.1%} apart, tolerance {tolerance:.1%})"
            ),
        }
    ]


def _off_book(sku: str, rows: dict[str, dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    out = []
    for channel, r in rows.items():
        if r["override"] is None or not r["expected"]:
            continue
        spread = abs(r["override"] - r["expected"]) / r["expected"]
        if spread > tolerance:
            out.append(
                {
                    "kind": "off_book",
                    "subject": f"off_book:{sku}:{channel}",
                    "sku": sku,
                    "channel": channel,
                    "spread": round(spread, 4),
                    "message": (
                        f"{sku} on {channel} is priced {r['override']:.2f}; the price book "
                        f"says {r['expected']:.2f} ({spread:.1%} off)"
                    ),
                }
            )
    return out


def _overlaps(
    promotions: Sequence[Promotion], products: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for i, a in enumerate(promotions):
        for b in promotions[i + 1 :]:
            channels = sorted(set(a.channels) & set(b.channels))
            if not channels or not (a.starts < b.ends and b.starts < a.ends):
                continue
            skus = sorted(
                s
                for s, p in products.items()
                if a.covers(s, p["category"]) and b.covers(s, p["category"])
            )
            if not skus:
                continue
            contradicting = abs(a.discount - b.discount) > 1e-9
            kind = "contradicting" if contradicting else "overlapping"
            out.append(
                {
                    "kind": "promotion_overlap",
                    "subject": f"promotion_overlap:{a.name}:{b.name}",
                    "promotions": [a.name, b.name],
                    "channels": channels,
                    "skus": skus,
                    "contradicting": contradicting,
                    "message": (
                        f"promotions {a.name} ({a.discount:.0%}) and {b.name} "
                        f"({b.discount:.0%}) are {kind} on {', '.join(channels)} for "
                        f"{len(skus)} SKU(s) from {max(a.starts, b.starts)} to "
                        f"{min(a.ends, b.ends)}"
                    ),
                }
            )
    return out
