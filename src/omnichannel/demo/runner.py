"""``run_demo``: generate the whole business, load it into the warehouse, write the truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.demo import exports
from omnichannel.demo import exports_commerce as commerce
from omnichannel.demo.archive import ArchiveWriter, epoch_timestamp_lines
from omnichannel.demo.behaviour import (
    IDENTIFY,
    Sessions,
    expand,
    kiosk_sessions,
    organic_sessions,
    paid_sessions,
    purchase_sessions,
)
from omnichannel.demo.campaigns import CampaignPlan, build_campaigns
from omnichannel.demo.catalogue import Catalogue, build_catalogue
from omnichannel.demo.codes import uuids
from omnichannel.demo.exports import Export
from omnichannel.demo.exports_commerce import MARKETPLACES, STOREFRONT_SOURCES
from omnichannel.demo.feed import (
    LIVE_MAX,
    FeedReport,
    load_archive,
    load_exports,
    places,
    register_sources,
    retire_keys,
    send_live,
)
from omnichannel.demo.identities import (
    SOCIAL_PLATFORMS,
    IdentifierLog,
    Identities,
    build_identities,
)
from omnichannel.demo.messaging import audiences, build_messaging
from omnichannel.demo.model import (
    COUNTRY,
    UTC_OFFSET_HOURS,
    DemoConfig,
    DemoSummary,
    child_rng,
    day_weights,
    to_timestamp,
)
from omnichannel.demo.orders import (
    OrderTables,
    PlannedOrders,
    build_order_tables,
    plan_baseline_orders,
)
from omnichannel.demo.people import People, build_people
from omnichannel.demo.render import RenderContext, render
from omnichannel.demo.truth import write_truth
from omnichannel.errors import ValidationError
from omnichannel.ingest.segment import Limits
from omnichannel.opstore import OpStore
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]
BATCH_ROWS = 200_000


def run_demo(
    *,
    warehouse: Warehouse,
    truth_dir: Path,
    config: DemoConfig = DemoConfig(),
    progress: Progress | None = None,
    home: Path | None = None,
    opstore: OpStore | None = None,
) -> DemoSummary:
    """Generate the demo retailer, feed it into ``warehouse`` through the ingestion paths.

    The source systems' exports and the collector's log go to ``<home>/demo/`` (a
    temporary directory without ``home``); write keys go to ``opstore`` (a temporary one
    without it). The ground truth goes to ``truth_dir``.

    Example::

        with open_warehouse("duckdb:///tmp/demo.duckdb") as wh:
            summary = run_demo(warehouse=wh, truth_dir=Path("/tmp/truth"),
                               config=DemoConfig(seed=1, people=2_000, days=60))
    """
    started = perf_counter()
    report: Progress = progress or (lambda stage, done, total: None)
    check_live_day(config)

    report("people", 0, 3)
    catalogue = build_catalogue(config)
    people = build_people(config)
    report("people", 1, 3)
    ids = build_identities(config, people, catalogue.stores.num_rows)
    report("people", 3, 3)

    report("campaigns", 0, 1)
    reach = audiences(people, ids)
    plan = build_campaigns(config, {k: len(v) for k, v in reach.items()})
    report("campaigns", 1, 1)

    report("events", 0, 5)
    rng = child_rng(config, "behaviour")
    baseline, last_day = plan_baseline_orders(rng, config, people, ids)
    paid, paid_orders = paid_sessions(rng, config, people, ids, plan)
    messaging = build_messaging(rng, config, people, ids, plan, reach)
    planned = PlannedOrders.concat([baseline, paid_orders, messaging.orders])
    report("events", 1, 5)
    buying, order_anon = purchase_sessions(
        rng, people, ids, planned, np.arange(len(planned.person)), planned.campaign
    )
    anon = ids.anon_values.take(pa.array(order_anon, mask=order_anon < 0))
    promo = day_weights(config) >= 1.4
    tables = build_order_tables(
        rng, config, people, ids, catalogue, planned, anon, plan.campaign_ids, promo
    )
    buying.order = tables.position[buying.order]
    kiosk = kiosk_sessions(rng, people, ids, planned, tables.position)
    organic = organic_sessions(rng, config, people, ids, last_day)
    sessions = Sessions.concat([organic, paid, messaging.sessions, buying, kiosk])
    report("events", 2, 5)
    frame = expand(rng, people, catalogue, sessions, tables.line_order, tables.line_product)
    frame = {k: np.concatenate([frame[k], messaging.events[k]]) for k in frame}
    order = np.lexsort((frame["person"], frame["ts"]))
    frame = {k: v[order] for k, v in frame.items()}
    n_events = len(order)
    message_ids = uuids(child_rng(config, "message_ids"), n_events)
    report("events", 5, 5)

    ctx = _context(config, people, ids, catalogue, plan, tables, messaging.deliveries)
    records = _records_table(config, ids)
    static_ids = _identifiers_table(config, ids.identifiers)
    fed = FeedReport()
    with places(home, opstore) as place:
        # Events are in time order: history up to ``split`` is archived, the rest is live.
        split = live_start(config, frame["ts"])
        archive = ArchiveWriter(place.exports / "segment-archive")
        identify_records: list[pa.Table] = []
        live_parts: list[pa.Table] = []
        stage_started = perf_counter()
        for start in range(0, n_events, BATCH_ROWS):
            chunk = {k: v[start : start + BATCH_ROWS] for k, v in frame.items()}
            events = render(chunk, message_ids.slice(start, BATCH_ROWS), ctx)
            identify_records.append(_identify_identifiers(chunk, events, people))
            history = events.slice(0, max(split - start, 0))
            archive.write(history, epoch_timestamp_lines(history))
            live_parts.append(events.slice(history.num_rows))
            report("writing exports", min(start + BATCH_ROWS, n_events), n_events + 1)
        archived = archive.close()
        fed.planted_bad += sum(archive.planted.values())
        exports = _write_exports(place.exports, catalogue, plan, tables, records, static_ids)
        report("writing exports", n_events + 1, n_events + 1)
        fed.timed("write exports", stage_started)

        keys = register_sources(place.opstore)
        stage_started = perf_counter()
        identify_rows = pa.concat_tables([t.drop_columns(["person_id"]) for t in identify_records])
        # No export the connectors read carries these (see feed's docstring).
        for name, table in (
            ("campaigns", plan.campaigns),
            ("deliveries", messaging.deliveries),
            ("identifiers", identify_rows),
        ):
            for offset in range(0, max(table.num_rows, 1), BATCH_ROWS):
                warehouse.append(name, table.slice(offset, BATCH_ROWS))
        fed.timed("append direct", stage_started)
        load_exports(warehouse, exports, fed, place, report)
        load_archive(warehouse, archived, fed, report)
        send_live(warehouse, pa.concat_tables(live_parts), keys, fed, place, report)
        retire_keys(place.opstore, keys)

    report("truth", 0, 1)
    truth = _truth_records(people, ids, tables, identify_records)
    # Kiosk tablets are nobody's own device; identify calls reveal who used them.
    person_index = {p: i for i, p in enumerate(people.person_ids)}
    owned = list(ids.owned)
    for t in identify_records:
        for id_type, value, person in zip(
            t.column("id_type").to_pylist(),
            t.column("id_value").to_pylist(),
            t.column("person_id").to_pylist(),
            strict=True,
        ):
            owned.append((id_type, value, person_index[person]))
    write_truth(truth_dir, config, people, plan, owned, truth, last_day)
    report("truth", 1, 1)

    counts = warehouse.counts()
    distinct_ids = len({(t, v) for t, v, _ in owned})
    sources = set(static_ids.column("source").to_pylist()) | set(
        identify_rows.column("source").to_pylist()
    )
    return DemoSummary(
        people=people.n,
        identifiers=counts["identifiers"],
        identifiers_per_person=round(distinct_ids / people.n, 2),
        source_systems=len(sources),
        customer_records=len(ids.record_person),
        events=n_events,
        orders=tables.orders.num_rows,
        order_lines=tables.order_lines.num_rows,
        campaigns=plan.campaigns.num_rows,
        ad_spend_rows=plan.ad_spend.num_rows,
        products=catalogue.products.num_rows,
        content_items=catalogue.content_items.num_rows,
        stores=catalogue.stores.num_rows,
        deliveries=messaging.deliveries.num_rows,
        seconds=round(perf_counter() - started, 1),
        truth_dir=str(truth_dir),
        extra={
            "files_loaded": len(fed.files),
            "events_from_archive": fed.archive_events,
            "events_from_collector": fed.live_events,
            "collector_requests": fed.live_requests,
            "bad_records_planted": fed.planted_bad,
            "dead_letters": counts["dead_letters"],
            "revenue_by_channel": _revenue_by_channel(tables.orders),
            "exports_dir": str(place.exports) if home is not None else None,
            "ingest_seconds": fed.seconds,
            "ingest_files": fed.files,
        },
    )


def _revenue_by_channel(orders: pa.Table) -> dict[str, str]:
    """Generated order totals per channel (CNY, as text), to check what the connectors loaded."""
    sums = orders.group_by("channel").aggregate([("total", "sum")])
    return dict(
        sorted(
            zip(
                sums.column("channel").to_pylist(),
                [str(v) for v in sums.column("total_sum").to_pylist()],
                strict=True,
            )
        )
    )


def live_start(config: DemoConfig, ts: np.ndarray) -> int:
    """First event of the live slice: the last local day, at most ``LIVE_MAX`` calls."""
    last_day_utc = (config.days - 1) * 86_400 - UTC_OFFSET_HOURS * 3_600
    first = int(np.searchsorted(ts, last_day_utc, side="left"))
    return max(first, len(ts) - LIVE_MAX)


def check_live_day(config: DemoConfig, limits: Limits = Limits()) -> None:
    """The live day goes through the collector, which refuses times far from its clock."""
    now = datetime.now(UTC).replace(tzinfo=None)
    last = config.epoch + timedelta(days=config.days)
    if last - timedelta(days=1) > now + limits.max_future or last < now - limits.max_age:
        latest = (now + limits.max_future - timedelta(days=config.days - 1)).date()
        raise ValidationError(
            "start",
            config.start.isoformat(),
            f"a first day no later than {latest} for {config.days} days (the last day is "
            "sent live to the collector, which refuses events from the future) and less "
            "than 5 years ago",
        )


def _write_exports(
    directory: Path,
    catalogue: Catalogue,
    plan: CampaignPlan,
    tables: OrderTables,
    records: pa.Table,
    identifiers: pa.Table,
) -> list[Export]:
    names = catalogue.product_names
    out = [
        exports.members(directory, records, identifiers),
        exports.loyalty(directory, records, identifiers),
        exports.wechat_followers(directory, records, identifiers),
        *(exports.social_followers(directory, records, p) for p in SOCIAL_PLATFORMS),
        *(exports.marketplace_buyers(directory, records, p) for p in MARKETPLACES),
        *commerce.catalogue_files(
            directory, catalogue.products, catalogue.content_items, catalogue.stores
        ),
        commerce.media_report(directory, plan.ad_spend),
        *(
            commerce.storefront_orders(directory, tables, names, s, records)
            for s in STOREFRONT_SOURCES
        ),
        commerce.till_tickets(directory, tables, names),
        *(commerce.marketplace_orders(directory, tables, names, p) for p in MARKETPLACES),
    ]
    return out


def _context(
    config: DemoConfig,
    people: People,
    ids: Identities,
    catalogue: Catalogue,
    plan: CampaignPlan,
    tables: OrderTables,
    deliveries: pa.Table,
) -> RenderContext:
    content = catalogue.content_items
    products = catalogue.products
    return RenderContext(
        config=config,
        user_ids=pa.array(ids.user_id, pa.string()),
        anon_values=ids.anon_values,
        device_values=ids.device_values,
        device_os=ids.device_os,
        ips=pa.array(people.ip),
        emails=pa.array(people.email),
        phones=pa.array(people.phone),
        campaign_names=pa.array(plan.campaign_names),
        campaign_ids=pa.array(plan.campaign_ids),
        campaign_channel=plan.campaign_channel,
        product_ids=catalogue.product_ids,
        product_skus=catalogue.product_skus,
        product_names=catalogue.product_names,
        product_category=products.column("category").combine_chunks(),
        product_price=products.column("price").combine_chunks().cast(pa.string()),
        content_ids=catalogue.content_ids,
        content_type=content.column("content_type").combine_chunks(),
        content_title=content.column("title").combine_chunks(),
        content_category=content.column("category").combine_chunks(),
        order_ids=tables.order_ids,
        order_totals=tables.orders.column("total").combine_chunks().cast(pa.string()),
        delivery_ids=deliveries.column("delivery_id").combine_chunks(),
    )


def _identify_identifiers(
    chunk: dict[str, np.ndarray], events: pa.Table, people: People
) -> pa.Table:
    """Identifier rows an identify call reveals: its anonymous id, user id and device."""
    rows = np.flatnonzero(chunk["kind"] == IDENTIFY)
    sub = events.take(pa.array(rows))
    person = pa.array(np.array(people.person_ids, dtype=object)[chunk["person"][rows]], pa.string())
    anon_type = pc.if_else(
        pc.equal(sub.column("source"), "wechat"), "wechat_openid", "anonymous_id"
    )
    parts = []
    for id_type, value in (
        (anon_type, sub.column("anonymous_id")),
        (pa.array(["user_id"] * len(rows), pa.string()), sub.column("user_id")),
        (pa.array(["device_id"] * len(rows), pa.string()), sub.column("context_device_id")),
    ):
        part = pa.table(
            {
                "source": sub.column("source"),
                "record_id": sub.column("message_id"),
                "id_type": id_type,
                "id_value": value,
                "observed_at": sub.column("timestamp"),
                "person_id": person,
            }
        )
        parts.append(part.filter(pc.is_valid(part.column("id_value"))))
    return pa.concat_tables(parts)


def _identifiers_table(config: DemoConfig, log: IdentifierLog) -> pa.Table:
    return pa.table(
        {
            "source": log.source,
            "record_id": log.record_id,
            "id_type": log.id_type,
            "id_value": log.id_value,
            "observed_at": pa.array(to_timestamp(config, np.array(log.observed_at, np.int64))),
        }
    )


def _records_table(config: DemoConfig, ids: Identities) -> pa.Table:
    rec = dict(ids.records)
    n = len(rec["source"])
    for col in ("created_at", "updated_at"):
        rec[col] = pa.array(to_timestamp(config, np.array(rec[col], dtype=np.int64)))
    rec["birth_date"] = pa.array(rec["birth_date"], pa.date32())
    rec["country"] = [COUNTRY] * n
    return pa.table(rec)


def _truth_records(
    people: People, ids: Identities, tables: OrderTables, identify: list[pa.Table]
) -> pa.Table:
    pid = np.array(people.person_ids, dtype=object)
    linkage = set(ids.linkage_records)
    cust = pa.table(
        {
            "source": pa.array(ids.records["source"], pa.string()),
            "record_id": pa.array(ids.records["record_id"], pa.string()),
            "person_id": pa.array(pid[np.array(ids.record_person)], pa.string()),
            "kind": ["customer_record"] * len(ids.record_person),
            "is_linkage_record": [r in linkage for r in ids.records["record_id"]],
        }
    )
    events = pa.concat_tables(identify)
    first = pc.equal(events.column("id_type"), "user_id")
    ev = events.filter(first)
    ev_t = pa.table(
        {
            "source": ev.column("source"),
            "record_id": ev.column("record_id"),
            "person_id": ev.column("person_id"),
            "kind": ["identify_event"] * ev.num_rows,
            "is_linkage_record": [False] * ev.num_rows,
        }
    )
    order_person = pa.array(pid[tables.order_person], pa.string())
    orders, order_ids = tables.orders, tables.order_ids
    ord_t = pa.table(
        {
            "source": orders.column("source"),
            "record_id": order_ids,
            "person_id": order_person,
            "kind": ["order"] * orders.num_rows,
            "is_linkage_record": [False] * orders.num_rows,
        }
    )
    return pa.concat_tables([cust, ev_t.cast(cust.schema), ord_t.cast(cust.schema)])
