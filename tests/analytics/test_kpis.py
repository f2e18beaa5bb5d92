"""KPI formulas on a tiny hand-made business (``kpi_world``), comparisons, channel coverage,
bad input, ``omni kpis`` and the compiled SQL of the facts query (snapshotted).

Refresh the snapshots with ``OMNI_UPDATE_SNAPSHOTS=1 pytest tests/analytics`` when a
change to the query is meant, and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest
from typer.testing import CliRunner

from omnichannel.analytics.kpis.facts import Query, measure_rows
from omnichannel.cli.main import app as cli
from omnichannel.errors import ValidationError
from omnichannel.identity.rules import load_rules
from omnichannel.opstore.consent import set_consent
from omnichannel.platform import Platform
from omnichannel.warehouse import Warehouse
from tests.analytics.kpi_world import at, build_kpi_world
from tests.profiles.support import T0

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def kpi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("kpis") / "home"
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        build_kpi_world(wh)
    return home


@pytest.fixture(scope="module")
def platform(kpi_home: Path) -> Iterator[Platform]:
    with Platform.open(kpi_home) as opened:
        yield opened


def values(result: dict[str, Any], dim: str = "channel") -> dict[Any, dict[str, Any]]:
    return {
        r["group"].get(dim): {k: v["value"] for k, v in r["kpis"].items()} for r in result["rows"]
    }


def test_each_kpi_per_channel_is_its_formula_worked_by_hand(platform: Platform) -> None:
    got = values(platform.kpis.run(by="channel"))
    email, search, untagged = got["email"], got["search"], got[None]
    # Four messages (ann's sent and delivered steps are one), two opened (ann's two opens
    # of one message count once), one click, one share.
    assert (email["sends"], email["opens"], email["clicks"], email["shares"]) == (4, 2, 1, 1)
    assert email["open_rate"] == 0.5 and email["ctr"] == 0.25 and email["share_rate"] == 0.25
    # Reached: the four recipients; ann and bob ordered (bob's was refunded), ann bought.
    assert email["reach"] == 4 and email["order_rate"] == 0.5 and email["deal_rate"] == 0.25
    # ann's purchase is the email campaign's through her Order Completed event.
    assert email["revenue"] == 100 and email["spend"] == 20
    assert email["roas"] == 5 and email["roi"] == 4 and email["cac"] == 20
    # Search: 10 ad clicks of 1,000 impressions; cat visited and bought with the coupon.
    assert search["ctr"] == 0.01 and search["reach"] == 1 and search["deal_rate"] == 1
    assert search["roas"] == 0.4 and search["roi"] == pytest.approx(-0.6)
    assert search["new_customers"] == 1 and search["cac"] == 200
    # dan's untagged purchase has no marketing channel; it still counts in the totals.
    assert untagged["revenue"] == 30 and untagged["ctr"] is None
    total = values(platform.kpis.run(["revenue", "deals", "orders", "aov"]), "none")[None]
    assert total == {"revenue": 210, "deals": 3, "orders": 4, "aov": 70}


def test_kpis_without_inputs_are_no_data_with_the_reason_not_zero(platform: Platform) -> None:
    result = platform.kpis.run(["interaction_rate", "reservation_rate", "ctr"], by="channel")
    assert set(result["no_data"]) == {"interaction_rate", "reservation_rate"}
    assert "Content Liked" in result["no_data"]["interaction_rate"]
    assert "Reservation Made" in result["no_data"]["reservation_rate"]
    email = next(r for r in result["rows"] if r["group"]["channel"] == "email")
    assert email["kpis"]["interaction_rate"] == {
        "value": None,
        "numerator": 0,
        "denominator": None,
        "status": "no_data",
    }
    assert email["kpis"]["ctr"]["status"] == "ok"


def test_a_kpi_reads_only_its_measures(platform: Platform) -> None:
    spent = platform.kpis.run(["deals", "revenue", "roas"], period="day")
    # With roas the spend is read: the day of spend without a purchase is a row again.
    assert spent["rows"][0]["period"] == "2026-03-02"
    assert spent["rows"][0]["kpis"]["revenue"]["value"] == 0.0
    assert spent["rows"][0]["kpis"]["roas"]["value"] == 0.0


def test_periods_campaigns_and_filters(platform: Platform) -> None:
    daily = platform.kpis.run(["deals", "revenue"], period="day")
    # Only the measures the KPIs read are read: days without a purchase have no row.
    assert {r["period"]: r["kpis"]["revenue"]["value"] for r in daily["rows"]} == {
        "2026-03-04": 80.0,  # cat (day 2)
        "2026-03-05": 100.0,  # ann (day 3)
        "2026-03-06": 30.0,  # dan (day 4)
    }
    by_campaign = values(platform.kpis.run(["revenue", "sends"], by="campaign"), "campaign")
    assert by_campaign["E1"] == {"revenue": 100, "sends": 4}
    assert by_campaign["S1"]["revenue"] == 80
    window = platform.kpis.run(["revenue"], since=at(3), until=at(10))
    assert window["rows"][0]["kpis"]["revenue"]["value"] == 130
    only = platform.kpis.run(["revenue"], channel="search")
    assert only["rows"][0]["kpis"]["revenue"]["value"] == 80


def test_two_periods_compared_with_the_noise_test(platform: Platform) -> None:
    result = platform.kpis.compare(["deals", "revenue"], since=at(3), until=at(6))
    assert result["b"]["since"] == at(0) and result["b"]["until"] == at(3)
    deals = next(r for r in result["rows"] if r["kpi"] == "deals")
    # ann and dan in the last three days, cat in the three before.
    assert (deals["a"], deals["b"], deals["change"], deals["relative_change"]) == (2, 1, 1, 1)
    assert deals["test"] == "poisson exact" and deals["p_value"] == 1.0
    assert deals["significant"] is False
    revenue = next(r for r in result["rows"] if r["kpi"] == "revenue")
    assert revenue["a"] == 130 and revenue["test"] == "compound poisson z"


def test_channels_compared_against_a_baseline(platform: Platform) -> None:
    result = platform.kpis.compare(
        ["ctr"], since=T0, until=at(10), across="channel", baseline="search"
    )
    email = next(r for r in result["rows"] if r["group"] == {"channel": "email"})
    assert email["a"] == 0.25 and email["b"] == 0.01
    assert email["test"] == "two-proportion z" and email["significant"] is True
    with pytest.raises(ValidationError) as bad:
        platform.kpis.compare(["ctr"], since=T0, until=at(10), across="channel", baseline="tv")
    assert bad.value.field == "baseline" and "email" in bad.value.accepted


def test_channel_coverage_counts_addresses_and_consent(kpi_home: Path) -> None:
    with Platform.open(kpi_home) as platform:
        with platform.opstore.session() as session:
            set_consent(
                session,
                subject_type="user_id",
                subject_value="bob",
                channel="inbox",
                status="unsubscribed",
                source="test",
                actor="test",
            )
        rows = {r["channel"]: r for r in platform.kpis.channel_coverage()["channels"]}
    # Every user's id is an inbox address; bob opted out; nobody has an email identifier.
    assert rows["inbox"]["addressable"] == 4 and rows["inbox"]["reachable"] == 3
    assert rows["email"]["addressable"] == 0
    assert rows["push"]["status"] == "no_data" and rows["push"]["reason"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"by": "country"}, "by"),
        ({"period": "year"}, "period"),
        ({"kpis": "ctr,nope"}, "kpis"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "since"),
        ({"since": "last tuesday"}, "since"),
        ({"kpis": "audience_coverage"}, "segment"),
    ],
)
def test_bad_input_names_the_field(platform: Platform, args: dict[str, Any], field: str) -> None:
    kpis = args.pop("kpis", None)
    with pytest.raises(ValidationError) as bad:
        platform.kpis.run(kpis, **args)
    assert bad.value.field == field


def test_the_cli_prints_the_same_kpis(kpi_home: Path) -> None:
    home = ["--home", str(kpi_home)]
    shown = CliRunner().invoke(
        cli, [*home, "kpis", "show", "-k", "ctr,revenue", "--by", "channel", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = {r["group"]["channel"]: r["kpis"] for r in json.loads(shown.output)["rows"]}
    assert rows["email"]["ctr"]["value"] == 0.25
    table = CliRunner().invoke(cli, [*home, "kpis", "show", "-k", "interactions"])
    assert table.exit_code == 0 and "no data" in table.output
    compare = CliRunner().invoke(
        cli,
        [*home, "kpis", "compare", "-k", "deals", "--since", "2026-03-05", "--until", "2026-03-08"],
    )
    assert compare.exit_code == 0 and "KPI comparison" in compare.output
    listed = CliRunner().invoke(cli, ["kpis", "list", "--json"])
    assert {"ctr", "roas", "cac", "clv", "audience_coverage"} <= {
        k["name"] for k in json.loads(listed.output)
    }


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with Warehouse.open(f"duckdb:///{tmp_path_factory.mktemp('sql') / 'k.duckdb'}") as opened:
        yield opened


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_the_facts_query_matches_its_snapshot(empty: Warehouse, dialect: str) -> None:
    query = Query(since=T0, until=at(30), by=("channel", "campaign"), period="week")
    expr = measure_rows(empty, load_rules(), query)
    text = str(ibis.to_sql(expr, dialect=dialect)).strip() + "\n"
    snapshot = SNAPSHOTS / f"kpi_measures.{dialect}.sql"
    if os.environ.get("OMNI_UPDATE_SNAPSHOTS") or not snapshot.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_bytes(text.encode())
    assert text == snapshot.read_bytes().decode(), f"compiled SQL changed: see {snapshot}"


def test_the_duckdb_snapshot_runs_on_its_engine(empty: Warehouse) -> None:
    text = (SNAPSHOTS / "kpi_measures.duckdb.sql").read_bytes().decode()
    assert empty.con.sql(text).to_pyarrow().num_rows == 0


def test_the_same_kpis_on_duckdb_and_postgresql(warehouse_url: str) -> None:
    from omnichannel.analytics.kpis.service import KpiQuery

    with Warehouse.open(warehouse_url) as wh:
        build_kpi_world(wh)
        runner = KpiQuery.of(
            ["ctr", "open_rate", "deal_rate", "revenue", "roas"], by="channel", period="week"
        )
        got = {
            (r["group"]["channel"], r["period"]): {k: v["value"] for k, v in r["kpis"].items()}
            for r in runner.run(wh, load_rules())["rows"]
        }
    assert got[("email", "2026-03-02")] == {
        "ctr": 0.25,
        "open_rate": 0.5,
        "deal_rate": 0.25,
        "revenue": 100,
        "roas": 5,
    }
    assert got[("search", "2026-03-02")]["roas"] == 0.4


def test_audience_coverage_is_the_reached_share_of_the_segment(kpi_home: Path) -> None:
    import pyarrow as pa

    with Platform.open(kpi_home) as platform:
        with platform.warehouse.writer() as wh:
            pi = wh.table("profile_identifiers")
            ids = pi.filter(pi.id_type == "user_id").to_pyarrow().to_pylist()
            profile = {r["id_value"]: r["profile_id"] for r in ids}
            members = [profile["cat"], profile["dan"]]
            wh.append(
                "segment_memberships",
                pa.table({"segment": ["vip"] * 2, "profile_id": members, "entered_at": [T0] * 2}),
            )
        search = platform.kpis.run("audience_coverage", segment="vip", channel="search")
        anyone = platform.kpis.run("audience_coverage,reach", segment="vip")
        unknown = platform.kpis.run("audience_coverage", segment="nobody")
    # cat visited from the search campaign; dan got the email: both reached, one by search.
    assert search["rows"][0]["kpis"]["audience_coverage"]["value"] == 0.5
    assert search["parameters"]["segment_size"] == 2
    assert anyone["rows"][0]["kpis"]["audience_coverage"]["value"] == 1.0
    assert "nobody" in unknown["no_data"]["audience_coverage"]
