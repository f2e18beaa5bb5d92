"""A KPI table (channel x week) over a synthetic 10,000,000-event warehouse on DuckDB,
beside hand-written DuckDB SQL computing the same KPIs from the same tables.

No figure in issue 12 names a target: this is the baseline the KPI runner is held to.
The warehouse is generated in DuckDB itself (deterministic: hashes of row numbers):
``--people`` profiles over 26 weeks; 24 campaigns on email, SMS, push, WeChat, search,
social and video; the delivery log (each message a ``sent`` step, half of them a
``delivered`` step too), opens (a tenth opened twice: one counts), clicks, shares,
likes, UTM-tagged page views and other events up to ``--events``; a day's ad spend,
impressions and clicks per paid campaign; orders (some cancelled, some carrying a
campaign, the rest matched to their ``Order Completed`` event's UTM campaign), each
order a record of its buyer's profile.

Ours is ``platform.kpis.run(KPIS, by=["channel"], period="week")`` (validation, the one
Ibis expression of every base measure, the formulas); the baseline is the SQL an analyst
writes for the same eight KPIs, one CTE per measure with the same definitions
(docs/kpis.md): a message counted once over its steps, an open once per delivery, an
event's campaign by its UTM name else its ``campaign_id`` property, its channel the
campaign's; an order's campaign its own, else its event's. Both run ``--repeat`` times
alternately, the best of each kept; every (channel, week, KPI) value must be equal.

    python benchmarks/kpis.py [--events 10000000] [--people 500000] [--repeat 3]
        [--home /tmp/kpi-bench]  (kept between runs of the same size: --fresh rebuilds)
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

from omnichannel.platform import Platform

KPIS = ["sends", "opens", "open_rate", "clicks", "ctr", "reach", "deals", "revenue", "roas"]
CHANNELS = ["email", "sms", "push", "wechat", "search", "social", "video"]
PAID = ("search", "social", "video")
WEEKS = 26
T0 = "2026-01-05 00:00:00"  # a Monday
CAMPAIGNS = 24
# Event names after the ones the KPIs read (opens, clicks, shares, likes, page views).
OTHER_EVENTS = ["Product Viewed", "Product Added", "Products Searched", "Signed In"]


def _campaign(h: str) -> str:
    return f"'C' || lpad(({h} % {CAMPAIGNS})::VARCHAR, 2, '0')"


def generate(home: Path, events: int, people: int) -> None:
    span = f"({WEEKS} * 7 * 86400000000)"
    sends = events // 5
    orders = events // 50
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        con = wh.con.con  # the raw DuckDB connection: generating in SQL, no Python rows
        channel_of = "['" + "','".join(CHANNELS) + "']"
        con.execute(
            f"""
            INSERT INTO campaigns (campaign_id, name, channel)
            SELECT 'C' || lpad(i::VARCHAR, 2, '0'), 'Campaign ' || i,
                   {channel_of}[(i % {len(CHANNELS)}) + 1]
            FROM range({CAMPAIGNS}) t(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO profile_identifiers (profile_id, id_type, id_value, status, records)
            SELECT 'p_' || i, 'user_id', 'u' || i, 'linked', 1 FROM range({people}) t(i)
            """
        )
        # The delivery log: message i is outbox id i, sent; half of them delivered too.
        con.execute(
            f"""
            CREATE TEMP TABLE msg AS
            SELECT i, 'C' || lpad(c::VARCHAR, 2, '0') AS campaign_id,
                   {channel_of}[((c % {len(CHANNELS)}) + 1)::BIGINT] AS channel,
                   h % {people} AS person,
                   TIMESTAMP '{T0}' + to_microseconds((h2 % {span})::BIGINT) AS t_at
            FROM (SELECT i, hash(i) AS h, hash(i + 17) AS h2,
                         [0,1,2,3,7,8,9,10,14,15,16,17][((hash(i * 5 + 3) % 12) + 1)::BIGINT] AS c
                  FROM range({sends}) t(i))
            """
        )  # messages only on the messaging campaigns (channel index 0-3)
        con.execute(
            """
            INSERT INTO deliveries (delivery_id, channel, campaign_id, profile_id, recipient,
                                    template, status, outbox_id, "at")
            SELECT 'd' || i || s.status, channel, campaign_id, 'p_' || person,
                   'u' || person || '@x.example', 'tpl-' || (i % 3), s.status, i,
                   m.t_at + CASE WHEN s.status = 'sent' THEN INTERVAL 0 SECOND
                             ELSE INTERVAL 40 SECOND END
            FROM msg m, (VALUES ('sent'), ('delivered')) s(status)
            WHERE s.status = 'sent' OR i % 2 = 0
            """
        )
        # Opens of 30 % of messages (a tenth of those twice), clicks of 6 %: their event
        # names the delivery and the campaign by UTM name.
        con.execute(
            """
            INSERT INTO events (message_id, type, event, user_id, timestamp, source, channel,
                                context_campaign_name, context_campaign_medium, properties)
            SELECT 'e' || m.i || '-' || k.kind || k.n, 'track', k.kind, 'u' || m.person,
                   m.t_at + INTERVAL (600 * (k.n + 1)) SECOND, 'web', 'web',
                   'Campaign ' || substr(m.campaign_id, 2)::INT, m.channel,
                   '{"delivery_id": "d' || m.i || 'sent"}'
            FROM msg m, (VALUES ('Email Opened', 0), ('Email Opened', 1),
                                ('Email Link Clicked', 0)) k(kind, n)
            WHERE (k.kind = 'Email Opened' AND k.n = 0 AND hash(m.i * 7) % 10 < 3)
               OR (k.kind = 'Email Opened' AND k.n = 1 AND hash(m.i * 7) % 100 < 3)
               OR (k.kind = 'Email Link Clicked' AND hash(m.i * 11) % 100 < 6)
            """
        )
        placed = con.execute("SELECT count(*) FROM events").fetchone()
        rest = max(0, events - int(placed[0] if placed else 0))
        names = ["Product Shared", "Content Liked", "Page Viewed", *OTHER_EVENTS]
        names_sql = "['" + "','".join(names) + "']"
        # The rest: shares, likes, UTM-tagged page views (a campaign by name, or only by a
        # campaign_id property) and untagged browsing, spread over people and time.
        con.execute(
            f"""
            INSERT INTO events (message_id, type, event, user_id, timestamp, source, channel,
                                context_campaign_name, context_campaign_medium, properties)
            SELECT 'r' || i, CASE WHEN name = 'Page Viewed' THEN 'page' ELSE 'track' END,
                   CASE WHEN name = 'Page Viewed' THEN NULL ELSE name END,
                   'u' || (h % {people}),
                   TIMESTAMP '{T0}' + to_microseconds((h2 % {span})::BIGINT), 'web',
                   CASE WHEN h % 3 = 0 THEN 'app' ELSE 'web' END,
                   CASE WHEN tag = 1 THEN 'Campaign ' || (h3 % {CAMPAIGNS}) END,
                   CASE WHEN tag = 1 THEN 'cpc' END,
                   CASE WHEN tag = 2 THEN '{{"campaign_id": "' || {_campaign("h3")} || '"}}'
                        ELSE '{{}}' END
            FROM (SELECT i, h, h2, h3, {names_sql}[((r % {len(names)}) + 1)::BIGINT] AS name,
                         CASE WHEN r % 7 < 3 THEN (r % 7) ELSE 0 END AS tag
                  FROM (SELECT i, hash(i * 13) AS h, hash(i * 13 + 1) AS h2,
                               hash(i * 13 + 2) AS h3, hash(i * 13 + 3) % 1000 AS r
                        FROM range({rest}) t(i)))
            """
        )
        con.execute(
            f"""
            INSERT INTO ad_spend (date, channel, campaign_id, spend, impressions, clicks)
            SELECT (TIMESTAMP '{T0}' + INTERVAL (d) DAY)::DATE, c.channel, c.campaign_id,
                   (50 + hash(d * 31, c.campaign_id) % 400)::DECIMAL(18, 2),
                   10000 + hash(d * 37, c.campaign_id) % 5000,
                   100 + hash(d * 41, c.campaign_id) % 200
            FROM range({WEEKS * 7}) t(d), campaigns c
            WHERE c.channel IN {PAID}
            """
        )
        # Orders: 5 % cancelled; a third carry a campaign, a third only their Order
        # Completed event's UTM campaign, a third none. Each order is its buyer's record.
        con.execute(
            f"""
            CREATE TEMP TABLE ord AS
            SELECT i, h % {people} AS person,
                   TIMESTAMP '{T0}' + to_microseconds((h2 % {span})::BIGINT) AS t_at,
                   (10 + h3 % 290)::DECIMAL(18, 2) AS total,
                   CASE WHEN h3 % 20 = 0 THEN 'cancelled' ELSE 'completed' END AS status,
                   h3 % 3 AS how, {_campaign("(h3 // 7)")} AS campaign_id
            FROM (SELECT i, hash(i * 3 + 1) AS h, hash(i * 3 + 2) AS h2, hash(i * 3 + 5) AS h3
                  FROM range({orders}) t(i))
            """
        )
        con.execute(
            """
            INSERT INTO orders (order_id, source, channel, user_id, ordered_at, status,
                                currency, total, campaign_id)
            SELECT 'o' || i, 'web', 'web', 'u' || person, t_at, status, 'EUR', total,
                   CASE WHEN how = 0 THEN campaign_id END
            FROM ord
            """
        )
        con.execute(
            """
            INSERT INTO events (message_id, type, event, user_id, timestamp, source, channel,
                                context_campaign_name, properties)
            SELECT 'oc' || i, 'track', 'Order Completed', 'u' || person, t_at, 'web', 'web',
                   CASE WHEN how = 1 THEN 'Campaign ' || substr(campaign_id, 2)::INT END,
                   '{"order_id": "o' || i || '"}'
            FROM ord
            """
        )
        con.execute(
            """
            INSERT INTO record_profiles (source, record_id, profile_id)
            SELECT 'web', 'o' || i, 'p_' || person FROM ord
            """
        )
        con.execute("CHECKPOINT")


# The same KPIs as the analyst writes them (docs/kpis.md's definitions), one CTE a measure.
BASELINE = """
WITH ids AS (
    SELECT id_type, id_value, min(profile_id) AS profile_id FROM profile_identifiers
    WHERE status = 'linked' GROUP BY id_type, id_value
),
by_name AS (
    SELECT name, min(campaign_id) AS cid, min(channel) AS cch FROM campaigns
    GROUP BY name HAVING count(DISTINCT campaign_id) = 1
),
ev AS (
    SELECT e.message_id, e.event, e.type,
           coalesce(e.timestamp, e.original_timestamp, e.received_at) AS ts,
           coalesce(u.profile_id, a.profile_id) AS pid,
           coalesce(n.cid, json_extract_string(e.properties, '$.campaign_id'),
                    e.context_campaign_name) AS campaign,
           e.context_campaign_name AS utm, e.context_campaign_medium AS medium,
           e.context_campaign_source AS src, e.channel AS ev_channel,
           json_extract_string(e.properties, '$.delivery_id') AS delivery
    FROM events e
    LEFT JOIN ids u ON u.id_type = 'user_id' AND u.id_value = trim(e.user_id)
    LEFT JOIN ids a ON a.id_type = 'anonymous_id' AND a.id_value = trim(e.anonymous_id)
    LEFT JOIN by_name n ON n.name = e.context_campaign_name
    WHERE e.event IN ('Email Opened', 'Inbox Message Read', 'Push Notification Opened',
                      'Email Link Clicked', 'SMS Link Clicked', 'WeChat Message Clicked',
                      'Push Notification Tapped', 'Inbox Message Clicked')
       OR (e.type IN ('page', 'screen') AND e.context_campaign_name <> '')
),
ev_ch AS (
    SELECT ev.*, coalesce(c.channel, n.cch, medium, src, ev_channel) AS channel
    FROM ev LEFT JOIN campaigns c ON c.campaign_id = ev.campaign
    LEFT JOIN by_name n ON n.name = ev.utm
),
opens AS (
    SELECT min(ts) AS ts, min(channel) AS channel FROM ev_ch
    WHERE event IN ('Email Opened', 'Inbox Message Read', 'Push Notification Opened')
    GROUP BY coalesce(delivery, message_id)
),
sends AS (
    SELECT min(coalesce(d.at, d.sent_at, d.queued_at)) AS ts, min(d.channel) AS channel,
           min(coalesce(d.profile_id, r.profile_id)) AS pid
    FROM deliveries d
    LEFT JOIN (SELECT id_value, min(profile_id) AS profile_id FROM ids GROUP BY id_value) r
      ON r.id_value = trim(d.recipient)
    WHERE d.status IN ('sent', 'delivered')
    GROUP BY coalesce(d.outbox_id::VARCHAR, d.provider_message_id, d.delivery_id)
),
msg_clicks AS (
    SELECT min(ts) AS ts, min(channel) AS channel, min(pid) AS pid FROM ev_ch
    WHERE event IN ('Email Link Clicked', 'SMS Link Clicked', 'WeChat Message Clicked',
                    'Push Notification Tapped', 'Inbox Message Clicked')
    GROUP BY message_id
),
visits AS (
    SELECT min(ts) AS ts, min(channel) AS channel, min(pid) AS pid FROM ev_ch
    WHERE type IN ('page', 'screen') AND event IS NULL GROUP BY message_id
),
order_campaign AS (
    SELECT json_extract_string(e.properties, '$.order_id') AS order_id,
           min(coalesce(n.cid, e.context_campaign_name)) AS campaign
    FROM events e LEFT JOIN by_name n ON n.name = e.context_campaign_name
    WHERE e.event = 'Order Completed' AND e.context_campaign_name <> ''
    GROUP BY 1
),
deals AS (
    SELECT o.ordered_at AS ts, c.channel, o.total::DOUBLE AS total
    FROM orders o LEFT JOIN order_campaign oc ON oc.order_id = o.order_id
    LEFT JOIN campaigns c ON c.campaign_id = coalesce(o.campaign_id, oc.campaign)
    WHERE lower(coalesce(o.status, '')) NOT IN
          ('cancelled', 'canceled', 'refunded', 'failed', 'voided')
),
week AS (
    SELECT channel, date_trunc('week', ts) AS week, measure, n, v, pid FROM (
        SELECT channel, ts, 'send' AS measure, 1 AS n, NULL::DOUBLE AS v, pid FROM sends
        UNION ALL SELECT channel, ts, 'open', 1, NULL, NULL FROM opens
        UNION ALL SELECT channel, ts, 'click', 1, NULL, pid FROM msg_clicks
        UNION ALL SELECT channel, ts, 'visit', 1, NULL, pid FROM visits
        UNION ALL SELECT channel, date::TIMESTAMP, 'click', coalesce(clicks, 0), NULL, NULL
                  FROM ad_spend
        UNION ALL SELECT channel, date::TIMESTAMP, 'impression', coalesce(impressions, 0),
                         NULL, NULL FROM ad_spend
        UNION ALL SELECT channel, date::TIMESTAMP, 'spend', 1, spend::DOUBLE, NULL FROM ad_spend
        UNION ALL SELECT channel, ts, 'deal', 1, total, NULL FROM deals
    )
)
SELECT channel, week,
       sum(n) FILTER (WHERE measure = 'send') AS sends,
       sum(n) FILTER (WHERE measure = 'open') AS opens,
       sum(n) FILTER (WHERE measure = 'click') AS clicks,
       sum(n) FILTER (WHERE measure = 'impression') AS impressions,
       count(DISTINCT pid) FILTER (WHERE measure IN ('send', 'click', 'visit')) AS reach,
       sum(n) FILTER (WHERE measure = 'deal') AS deals,
       sum(v) FILTER (WHERE measure = 'deal') AS revenue,
       sum(v) FILTER (WHERE measure = 'spend') AS spend
FROM week GROUP BY channel, week
"""


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 6) if a is not None and b else None


def baseline_cells(row: tuple[Any, ...]) -> dict[str, float | None]:
    sends, opens, clicks, impressions, reach, deals, revenue, spend = (
        None if v is None else float(v) for v in row[2:]
    )
    exposures = (sends or 0) + (impressions or 0)
    return {
        "sends": sends or 0.0,
        "opens": opens or 0.0,
        "open_rate": _ratio(opens or 0.0, sends),
        "clicks": clicks or 0.0,
        "ctr": _ratio(clicks or 0.0, exposures),
        "reach": reach or 0.0,
        "deals": deals or 0.0,
        "revenue": round(revenue or 0.0, 6),
        "roas": _ratio(revenue or 0.0, spend),
    }


def ours_cells(result: dict[str, Any]) -> dict[tuple[Any, Any], dict[str, float | None]]:
    out = {}
    for row in result["rows"]:
        key = (row["group"]["channel"], str(row["period"])[:10])
        out[key] = {k: row["kpis"][k]["value"] for k in KPIS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, default=Path("/tmp/kpi-bench"))
    parser.add_argument("--fresh", action="store_true", help="Rebuild the data.")
    args = parser.parse_args()
    home = args.home / f"e{args.events}-p{args.people}"
    if args.fresh and home.exists():
        shutil.rmtree(home)
    if not (home / "omni.duckdb").exists():
        started = time.perf_counter()
        generate(home, args.events, args.people)
        print(f"generated {args.events:,} events of {args.people:,} people in "
              f"{time.perf_counter() - started:.1f} s ({home})")  # fmt: skip
    best = {"ours": float("inf"), "hand-written SQL": float("inf")}
    with Platform.open(home) as platform:
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = platform.kpis.run(KPIS, by=["channel"], period="week")
            best["ours"] = min(best["ours"], time.perf_counter() - started)
            with platform.warehouse.reader() as wh:
                started = time.perf_counter()
                rows = wh.con.con.execute(BASELINE).fetchall()
                best["hand-written SQL"] = min(
                    best["hand-written SQL"], time.perf_counter() - started
                )
    ours = ours_cells(result)
    theirs = {(r[0], str(r[1])[:10]): baseline_cells(r) for r in rows}
    # A group only one side has (ours also reads shares and likes) must be all zero there.
    nothing = baseline_cells((None,) * 10)
    keys = sorted(set(ours) | set(theirs), key=str)
    differ = [
        (key, k, ours.get(key, nothing).get(k), v)
        for key in keys
        for k, v in theirs.get(key, nothing).items()
        if ours.get(key, nothing).get(k) != v
    ]
    load = os.getloadavg()
    print(f"events {args.events:,}, people {args.people:,}, KPIs {len(KPIS)} by channel and "
          f"week ({len(keys)} groups), best of {args.repeat}")  # fmt: skip
    for name, seconds in best.items():
        print(f"{name:18s} {seconds:6.2f} s")
    print(f"ratio ours / hand-written SQL: {best['ours'] / best['hand-written SQL']:.2f}")
    print(f"same values: {not differ} ({len(keys) * len(KPIS)} compared)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if differ:
        for d in differ[:10]:
            print("differs:", d)
        raise SystemExit("the KPI tables disagree")


if __name__ == "__main__":
    main()
