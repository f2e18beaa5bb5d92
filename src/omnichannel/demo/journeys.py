"""The demo's journeys: a welcome series, an abandoned cart and a win-back, run for real.

After ``omni demo`` has loaded Lotus & Pine and built its profiles, ``run_journeys``:

1. saves four email templates (Chinese and English copy) through ``platform.templates``
   and writes ``<home>/channels.yaml``: the email channel points at an SMTP sink the demo
   starts for its run (``standins.py``), tracking links at the API server it serves;
2. creates, approves and starts three journeys through ``platform.journeys``;
3. plays a fresh "today" of the same people through the real collector (``/v1/batch``
   with the sources' write keys): sign-ups, carts keyed by ``cartId``, purchases, while
   a virtual clock steps the engine through the waits (``run_due(now=...)``) and the
   journey trigger reads the stored events (entries, wait_for matches, goals). The email
   worker sends over SMTP to the sink; simulated recipients (``responders.py``) fetch the
   open pixel and follow the tracked links of what arrived, over HTTP, land on the
   link's page (a page call with its UTM campaign) and some buy, online or in a store;
4. loads the day's orders through the connectors (``today_orders.py``: the storefront's
   export and the tills' tickets), resolves identities incrementally, and returns the
   counts per journey (``platform.journeys.stats``) and what the sink saw.

Times: the day starts now and the virtual clock runs on (the welcome's second email
after two days, the win-back's 14-day goal window). The engine, the journey trigger and
the tracking links' opens and clicks share that clock (``JourneyRuntime.clock``), so
entries, matches, steps, opens and clicks are stamped with the virtual time of the tick
that handled them; the demo's server accepts events as far ahead as the clock runs.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from omnichannel.demo.feed import register_sources, retire_keys
from omnichannel.demo.model import DOMAIN, DemoConfig, child_rng
from omnichannel.demo.responders import CONTENT_TYPES, Recipient, Responders
from omnichannel.demo.standins import ApiServer, Mail, SmtpSink, api_server, free_port, smtp_sink
from omnichannel.demo.today_orders import Purchase, load_purchases
from omnichannel.errors import OmniError
from omnichannel.opstore.models import utcnow

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

Progress = Callable[[str, int, int], None]
# The demo's journeys are written by one user and approved by another, as the two-person
# rule asks once users exist (docs/access.md); both are made on the first run.
ACTOR = "marketer@demo.example"
APPROVER = "approver@demo.example"
DEMO_USERS = ((ACTOR, "marketer", "Demo marketer"), (APPROVER, "approver", "Demo approver"))
SEGMENT = "lapsing"
WELCOME, CART, WINBACK = "welcome-series", "abandoned-cart", "win-back"
JOURNEYS = (WELCOME, CART, WINBACK)
# Shares of the members who sign up / leave a cart during the demo's "today".
SIGN_UP_SHARE = 0.025
CART_SHARE = 0.05
# Carts bought before the reminder is due (the wait_for's event).
CART_BOUGHT_ANYWAY = 0.25
CART_TIMEOUT = timedelta(hours=4)
# Today's own purchases (organic ones) fall within the first day.
TODAY = timedelta(hours=22)
# The win-back's offer code (journeys.yaml): a purchase after its click uses it.
WINBACK_CODE = "HELLO15"
# The virtual clock's ticks: every half hour through the first day (so an event never
# shares a tick with the step that waits for it), then the welcome's second email, then
# past every goal window.
TICKS = (
    *(timedelta(minutes=30 * k) for k in range(49)),
    # The welcome's second emails: two days after the first, sent over the first 2.5 hours.
    *(timedelta(days=2, minutes=30 * k) for k in range(7)),
    timedelta(days=15),
)
LAST_EVENT = TICKS[-1]
# The demo's server takes events as far ahead of the real clock as the virtual one runs.
MAX_FUTURE = LAST_EVENT + timedelta(days=1)
WAIT_SECONDS = 120.0


def shipped() -> dict[str, Any]:
    """``journeys.yaml``: the templates (name -> parts) and the journey documents."""
    text = resources.files("omnichannel.demo").joinpath("journeys.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@dataclass
class Tally:
    """What the demo's recipients did, counted as they did it."""

    arrived: dict[str, int] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)
    clicked: dict[str, int] = field(default_factory=dict)
    bought: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def add(counter: dict[str, int], key: str) -> None:
        counter[key] = counter.get(key, 0) + 1


@dataclass
class Day:
    """What the day's shoppers buy from, and what they bought (for the orders exports)."""

    catalogue: list[dict[str, Any]]
    stores: list[str]
    purchases: list[Purchase] = field(default_factory=list)

    def product(self, responders: Responders, person: Recipient, what: str) -> dict[str, Any]:
        pick = responders.draw(person.person_id, what, "product")
        return self.catalogue[int(pick * len(self.catalogue))]

    def store(self, responders: Responders, person: Recipient) -> str:
        return self.stores[int(responders.draw(person.person_id, "store") * len(self.stores))]


@dataclass(order=True)
class Planned:
    """A call the collector gets once the virtual clock reaches ``at``."""

    at: datetime
    source: str = field(compare=False)
    call: dict[str, Any] = field(compare=False)


def channels_yaml(sink: SmtpSink, base_url: str) -> str:
    """The demo home's channels.yaml: email to the sink, links to the demo's API server."""
    return (
        "# Written by `omni demo`: the email channel points at the SMTP sink the demo ran,\n"
        "# which is not running any more. Point it at your relay (docs/channels.md#email).\n"
        f"public_base_url: {base_url}\n"
        "email:\n"
        f"  host: {sink.host}\n"
        f"  port: {sink.port}\n"
        "  starttls: false\n"
        f"  from_address: club@{DOMAIN}\n"
        "  from_name: Lotus & Pine 莲松\n"
        f"  reply_to: care@{DOMAIN}\n"
        "  rate_per_second: 1000\n"
        "  concurrency: 8\n"
        "  timeout: 10\n"
    )


def run_journeys(
    settings: Settings, *, config: DemoConfig, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the demo's three journeys on the loaded home; returns the counts per journey."""
    report: Progress = progress or (lambda stage, done, total: None)
    with smtp_sink() as sink:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        (settings.home / "channels.yaml").write_text(
            channels_yaml(sink, base_url), encoding="utf-8"
        )
        # The virtual clock runs days ahead of the real one; the opens and clicks it stamps
        # (and the purchases) must not be refused as from the future.
        ahead = settings.model_copy(update={"event_max_future": MAX_FUTURE})
        with api_server(ahead, port) as api:
            out = _run(api, sink, settings, config, report)
            # The sink and the demo's server stop with the demo: live journeys would go on
            # sending (new lapsing customers, say) to a port where nothing listens. Paused,
            # they keep their counts; `omni journeys resume` once email goes somewhere real.
            for document in shipped()["journeys"]:
                api.platform.journeys.pause(document["name"], actor=APPROVER)
            out["paused_after_demo"] = [d["name"] for d in shipped()["journeys"]]
            return out


def _run(
    api: ApiServer, sink: SmtpSink, settings: Settings, config: DemoConfig, report: Progress
) -> dict[str, Any]:
    platform = api.platform
    started = perf_counter()
    seconds: dict[str, float] = {}
    people = recipients(platform, settings.truth_dir, config.days)
    if not any(p.member for p in people.values()):
        raise OmniError("the demo's journeys found no member with an email and a user id")
    by_email = {p.email.lower(): p for p in people.values() if p.email}
    by_email |= _other_emails(settings.truth_dir, people)
    material = shipped()
    for name, content in material["templates"].items():
        platform.templates.save(name, channel="email", content=content, created_by=ACTOR)
    _ensure_segment(platform, config.days)
    trigger = _trigger(platform)
    # `omni demo --reset` deleted the journeys of an earlier run with their enrolments.
    for document in material["journeys"]:
        _go_live(platform, document)
    # Journeys see what is stored from now on (after a --reset the old position is gone).
    first_seq = platform.consumers.latest()
    platform.consumers.checkpoints.set(trigger.name, first_seq)
    platform.channels.start(["email"], poll_seconds=0.05)
    seconds["setup"] = perf_counter() - started

    rng = child_rng(config, "journeys")
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    responders = Responders(config.seed)
    day = _day(platform)
    plan = _today(rng, people, t0, responders, day)
    keys = register_sources(platform.opstore)
    tally = Tally()
    carts = {c["userId"]: c["properties"]["cartId"] for _, c in _cart_adds(plan)}
    plan = sorted(plan + _organic(people, t0, responders, day))
    ticks = 0
    virtual = [t0]
    runtime = platform.journeys.runtime
    runtime.clock = lambda: virtual[0]  # the trigger reads the same clock
    try:
        with httpx.Client(base_url=api.url, timeout=60) as http:
            for k, offset in enumerate(TICKS):
                now = virtual[0] = t0 + offset
                report("journeys", k, len(TICKS))
                due = [p for p in plan if p.at <= now]
                if k > 0 and not due and not _steps_due(platform, now):
                    continue  # nothing happens at this tick: no event, no step due
                ticks += 1
                plan = [p for p in plan if p.at > now]
                _post(http, keys, due)
                api.settle_ingest()
                if k == 0:
                    # Today's lapsing customers: Segment Entered events, stored now.
                    lapsing = perf_counter()
                    platform.segments.refresh(SEGMENT)
                    seconds["segment"] = perf_counter() - lapsing
                platform.consumers.catch_up(trigger)
                platform.journeys.runtime.run_due(now=now)
                _settle_sends(platform)
                for mail in sink.take():
                    plan += _respond(
                        http, platform, mail, now, t0, by_email, carts, responders, tally, day
                    )
            api.settle_ingest()  # the last opens and clicks, stored
            report("journeys", len(TICKS), len(TICKS))
    finally:
        runtime.clock = utcnow
        retire_keys(platform.opstore, keys)
    seconds["ticks"] = perf_counter() - started - seconds["setup"]
    loading = perf_counter()
    bought = [p for p in day.purchases if p.at <= t0 + LAST_EVENT]
    exports = settings.home / "demo" / "exports" / "journeys"
    orders = load_purchases(platform, exports, bought, max_future=MAX_FUTURE)
    seconds["orders"] = perf_counter() - loading
    out = summary(platform, tally, sink)
    out["orders_stored"] = orders
    out["events_stored"] = platform.consumers.latest() - first_seq  # beside the demo's own
    out["virtual_ticks"] = ticks
    out["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    return out


def _steps_due(platform: Platform, now: datetime) -> bool:
    """Is any open enrolment of a journey due by ``now``?"""
    from sqlalchemy import func, select

    from omnichannel.opstore.models import OPEN_ENROLMENT_STATES, JourneyEnrolment

    e = JourneyEnrolment
    with platform.opstore.session() as session:
        first = session.scalar(
            select(func.min(e.due_at)).where(
                func.coalesce(e.state, "").in_([s.value for s in OPEN_ENROLMENT_STATES])
            )
        )
    if first is None:
        return False
    first = first.replace(tzinfo=UTC) if first.tzinfo is None else first
    return bool(first <= now)


# --- who: members of the truth the platform can reach by email -------------------------


def recipients(platform: Platform, truth_dir: Path, days: int) -> dict[str, Recipient]:
    """Every person of the truth, by person id, with the user id and email of their CRM
    record when they have one (members: the people who sign up and shop online)."""
    records = pq.read_table(
        truth_dir / "records.parquet",
        columns=["source", "record_id", "person_id", "kind", "is_linkage_record"],
    )
    crm = records.filter(pc.equal(records.column("source"), "crm"))
    person_of = dict(
        zip(crm.column("record_id").to_pylist(), crm.column("person_id").to_pylist(), strict=True)
    )
    own = records.filter(
        pc.and_(
            pc.equal(records.column("kind"), "customer_record"),
            pc.invert(records.column("is_linkage_record")),
        )
    )
    record_of: dict[tuple[str, str], str] = {}
    for row in own.select(["source", "record_id", "person_id"]).to_pylist():
        record_of.setdefault((row["source"], row["person_id"]), row["record_id"])
    with platform.warehouse.reader() as wh:
        ids = wh.table("identifiers")
        rows = (
            ids.filter((ids.source == "crm") & ids.id_type.isin(["user_id", "email"]))
            .select("record_id", "id_type", "id_value")
            .to_pyarrow()
            .to_pylist()
        )
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        person = person_of.get(row["record_id"])
        if person is not None:
            found.setdefault(person, {}).setdefault(row["id_type"], row["id_value"])
    truth = pq.read_table(truth_dir / "people.parquet")
    affinity_columns = [f"affinity_{c}" for c in CONTENT_TYPES]
    columns = ["person_id", "hour_profile", "purchase_rate", "last_active_day", *affinity_columns]
    out: dict[str, Recipient] = {}
    for row in truth.select(columns).to_pylist():
        known = found.get(row["person_id"], {})
        out[row["person_id"]] = Recipient(
            person_id=row["person_id"],
            user_id=known.get("user_id"),
            email=known.get("email"),
            hour_profile=tuple(row["hour_profile"]),
            affinity={c: float(row[f"affinity_{c}"]) for c in CONTENT_TYPES},
            # Purchases a day while the person is still a customer (BG/NBD: once they
            # have left, never again).
            daily_purchases=float(row["purchase_rate"])
            if row["last_active_day"] >= days - 1
            else 0.0,
            crm_record=record_of.get(("crm", row["person_id"])),
            loyalty_record=record_of.get(("pos", row["person_id"])),
        )
    return out


def _other_emails(truth_dir: Path, people: dict[str, Recipient]) -> dict[str, Recipient]:
    """Every other email only one person owns (the send path picks the newest seen)."""
    table = pq.read_table(truth_dir / "identifiers.parquet")
    table = table.filter(
        pc.and_(pc.equal(table.column("id_type"), "email"), pc.equal(table.column("n_people"), 1))
    )
    out: dict[str, Recipient] = {}
    for value, owners in zip(
        table.column("id_value").to_pylist(), table.column("person_ids").to_pylist(), strict=True
    ):
        person = people.get(owners[0])
        if person is not None:
            out[str(value).lower()] = person
    return out


# --- the journeys ----------------------------------------------------------------------


def lapsing_segment(days: int) -> dict[str, Any]:
    """``lapsing``: customers who bought but have been quiet for a quarter of the demo's
    history (at least a week), and whoever the profile build tagged lapsing."""
    quiet = max(7, days // 4)
    return {
        "name": SEGMENT,
        "description": f"Bought, then no order in the last {quiet} days; or tagged lapsing",
        "condition": {
            "any": [
                {"tag": "lapsing"},
                {
                    "all": [
                        {"trait": {"field": "orders", "gte": 1}},
                        {"trait": {"field": "recency_days", "gte": quiet}},
                    ]
                },
            ]
        },
    }


def _ensure_segment(platform: Platform, days: int) -> None:
    """Saved without members: its first refresh, once the win-back is live, stores the
    Segment Entered events the journey enrols from."""
    names = {s["name"] for s in platform.segments.list()}
    document = lapsing_segment(days)
    if SEGMENT in names:
        platform.segments.update(SEGMENT, document, actor=ACTOR, refresh=False)
    else:
        platform.segments.create(document, created_by=ACTOR, refresh=False)


def _go_live(platform: Platform, document: dict[str, Any]) -> bool:
    """Create (or save a new version of), approve and start one journey; did it exist?"""
    _demo_users(platform)
    journeys = platform.journeys
    existed = document["name"] in {j["name"] for j in journeys.list()}
    if existed:
        journeys.save(document["name"], document, actor=ACTOR)
    else:
        journeys.create(document, actor=ACTOR)
    journeys.approve(document["name"], actor=APPROVER)
    journeys.start(document["name"], actor=APPROVER)
    return existed


def _demo_users(platform: Platform) -> None:
    """The journeys' author and approver, as users with those roles (made once a home)."""
    known = {user["email"] for user in platform.users.list()}
    for email, role, name in DEMO_USERS:
        if email not in known:
            platform.users.create(email, role=role, name=name, actor="omni demo")


def _trigger(platform: Platform) -> Any:
    from omnichannel.journeys.trigger import CONSUMER_NAME

    for consumer in platform.consumers.consumers:
        if consumer.name == CONSUMER_NAME:
            return consumer
    raise OmniError("the journey trigger is not among the platform's consumers")


# --- today: what the members do --------------------------------------------------------


def _day(platform: Platform) -> Day:
    """The catalogue and the stores, as the warehouse holds them."""
    with platform.warehouse.reader() as wh:
        products = wh.table("products").select("product_id", "sku", "name", "category", "price")
        catalogue = products.order_by("product_id").to_pyarrow().to_pylist()
        stores = wh.table("stores").select("store_id").order_by("store_id").to_pyarrow()
    return Day(catalogue, [str(s) for s in stores.column("store_id").to_pylist()])


def _today(
    rng: np.random.Generator,
    people: dict[str, Recipient],
    t0: datetime,
    responders: Responders,
    day: Day,
) -> list[Planned]:
    """Sign-ups, carts and the carts bought before any reminder, in time order."""
    catalogue = day.catalogue
    ids = sorted(p for p, person in people.items() if person.member)
    n_sign = max(1, round(len(ids) * SIGN_UP_SHARE))
    n_cart = max(1, round(len(ids) * CART_SHARE))
    chosen = rng.permutation(len(ids))
    plan: list[Planned] = []
    for i in chosen[:n_sign]:
        person = people[ids[i]]
        at = t0 + timedelta(minutes=int(rng.integers(0, 120)))
        plan.append(
            _call(at, "web", person, "Signed Up", {"program": "Lotus & Pine Club", "method": "web"})
        )
    for i in chosen[n_sign : n_sign + n_cart]:
        person = people[ids[i]]
        at = t0 + timedelta(minutes=int(rng.integers(0, 60)))
        item = catalogue[int(rng.integers(0, len(catalogue)))]
        cart = f"cart-{uuid.UUID(bytes=rng.bytes(16)).hex[:16]}"
        properties = {
            "cartId": cart,
            "product_id": item["product_id"],
            "name": item["name"],
            "category": item["category"],
            "price": float(item["price"]),
            "currency": "CNY",
            "quantity": 1,
        }
        plan.append(_call(at, "app", person, "Product Added", properties))
        if responders.buys_anyway(person, "cart", CART_BOUGHT_ANYWAY):
            later = at + timedelta(minutes=responders.minutes(person, "cart", 40, 220))
            plan += _buy(day, Purchase(later, person, item, cart=cart))
    return sorted(plan)


def _organic(
    people: dict[str, Recipient], t0: datetime, responders: Responders, day: Day
) -> list[Planned]:
    """Today's purchases nobody prompted, at each customer's own daily rate: the baseline
    a holdout measures. Members buy online (a user id), other card holders in a store."""
    plan = []
    minutes = int(TODAY.total_seconds() // 60)
    for person_id in sorted(people):
        person = people[person_id]
        if person.user_id is None and person.loyalty_record is None:
            continue  # a walk-in's order is nobody's
        if not responders.buys_anyway(person, "today", person.daily_purchases):
            continue
        at = t0 + timedelta(minutes=responders.minutes(person, "today", 0, minutes))
        product = day.product(responders, person, "today")
        store = day.store(responders, person) if person.user_id is None else None
        plan += _buy(day, Purchase(at, person, product, store_id=store))
    return plan


def _buy(day: Day, purchase: Purchase) -> list[Planned]:
    """Record a purchase for the day's exports; an online one is also the app's call."""
    day.purchases.append(purchase)
    if purchase.store_id is not None:
        return []  # a till sends no event: the ticket export is all there is
    total = float(purchase.total)
    return [_order(purchase.at, purchase.person, purchase.cart, total, purchase.order_id)]


def _cart_adds(plan: list[Planned]) -> Iterator[tuple[datetime, dict[str, Any]]]:
    for p in plan:
        if p.call.get("event") == "Product Added":
            yield p.at, p.call


def _call(
    at: datetime, source: str, person: Recipient, event: str, properties: dict[str, Any]
) -> Planned:
    what = f"{event}/{person.person_id}/{at.isoformat()}/{properties.get('cartId', '')}"
    call = {
        "type": "track",
        "event": event,
        "userId": person.user_id,
        "messageId": f"demo-journeys-{uuid.uuid5(uuid.NAMESPACE_URL, what)}",
        "timestamp": at.isoformat(),
        "properties": properties,
        "context": {"locale": "zh-CN", "timezone": "Asia/Shanghai"},
    }
    return Planned(at, source, call)


def _order(
    at: datetime, person: Recipient, cart: str | None, total: float, order_id: str
) -> Planned:
    properties: dict[str, Any] = {
        "order_id": order_id,
        "total": total,
        "revenue": total,
        "currency": "CNY",
    }
    if cart is not None:
        properties["cartId"] = cart
    return _call(at, "app", person, "Order Completed", properties)


def _post(http: httpx.Client, keys: dict[str, str], due: list[Planned]) -> None:
    """Each source's calls to ``/v1/batch`` with its write key, as Segment's libraries do."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for p in due:
        by_source.setdefault(p.source, []).append(p.call)
    for source, calls in by_source.items():
        auth = base64.b64encode(f"{keys[source]}:".encode()).decode("ascii")
        for start in range(0, len(calls), 500):
            answer = http.post(
                "/v1/batch",
                json={"batch": calls[start : start + 500]},
                headers={"Authorization": f"Basic {auth}"},
            )
            if answer.status_code != 200:
                raise OmniError(
                    f"the demo's collector answered {answer.status_code}: {answer.text[:300]}"
                )


# --- the messages and who answers them -------------------------------------------------


def _settle_sends(platform: Platform) -> None:
    """Wait until the email worker has taken every queued message to the sink."""
    import time

    from sqlalchemy import func, select

    from omnichannel.opstore.models import OutboxMessage, OutboxStatus

    waiting = (OutboxStatus.QUEUED, OutboxStatus.SENDING)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with platform.opstore.session() as session:
            left = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.channel == "email", OutboxMessage.status.in_(waiting))
            )
        if not left:
            return
        if time.monotonic() > deadline:
            raise OmniError(f"{left} demo emails were not sent within {WAIT_SECONDS:.0f} s")
        time.sleep(0.05)


LINK = re.compile(r'<(a href|img src)="([^"]+/t/[oc]/[^"]+)"')


def _respond(
    http: httpx.Client,
    platform: Platform,
    mail: Mail,
    now: datetime,
    t0: datetime,
    by_email: dict[str, Recipient],
    carts: dict[str, str],
    responders: Responders,
    tally: Tally,
    day: Day,
) -> list[Planned]:
    """What the recipient of ``mail`` does: open, click and land on the link's page, maybe
    buy (planned for later: online, or in a store)."""
    outbox_id = mail.outbox_id
    message = platform.engagement.message_of(outbox_id) if outbox_id is not None else None
    if message is None or message.template is None:
        return []
    template = message.template
    tally.add(tally.arrived, template)
    # An address only the truth's linkage records hold (an old newsletter import...) is
    # somebody's all the same; one the demo cannot tell whose does not answer.
    person = by_email.get(mail.recipients[0].lower()) if mail.recipients else None
    if person is None:
        return []
    links = [(kind, url.replace("&amp;", "&")) for kind, url in LINK.findall(mail.html())]
    pixel = next((u for k, u in links if k == "img src"), None)
    click = next((u for k, u in links if k == "a href"), None)
    if pixel is None or not responders.opens(person, template, now - t0):
        return []
    if http.get(pixel).status_code == 200:
        tally.add(tally.opened, template)
    if click is None or not responders.clicks(person, template):
        return []
    answer = http.get(click, follow_redirects=False)
    if answer.status_code != 302:
        return []
    tally.add(tally.clicked, template)
    # The browser lands on the link's page: the site's analytics.js records the view, as
    # the person the platform knows (the click event's user or anonymous id).
    who = platform.engagement.calls(message, "click")[-1]
    seconds = 3 + int(responders.draw(person.person_id, template, "landing") * 40)
    plan = [_landing(now + timedelta(seconds=seconds), who, answer.headers["location"])]
    if not responders.buys_after_click(person, template):
        return plan
    in_store = responders.buys_in_store(person, template)
    if not in_store and person.user_id is None:
        return plan  # no member id, no card: their order would be a walk-in's, nobody's
    if in_store:  # a store visit later that day or the next
        at = now + timedelta(minutes=responders.minutes(person, template, 120, 30 * 60))
    else:
        at = now + timedelta(minutes=responders.minutes(person, template, 5, 90))
    if at > t0 + LAST_EVENT:
        return plan
    tally.add(tally.bought, template)
    cart = carts.get(person.user_id or "") if template == "cart-reminder" else None
    product = day.product(responders, person, template)
    coupon = WINBACK_CODE if template == "winback-offer" else None
    store = day.store(responders, person) if in_store else None
    return plan + _buy(day, Purchase(at, person, product, store, cart=cart, coupon=coupon))


def _landing(at: datetime, who: dict[str, Any], url: str) -> Planned:
    """The page view of a followed link, its campaign read from the URL's UTM parameters."""
    from urllib.parse import parse_qs, urlsplit

    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    utm = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium"}
    utm |= {"content": "utm_content", "term": "utm_term"}
    campaign = {key: query[name] for key, name in utm.items() if name in query}
    identity = {k: who[k] for k in ("userId", "anonymousId") if who.get(k)}
    what = f"landing/{identity}/{at.isoformat()}/{url}"
    call = {
        "type": "page",
        "name": "Campaign Landing",
        **identity,
        "messageId": f"demo-journeys-{uuid.uuid5(uuid.NAMESPACE_URL, what)}",
        "timestamp": at.isoformat(),
        "properties": {"name": "Campaign Landing", "url": url},
        "context": {
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "page": {"url": url},
            "campaign": campaign,
        },
    }
    return Planned(at, "web", call)


# --- what it came to -------------------------------------------------------------------


def summary(platform: Platform, tally: Tally, sink: SmtpSink) -> dict[str, Any]:
    """Per journey: entered, sent, opened, clicked, converted, holdout vs treated."""
    templates = {
        WELCOME: ("welcome-1", "welcome-2"),
        CART: ("cart-reminder",),
        WINBACK: ("winback-offer",),
    }
    out: dict[str, Any] = {"emails_at_sink": sink.received}
    for name in JOURNEYS:
        stats = platform.journeys.stats(name)
        conversion = stats["conversion"]
        mine = templates[name]
        out[name] = {
            "entered": stats["entered"],
            "sent": sum(tally.arrived.get(t, 0) for t in mine),
            "opened": sum(tally.opened.get(t, 0) for t in mine),
            "clicked": sum(tally.clicked.get(t, 0) for t in mine),
            "converted": stats["converted"],
            "treated": conversion["treated"],
            "holdout": conversion["holdout"],
            "steps": {s["step"]: s["outcomes"] for s in stats["steps"]},
        }
    return out
