"""``run_demo``: generate the whole business, load it into the warehouse, write the truth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
from omnichannel.demo.identities import IdentifierLog, Identities, build_identities
from omnichannel.demo.messaging import audiences, build_messaging
from omnichannel.demo.model import (
    COUNTRY,
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
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]
BATCH_ROWS = 200_000


def run_demo(
    *,
    warehouse: Warehouse,
    truth_dir: Path,
    config: DemoConfig = DemoConfig(),
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate the demo retailer into ``warehouse`` and its ground truth into ``truth_dir``.

    Example::

        with open_warehouse("duckdb:///tmp/demo.duckdb") as wh:
            summary = run_demo(warehouse=wh, truth_dir=Path("/tmp/truth"),
                               config=DemoConfig(seed=1, people=2_000, days=60))
    """
    started = perf_counter()
    report: Progress = progress or (lambda stage, done, total: None)

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
    identify_records: list[pa.Table] = []
    for start in range(0, n_events, BATCH_ROWS):
        chunk = {k: v[start : start + BATCH_ROWS] for k, v in frame.items()}
        events = render(chunk, message_ids.slice(start, BATCH_ROWS), ctx)
        warehouse.append("events", events)
        identify_records.append(_identify_identifiers(chunk, events, people))
        report("loading events", min(start + BATCH_ROWS, n_events), n_events)

    report("loading tables", 0, 8)
    static = {
        "products": catalogue.products,
        "content_items": catalogue.content_items,
        "stores": catalogue.stores,
        "campaigns": plan.campaigns,
        "ad_spend": plan.ad_spend,
        "customer_records": _records_table(config, ids),
        "orders": tables.orders,
        "order_lines": tables.order_lines,
        "deliveries": messaging.deliveries,
    }
    for k, (name, table) in enumerate(static.items()):
        for offset in range(0, max(table.num_rows, 1), BATCH_ROWS):
            warehouse.append(name, table.slice(offset, BATCH_ROWS))
        report("loading tables", k + 1, len(static) + 1)
    ident_static = _identifiers_table(config, ids.identifiers)
    identify_rows = pa.concat_tables([t.drop_columns(["person_id"]) for t in identify_records])
    identifiers = pa.concat_tables([ident_static, identify_rows])
    for offset in range(0, identifiers.num_rows, BATCH_ROWS):
        warehouse.append("identifiers", identifiers.slice(offset, BATCH_ROWS))
    report("loading tables", len(static) + 1, len(static) + 1)

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

    distinct_ids = len({(t, v) for t, v, _ in owned})
    return DemoSummary(
        people=people.n,
        identifiers=identifiers.num_rows,
        identifiers_per_person=round(distinct_ids / people.n, 2),
        source_systems=len(set(pc.unique(identifiers.column("source")).to_pylist())),
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
    )


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
