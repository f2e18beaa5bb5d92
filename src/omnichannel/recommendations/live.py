"""Events since the model was trained, per person: what makes recommendations real time.

The durable consumer ``RecommendationFeed`` (``recommendations``) reads every stored event
after its checkpoint, like the segment updater and the journey trigger; product views,
adds, orders with products (``Order Completed``'s ``products``) and content views are
attributed to a profile by the Profile API's in-memory index (user id first, typed by
the source as the identity rules say, then anonymous id) and kept here. The next
request for that person adds them to their trained row and folds their vector in, so a
view changes what they are shown within a second or two of being collected, without a
retrain.

When a new version is put in use, the events after its training (``trained_load_seq``)
are read back from the warehouse, so what the previous version had folded in is neither
lost nor counted twice (entries are keyed by message id).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.consumers.runner import StartAt
from omnichannel.recommendations.content import CONTENT_TYPES
from omnichannel.recommendations.interactions import EVENT_KINDS

if TYPE_CHECKING:
    from omnichannel.identity.rules import IdentityRules
    from omnichannel.profiles.lookup import ProfileIndex

CONSUMER_NAME = "recommendations"
ORDER_EVENT = "Order Completed"
CONTENT_EVENT = "Content Viewed"
WANTED_EVENTS = (*EVENT_KINDS, ORDER_EVENT, CONTENT_EVENT)
# A person's live entries kept at most (the newest): a bot cannot grow memory unbounded.
PER_PERSON = 500


@dataclass
class LiveEntry:
    message_id: str
    load_seq: int
    product_id: str | None
    kind: str  # view, add_to_cart, purchase, or content
    content_type: str | None = None


@dataclass
class LiveInteractions:
    """Per person, the entries of events stored after the model's data (thread-safe)."""

    _people: dict[str, list[LiveEntry]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entries: Iterable[tuple[str, LiveEntry]]) -> set[str]:
        """Keep ``(profile_id, entry)`` pairs not kept before; returns the people changed."""
        changed: set[str] = set()
        with self._lock:
            for profile_id, entry in entries:
                key = f"{entry.message_id}/{entry.product_id or entry.content_type}"
                if key in self._seen:
                    continue
                self._seen.add(key)
                mine = self._people.setdefault(profile_id, [])
                mine.append(entry)
                if len(mine) > PER_PERSON:
                    del mine[: len(mine) - PER_PERSON]
                changed.add(profile_id)
        return changed

    def of(self, profile_id: str, after: int) -> list[LiveEntry]:
        with self._lock:
            return [e for e in self._people.get(profile_id, ()) if e.load_seq > after]

    def reset(self) -> None:
        with self._lock:
            self._people.clear()
            self._seen.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._people.values())


def _typed(rules: IdentityRules, source: str | None, column: str) -> str:
    return rules.source_id_types.get(source or "", {}).get(column, column)


def entries_of(
    batch: pa.Table, index: ProfileIndex, rules: IdentityRules
) -> list[tuple[str, LiveEntry]]:
    """The batch's product and content events, each with the profile it belongs to."""
    names = batch.column("event")
    wanted = batch.filter(pc.fill_null(pc.is_in(names, pa.array(list(WANTED_EVENTS))), False))
    out: list[tuple[str, LiveEntry]] = []
    for row in wanted.select(
        ["message_id", "event", "source", "user_id", "anonymous_id", "properties", "load_seq"]
    ).to_pylist():
        profile_id = _profile_of(row, index, rules)
        if profile_id is None:
            continue
        for entry in _entries(row):
            out.append((profile_id, entry))
    return out


def _profile_of(row: dict[str, Any], index: ProfileIndex, rules: IdentityRules) -> str | None:
    for column in ("user_id", "anonymous_id"):
        value = (row.get(column) or "").strip()
        if not value:
            continue
        holders = index.holders(_typed(rules, row.get("source"), column), value)
        linked = [p for p, status in holders if status == "linked"]
        if len(linked) == 1:
            return linked[0]
    return None


def _entries(row: dict[str, Any]) -> list[LiveEntry]:
    try:
        props = json.loads(row.get("properties") or "{}")
    except ValueError:
        return []
    if not isinstance(props, dict):
        return []
    message_id, seq = str(row["message_id"]), int(row.get("load_seq") or 0)
    event = row["event"]
    if event in EVENT_KINDS:
        product = props.get("product_id")
        if not product:
            return []
        return [LiveEntry(message_id, seq, str(product), EVENT_KINDS[event])]
    if event == CONTENT_EVENT:
        ctype = props.get("content_type")
        if ctype not in CONTENT_TYPES:
            return []
        return [LiveEntry(message_id, seq, None, "content", content_type=str(ctype))]
    products = props.get("products")
    if not isinstance(products, list):
        return []
    return [
        LiveEntry(message_id, seq, str(p["product_id"]), "purchase")
        for p in products
        if isinstance(p, dict) and p.get("product_id")
    ]


@dataclass
class RecommendationFeed:
    """The durable consumer that hands new events to the recommendations service."""

    observe: Callable[[pa.Table], object]
    name: str = CONSUMER_NAME
    # Events before the server started are read back from the warehouse when the model
    # loads (the module docstring); the consumer follows what arrives from then on.
    start_at: StartAt = "end"

    def handle(self, batch: pa.Table) -> None:
        self.observe(batch)
