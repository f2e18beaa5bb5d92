"""Person-level paths from the warehouse, ``platform.attribution``, ``omni attribution``,
and the compiled SQL of the paths query (snapshotted, PostHog style).

Refresh the snapshots with ``OMNI_UPDATE_SNAPSHOTS=1 pytest tests/analytics`` when a
change to the query is meant, and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import ibis
import pytest
from typer.testing import CliRunner

from omnichannel.analytics.attribution.touches import Window, path_rows, person_paths
from omnichannel.cli.main import app as cli
from omnichannel.errors import ValidationError
from omnichannel.identity.rules import load_rules
from omnichannel.platform import Platform
from omnichannel.warehouse import Warehouse
from tests.analytics.world import at, build_world
from tests.profiles.support import T0

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def platform(world_home: Path) -> Iterator[Platform]:
    with Platform.open(world_home) as opened:
        yield opened


def named_paths(
    platform: Platform, **window: Any
) -> list[tuple[tuple[str, ...], float, float, float]]:
    paths, _ = platform.attribution.paths(**window)
    out = []
    for i in range(paths.n_paths):
        codes = paths.touches[paths.offsets[i] : paths.offsets[i + 1]]
        out.append(
            (
                tuple(paths.channels[c] for c in codes),
                float(paths.conversions[i]),
                float(paths.value[i]),
                float(paths.nulls[i]),
            )
        )
    return sorted(out)


def test_each_persons_touches_before_each_purchase_make_a_path(platform: Platform) -> None:
    assert named_paths(platform, lookback_days=10) == [
        # ann: two search page views are one touch; her open is no touch; she then came
        # back directly and did not buy again (a null).
        (("direct",), 0.0, 0.0, 1.0),
        # bob: his search visit is 24 days before his order, outside 10 days.
        (("direct",), 1.0, 50.0, 0.0),
        (("search", "email", "direct"), 1.0, 100.0, 0.0),
        # dan: the SMS he clicked (the sent step is no touch).
        (("sms",), 1.0, 30.0, 0.0),
        # cat: a kiosk visit, then the flyer's coupon on her store order.
        (("store", "offline_flyer"), 1.0, 80.0, 0.0),
    ]
    # Nulls have a lookback too: ann's direct visit is 7.4 days before the data's end.
    assert (("direct",), 0.0, 0.0, 1.0) not in named_paths(platform, lookback_days=5)
    longer = named_paths(platform, lookback_days=30)
    assert (("search", "direct"), 1.0, 50.0, 0.0) in longer


def test_the_same_paths_on_every_engine(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        build_world(wh)
        paths, untouched = person_paths(wh, load_rules(), Window(lookback_days=10))
    named = sorted(
        (
            tuple(
                paths.channels[c] for c in paths.touches[paths.offsets[i] : paths.offsets[i + 1]]
            ),
            float(paths.conversions[i]),
            float(paths.value[i]),
        )
        for i in range(paths.n_paths)
    )
    assert named == [
        (("direct",), 0.0, 0.0),
        (("direct",), 1.0, 50.0),
        (("search", "email", "direct"), 1.0, 100.0),
        (("sms",), 1.0, 30.0),
        (("store", "offline_flyer"), 1.0, 80.0),
    ]
    assert untouched == 0


def test_since_keeps_conversions_from_then_and_their_earlier_touches(platform: Platform) -> None:
    got = named_paths(platform, lookback_days=30, since=at(6))
    assert [p for p in got if p[1]] == [
        (("search", "direct"), 1.0, 50.0, 0.0),
        (("sms",), 1.0, 30.0, 0.0),
        (("store", "offline_flyer"), 1.0, 80.0, 0.0),
    ]


def test_run_credits_channels_and_joins_spend_for_roas_and_cpa(platform: Platform) -> None:
    result = platform.attribution.run("first_touch", lookback_days=10)
    rows = {r["channel"]: r for r in result["channels"]}
    assert result["conversions"] == 4 and result["value"] == 260
    assert {c: r["conversions"] for c, r in rows.items()} == {
        "search": 1.0,
        "store": 1.0,
        "direct": 1.0,
        "sms": 1.0,
        "email": 0.0,
        "offline_flyer": 0.0,
    }
    assert rows["search"]["spend"] == 300 and rows["search"]["roas"] == pytest.approx(1 / 3, 1e-3)
    assert rows["search"]["cpa"] == 300
    assert rows["offline_flyer"]["roas"] == 0 and rows["offline_flyer"]["cpa"] is None
    assert rows["direct"]["spend"] is None
    markov = platform.attribution.run("markov", lookback_days=10)
    # P(conversion) = 2/5 * 2/3 (direct) + 1/5 * 2/3 (search > email > direct) + 1/5 (store >
    # flyer) + 1/5 (sms) = 4/5; without the flyer cat's path ends in null: 3/5, effect 1/4.
    assert markov["details"]["conversion_probability"] == pytest.approx(0.8)
    assert markov["details"]["removal_effects"]["offline_flyer"] == pytest.approx(0.25)


def test_omni_attribution_on_the_installation_and_on_a_file(
    world_home: Path, tmp_path: Path
) -> None:
    home = ["--home", str(world_home)]
    shown = CliRunner().invoke(
        cli, [*home, "attribution", "--model", "last_touch", "--lookback-days", "10", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    got = {r["channel"]: r["conversions"] for r in json.loads(shown.output)["channels"]}
    assert got["direct"] == 2 and got["offline_flyer"] == 1
    table = CliRunner().invoke(cli, [*home, "attribution", "--model", "linear"])
    assert table.exit_code == 0 and "linear attribution" in table.output
    file = tmp_path / "p.csv"
    file.write_text("path,conversions,nulls\nc1 > c2 > c3,1,0\nc1,0,1\nc2 > c3,0,1\n")
    markov = CliRunner().invoke(cli, ["attribution", "--paths", str(file), "--json"])
    assert markov.exit_code == 0, markov.output
    shares = {r["channel"]: r["conversions"] for r in json.loads(markov.output)["channels"]}
    assert shares == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})
    # An OmniError: `omni` (cli.main.main) prints it as one line, exit code 1.
    bad = CliRunner().invoke(cli, ["attribution", "--paths", str(file), "--sep", "|"])
    assert isinstance(bad.exception, ValidationError) and bad.exception.field == "sep"


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with Warehouse.open(f"duckdb:///{tmp_path_factory.mktemp('sql') / 'w.duckdb'}") as opened:
        yield opened


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_the_paths_query_matches_its_snapshot(empty: Warehouse, dialect: str) -> None:
    window = Window(lookback_days=30, since=T0)
    expr = path_rows(empty, load_rules(), window, until=T0 + timedelta(days=90))
    text = str(ibis.to_sql(expr, dialect=dialect)).strip() + "\n"
    snapshot = SNAPSHOTS / f"person_paths.{dialect}.sql"
    if os.environ.get("OMNI_UPDATE_SNAPSHOTS") or not snapshot.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_bytes(text.encode())
    # Bytes: the SQL holds a carriage return (TRIM's whitespace list) that text mode changes.
    assert text == snapshot.read_bytes().decode(), f"compiled SQL changed: see {snapshot}"


def test_the_duckdb_snapshot_runs_on_its_engine(empty: Warehouse) -> None:
    text = (SNAPSHOTS / "person_paths.duckdb.sql").read_bytes().decode()
    assert empty.con.sql(text).to_pyarrow().num_rows == 0
