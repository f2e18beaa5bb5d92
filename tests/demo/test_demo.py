"""The demo business: reproducible, identity traps present, true patterns visible in SQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from omnichannel.demo import DemoConfig, DemoSummary, run_demo
from omnichannel.warehouse import Warehouse

SMALL = DemoConfig(seed=11, people=400, days=60, start=date(2026, 1, 1))
TABLES = (
    "events",
    "identifiers",
    "customer_records",
    "orders",
    "order_lines",
    "products",
    "content_items",
    "stores",
    "campaigns",
    "ad_spend",
    "deliveries",
)


def generate(root: Path, config: DemoConfig) -> tuple[Path, DemoSummary]:
    db = root / "w.duckdb"
    stages: list[str] = []
    with Warehouse.open(f"duckdb:///{db}") as wh:
        summary = run_demo(
            warehouse=wh,
            truth_dir=root / "truth",
            config=config,
            progress=lambda stage, done, total: stages.append(stage),
        )
    assert {"people", "campaigns", "events", "loading events", "truth"} <= set(stages)
    return db, summary


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    return generate(tmp_path_factory.mktemp("small"), SMALL)


@pytest.fixture(scope="module")
def con(small: tuple[Path, DemoSummary]) -> duckdb.DuckDBPyConnection:
    db, _ = small
    c = duckdb.connect(str(db), read_only=True)
    c.execute("SET TimeZone = 'UTC'")
    return c


def truth(small: tuple[Path, DemoSummary], name: str) -> str:
    return f"read_parquet('{small[0].parent / 'truth' / name}')"


# Stamped by the ingestion paths with their own clock (test_feed checks them instead):
# when each event was loaded, and when the collector received the live day.
# Every table the ingestion paths write records its rows' load time.
WALL_CLOCK = {
    t: "EXCLUDE (loaded_at)" for t in TABLES if "loaded_at" in Warehouse.spec(t).schema.names
}
# The live day's receipt, and the order blocks were stored in (load_seq).
WALL_CLOCK["events"] = "EXCLUDE (loaded_at, received_at, load_seq)"


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as c:
        return {
            t: c.sql(f"SELECT * {WALL_CLOCK.get(t, '')} FROM {t} ORDER BY ALL").fetchall()
            for t in TABLES
        }


@pytest.mark.slow(seconds=35)
def test_same_seed_same_tables_other_seed_differs(
    tmp_path: Path, small: tuple[Path, DemoSummary]
) -> None:
    again, _ = generate(tmp_path / "again", SMALL)
    other, _ = generate(tmp_path / "other", DemoConfig(seed=12, people=400, days=60))
    first = dump(small[0])
    assert dump(again) == first
    different = dump(other)
    assert all(different[t] != first[t] for t in ("events", "orders", "customer_records"))
    for name in ("people.parquet", "identifiers.parquet", "records.parquet"):
        assert pq.read_table(small[0].parent / "truth" / name).equals(
            pq.read_table(tmp_path / "again" / "truth" / name)
        )


def test_summary_matches_warehouse(
    con: duckdb.DuckDBPyConnection, small: tuple[Path, DemoSummary]
) -> None:
    summary = small[1]
    assert con.sql("SELECT count(*) FROM events").fetchone() == (summary.events,)
    assert con.sql("SELECT count(*) FROM orders").fetchone() == (summary.orders,)
    assert con.sql("SELECT count(*) FROM identifiers").fetchone() == (summary.identifiers,)
    assert summary.to_dict()["people"] == 400
    assert (small[0].parent / "truth" / "README.md").read_text().startswith("# Ground truth")


def test_identifiers_per_person_and_source_systems(
    con: duckdb.DuckDBPyConnection, small: tuple[Path, DemoSummary]
) -> None:
    per_person = con.sql(f"""
        SELECT count(*) / 400.0 FROM (
          SELECT DISTINCT id_type, id_value, unnest(person_ids) AS p
          FROM {truth(small, "identifiers.parquet")})""").fetchone()
    assert per_person is not None and per_person[0] >= 3
    # Source systems each person appears in, joining warehouse identifiers to the truth.
    sources = con.sql(f"""
        SELECT count(DISTINCT i.source) AS n, avg(per.n) FROM identifiers i
        CROSS JOIN (SELECT person_id, count(DISTINCT source) AS n
                    FROM {truth(small, "records.parquet")} GROUP BY 1) per""").fetchone()
    assert sources is not None and sources[0] >= 5 and sources[1] >= 2.5


def test_over_merge_traps_exist(
    con: duckdb.DuckDBPyConnection, small: tuple[Path, DemoSummary]
) -> None:
    shared = dict(
        con.sql(f"""
        SELECT id_type, count(*) FROM {truth(small, "identifiers.parquet")}
        WHERE n_people > 1 GROUP BY 1""").fetchall()
    )
    assert shared.get("phone", 0) >= 3, shared  # family phones
    assert shared.get("device_id", 0) >= 2, shared  # family iPads and store kiosks
    # And they are observed in the warehouse on records of different people.
    seen = con.sql(f"""
        SELECT count(*) FROM (
          SELECT i.id_type, i.id_value FROM identifiers i
          JOIN {truth(small, "records.parquet")} r USING (source, record_id)
          GROUP BY 1, 2 HAVING count(DISTINCT r.person_id) > 1)""").fetchone()
    assert seen is not None and seen[0] >= 5


def test_linkage_records_share_no_identifier_with_their_person(
    con: duckdb.DuckDBPyConnection, small: tuple[Path, DemoSummary]
) -> None:
    rows = con.sql(f"""
        WITH r AS (SELECT * FROM {truth(small, "records.parquet")}),
        ids AS (SELECT r.person_id, r.record_id, r.is_linkage_record, i.id_type, i.id_value
                FROM identifiers i JOIN r USING (source, record_id))
        SELECT a.record_id, a.person_id,
               count(DISTINCT b.record_id) FILTER (WHERE b.id_value = a.id_value) AS shared,
               count(DISTINCT b.record_id) AS others
        FROM ids a JOIN ids b ON a.person_id = b.person_id AND a.record_id <> b.record_id
        WHERE a.is_linkage_record GROUP BY 1, 2""").fetchall()
    assert len(rows) >= 10
    assert all(shared == 0 and others >= 1 for _, _, shared, others in rows)
    # Their details are close, not identical: at least one field differs from the person's.
    differs = con.sql(f"""
        WITH r AS (SELECT * FROM {truth(small, "records.parquet")})
        SELECT count(*) FILTER (WHERE c.first_name <> p.first_name OR c.last_name <> p.last_name
                                OR c.birth_date <> p.birth_date OR c.postcode IS DISTINCT FROM
                                (SELECT postcode FROM customer_records x JOIN r y USING
                                 (source, record_id) WHERE y.person_id = r.person_id AND NOT
                                 y.is_linkage_record AND x.postcode IS NOT NULL LIMIT 1)
                                OR c.address LIKE '%Rd%' OR c.address LIKE '%Ave%'),
               count(*)
        FROM customer_records c JOIN r USING (source, record_id)
        JOIN {truth(small, "people.parquet")} p USING (person_id)
        WHERE r.is_linkage_record""").fetchone()
    assert differs is not None and differs[0] == differs[1]


def test_personal_peak_hour_visible_in_events(
    con: duckdb.DuckDBPyConnection, small: tuple[Path, DemoSummary]
) -> None:
    share = con.sql(f"""
        WITH who AS (
          SELECT DISTINCT i.id_value AS user_id, r.person_id FROM identifiers i
          JOIN {truth(small, "records.parquet")} r USING (source, record_id)
          WHERE i.id_type = 'user_id'),
        e AS (
          SELECT who.person_id, (hour(e.timestamp) + 8) % 24 AS local_hour
          FROM events e JOIN who USING (user_id)
          WHERE e.type <> 'identify' AND e.source IN ('web', 'app', 'wechat'))
        SELECT avg(CASE WHEN least(abs(local_hour - p.peak_hour),
                                   24 - abs(local_hour - p.peak_hour)) <= 2 THEN 1 ELSE 0 END)
        FROM e JOIN {truth(small, "people.parquet")} p USING (person_id)""").fetchone()
    assert share is not None and share[0] > 2 * 5 / 24, share


def test_order_totals_equal_their_lines(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.sql("""
        SELECT count(*) FROM orders o
        LEFT JOIN (SELECT order_id, sum(line_total) AS s, sum(unit_price * quantity) AS g
                   FROM order_lines GROUP BY 1) l USING (order_id)
        WHERE l.s IS NULL OR o.total <> l.s + o.shipping + o.tax OR o.subtotal <> l.g
           OR o.currency <> 'CNY'""").fetchone()
    assert bad == (0,)
    channels = {r[0] for r in con.sql("SELECT DISTINCT channel FROM orders").fetchall()}
    assert {"store", "web", "app", "wechat"} <= channels
    walk_ins = con.sql(
        "SELECT count(*) FROM orders WHERE channel = 'store' AND customer_record_id IS NULL"
    ).fetchone()
    assert walk_ins is not None and walk_ins[0] > 0


def test_events_are_well_formed(con: duckdb.DuckDBPyConnection) -> None:
    row = con.sql("""
        SELECT count(*), count(DISTINCT message_id),
               count(*) FILTER (WHERE user_id IS NULL AND anonymous_id IS NULL),
               count(*) FILTER (WHERE json_valid(context) AND (properties IS NULL
                                OR json_valid(properties)))
        FROM events""").fetchone()
    assert row is not None
    total, unique, anonymous, valid = row
    assert total > 5_000 and unique == total and anonymous == 0 and valid == total
    names = {r[0] for r in con.sql("SELECT DISTINCT coalesce(event, type) FROM events").fetchall()}
    assert {
        "identify",
        "page",
        "screen",
        "Product Viewed",
        "Order Completed",
        "Content Viewed",
        "Email Opened",
        "Email Link Clicked",
        "Products Searched",
    } <= names
    opened = con.sql("""
        SELECT count(*) FROM events e JOIN deliveries d
          ON d.delivery_id = json_extract_string(e.properties, '$.delivery_id')
        WHERE e.event = 'Email Opened'""").fetchone()
    assert opened is not None and opened[0] > 0


@pytest.mark.slow(seconds=35)
def test_carry_over_visible_by_regression(tmp_path: Path) -> None:
    """Daily visits depend on yesterday's paid spend, not only today's (adstock)."""
    db, _ = generate(tmp_path, DemoConfig(seed=3, people=3_000, days=120))
    with duckdb.connect(str(db), read_only=True) as c:
        rows = c.sql("""
            WITH s AS (SELECT date, sum(spend)::DOUBLE AS spend FROM ad_spend
                       WHERE channel IN ('search', 'social', 'display', 'video') GROUP BY 1),
            v AS (SELECT timestamp::DATE AS date, count(*) AS visits FROM events
                  WHERE type IN ('page', 'screen') AND name IN ('Home', 'Campaign Landing')
                  GROUP BY 1),
            d AS (SELECT range::DATE AS date FROM range(DATE '2026-01-01', DATE '2026-05-01',
                                                         INTERVAL 1 DAY))
            SELECT coalesce(v.visits, 0), coalesce(s.spend, 0) FROM d
            LEFT JOIN v USING (date) LEFT JOIN s USING (date) ORDER BY d.date""").fetchall()
    visits = np.array([r[0] for r in rows], dtype=float)
    spend = np.array([r[1] for r in rows], dtype=float)
    lags = np.column_stack(
        [np.ones(len(spend) - 7), spend[7:], *(spend[7 - k : -k] for k in range(1, 8))]
    )
    coef, *_ = np.linalg.lstsq(lags, visits[7:], rcond=None)
    assert coef[1] > 0 and coef[2:].sum() > 0.3 * coef[1], coef
