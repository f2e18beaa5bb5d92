"""The demo's data arrives through the real ingestion paths, whole and exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from omnichannel.demo import DemoConfig, DemoSummary, run_demo
from omnichannel.demo.feed import HTTP_SOURCES
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.ingest.sources import list_sources
from omnichannel.opstore import open_opstore
from omnichannel.warehouse import Warehouse

CONFIG = DemoConfig(seed=5, people=300, days=30, start=date(2026, 3, 1))
LAST_DAY_UTC = datetime(2026, 3, 30) - timedelta(hours=8)  # local midnight of the last day


@dataclass
class Run:
    summary: DemoSummary
    con: duckdb.DuckDBPyConnection
    home: Path
    began: datetime
    ended: datetime


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = tmp_path_factory.mktemp("feed")
    stages: list[str] = []
    began = _now()
    with (
        Warehouse.open(f"duckdb:///{home / 'w.duckdb'}") as wh,
        open_opstore(f"sqlite:///{home / 'opstore.sqlite'}") as store,
    ):
        summary = run_demo(
            warehouse=wh,
            truth_dir=home / "truth",
            config=CONFIG,
            progress=lambda stage, done, total: stages.append(stage),
            home=home,
            opstore=store,
        )
    ended = _now()
    assert {"writing exports", "loading files", "loading events", "collector"} <= set(stages)
    con = duckdb.connect(str(home / "w.duckdb"), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return Run(summary, con, home, began, ended)


def test_archive_and_live_events_add_up_to_the_generated_ones_once(run: Run) -> None:
    extra = run.summary.extra
    assert extra["events_from_archive"] > 0 and extra["events_from_collector"] > 0
    assert extra["events_from_archive"] + extra["events_from_collector"] == run.summary.events
    total, unique = run.con.sql(
        "SELECT count(*), count(DISTINCT message_id) FROM events"
    ).fetchone()
    assert total == unique == run.summary.events


def test_live_day_was_received_by_the_collector_with_its_sources(run: Run) -> None:
    # The collector stamps received_at with its clock, during this run; the archive
    # keeps the receipt time the platform recorded (two seconds after the event).
    live = run.con.sql(
        "SELECT count(*), min(received_at), max(received_at), min(timestamp), "
        "count(*) FILTER (WHERE sent_at IS NOT NULL), list(DISTINCT source ORDER BY source) "
        "FROM events WHERE received_at >= $began",
        params={"began": run.began},
    ).fetchone()
    assert live is not None
    count, first, last, earliest, with_sent_at, sources = live
    assert count == run.summary.extra["events_from_collector"]
    assert run.began <= first <= last <= run.ended
    assert earliest >= LAST_DAY_UTC and with_sent_at == 0
    assert set(sources) <= set(HTTP_SOURCES) and {"web", "app", "wechat"} <= set(sources)
    archived = run.con.sql(
        "SELECT count(*) FILTER (WHERE received_at <> timestamp + INTERVAL 2 SECOND), "
        "max(timestamp) FROM events WHERE received_at < $began",
        params={"began": run.began},
    ).fetchone()
    assert archived is not None and archived[0] == 0 and archived[1] < LAST_DAY_UTC
    loaded = run.con.sql(
        "SELECT count(*) FROM events WHERE loaded_at NOT BETWEEN $began AND $ended",
        params={"began": run.began, "ended": run.ended},
    ).fetchone()
    assert loaded == (0,)


def test_connector_loaded_orders_and_records_match_the_generated_ones(run: Run) -> None:
    revenue = dict(
        run.con.sql("SELECT channel, sum(total)::VARCHAR FROM orders GROUP BY 1").fetchall()
    )
    assert revenue == run.summary.extra["revenue_by_channel"]
    assert {"store", "web", "app", "wechat", "marketplace"} <= set(revenue)
    truth = f"read_parquet('{run.home / 'truth' / 'records.parquet'}')"
    for kind, table in (("order", "orders"), ("customer_record", "customer_records")):
        key = "order_id" if table == "orders" else "record_id"
        missing, extra = run.con.sql(f"""
            SELECT count(*) FILTER (WHERE w.k IS NULL), count(*) FILTER (WHERE t.k IS NULL)
            FROM (SELECT source, record_id AS k FROM {truth} WHERE kind = '{kind}') t
            FULL JOIN (SELECT source, {key} AS k FROM {table}) w USING (source, k)""").fetchone()
        assert (missing, extra) == (0, 0), table
    lines = run.con.sql("SELECT sum(line_total) FROM order_lines").fetchone()
    shipping = run.con.sql("SELECT sum(total - shipping - tax) FROM orders").fetchone()
    assert lines == shipping and isinstance(lines[0], Decimal)


def test_dead_letters_are_exactly_the_planted_bad_records(run: Run) -> None:
    letters = run.con.sql(
        "SELECT kind, field, count(*) FROM dead_letters GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert sum(n for *_, n in letters) == run.summary.extra["bad_records_planted"] > 0
    fields = {(kind, field.split(" ")[0]) for kind, field, _ in letters}
    # Mobile numbers one digit short (loyalty sign-ups), a webhook's Unix timestamp in
    # the archive, a phone clock years ahead at the collector.
    assert fields == {("crm", "fields.phone"), ("event", "timestamp")}
    live = run.con.sql(
        "SELECT count(*) FROM dead_letters WHERE origin LIKE 'collector%' "
        "AND reason LIKE '%no later than%'"
    ).fetchone()
    assert live is not None and live[0] >= 1
    assert run.summary.extra["dead_letters"] == run.summary.extra["bad_records_planted"]


def test_sources_are_registered_and_the_demo_keys_retired(run: Run) -> None:
    url = f"sqlite:///{run.home / 'opstore.sqlite'}"
    with open_opstore(url) as store, store.session() as session:
        sources = {s.name: s for s in list_sources(session)}
    assert set(HTTP_SOURCES) | {"crm", "pos", "tmall", "jd", "weibo"} <= set(sources)
    for name in HTTP_SOURCES:
        keys = sources[name].keys
        assert keys and all(not k.public()["active"] for k in keys), name
    exports = run.home / "demo" / "exports"
    assert (exports / "segment-archive" / "web.jsonl.gz").is_file()
    header = (exports / "pos" / "tickets.csv").read_bytes().decode("gb18030").split("\n")[0]
    assert header.startswith('"小票号","门店编号","交易时间"')
    assert (run.home / "mappings" / "pos.pos.yaml").is_file()


def test_the_storefront_export_loads_with_the_shipped_shopify_mapping(
    run: Run, tmp_path: Path
) -> None:
    [export] = sorted(run.home.glob("**/web/orders_export.csv"))
    with Warehouse.open(f"duckdb:///{tmp_path / 'shopify.duckdb'}") as wh:
        report = ingest_file(
            wh, export, kind="orders", source="web", mapping=load_mapping("shopify-orders")
        )
        emails = wh.table("identifiers").filter(lambda t: t.id_type == "email").count()
        n_emails = emails.to_pyarrow().as_py()
    (expected,) = run.con.sql("SELECT count(*) FROM orders WHERE source = 'web'").fetchone()
    assert report.rejected == 0 and report.written["orders"] == expected
    assert n_emails > 0  # the buyer's Email column, as Shopify writes it
