"""Stock levels, the ledger and reservations on SQLite and PostgreSQL: no oversell under
parallel clients, replays that change nothing, holds that expire and give stock back."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from omnichannel.commerce.inventory import Inventory, Movement, NotAvailableError
from omnichannel.errors import ValidationError
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.database import create_opstore_engine
from omnichannel.platform import Platform
from tests.commerce.conftest import store_url

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpStore]:
    """One migrated store per database for the module; each test has its own SKU."""
    url = store_url(request, tmp_path_factory)
    with open_opstore(url) as opened:
        yield opened


@pytest.fixture
def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:8]}"


def _stocked(store: OpStore, sku: str, units: int, *, safety: int = 0) -> Inventory:
    stock = Inventory(store)
    stock.put_location("sh-1", kind="store", name="Shanghai 1")
    stock.apply([Movement(f"recv:{sku}", "sh-1", sku, "receipt", units, occurred_at=T0)])
    if safety:
        stock.set_safety_stock("sh-1", sku, safety)
    return stock


@pytest.mark.slow(seconds=6)
def test_parallel_clients_reserving_the_last_units_get_exactly_what_is_there(
    store: OpStore, sku: str
) -> None:
    # 7 units, 2 held back as safety stock: 5 may be promised, to 16 clients asking for 1.
    _stocked(store, sku, 7, safety=2)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def client(n: int) -> None:
        # Each client its own engine and connections, as separate processes would have.
        # (the schema is migrated: a bare engine, as a second server process would have)
        with OpStore(store.url, create_opstore_engine(store.url), store.revision, None) as own:
            stock = Inventory(own)
            start.wait()
            try:
                stock.reserve(sku, 1, location="sh-1", key=f"cart-{n}:{sku}")
                outcome = "granted"
            except NotAvailableError:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("granted") == 5
    assert outcomes.count("refused") == 11
    level = Inventory(store).level("sh-1", sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (7, 5, 0)


def test_the_store_itself_refuses_a_write_that_would_oversell(store: OpStore, sku: str) -> None:
    _stocked(store, sku, 3)
    with pytest.raises(Exception, match=r"(?i)check|constraint"), store.engine.begin() as con:
        con.execute(text("UPDATE stock_levels SET reserved = 4 WHERE sku = :s"), {"s": sku})


def test_a_replayed_stock_file_changes_nothing(store: OpStore, sku: str) -> None:
    stock = _stocked(store, sku, 10)
    pos = [
        Movement(f"pos:T9:1:{sku}", "sh-1", sku, "sale", 2, occurred_at=T0 + timedelta(hours=1)),
        Movement(f"pos:T9:2:{sku}", "sh-1", sku, "sale", 1, occurred_at=T0 + timedelta(hours=2)),
        Movement(f"count:1:{sku}", "sh-1", sku, "count", 6, occurred_at=T0 + timedelta(hours=3)),
    ]
    first = stock.apply(pos)
    assert (first.applied, first.already_applied) == (3, 0)
    ledger = stock.movements(sku=sku)
    again = stock.apply(list(reversed(pos)))
    assert (again.applied, again.already_applied) == (0, 3)
    assert stock.level("sh-1", sku)["on_hand"] == 6
    assert stock.movements(sku=sku) == ledger  # not one ledger row more
    # Applied in time order whatever the file order: the count comes last.
    assert [m["kind"] for m in ledger] == ["receipt", "sale", "sale", "count"]
    assert [m["on_hand_after"] for m in ledger] == [10, 8, 7, 6]


def test_an_expired_reservation_gives_its_units_back(store: OpStore, sku: str) -> None:
    now = [T0]
    stock = _stocked(store, sku, 2)
    stock.clock = lambda: now[0]
    stock.reserve(sku, 2, location="sh-1", key=f"cart-a:{sku}", ttl=timedelta(minutes=15))
    with pytest.raises(NotAvailableError, match="0 available"):
        stock.reserve(sku, 1, location="sh-1", key=f"cart-b:{sku}")
    now[0] = T0 + timedelta(minutes=16)
    held = stock.reserve(sku, 1, location="sh-1", key=f"cart-b:{sku}")  # sweeps cart-a first
    assert held["status"] == "active"
    assert [r["status"] for r in stock.reservations(sku=sku, status=None)] == ["active", "expired"]
    kinds = [m["kind"] for m in stock.movements(sku=sku)]
    assert kinds == ["receipt", "reserve", "expire", "reserve"]
    assert stock.level("sh-1", sku)["reserved"] == 1


def test_a_retried_reservation_and_release_count_once(store: OpStore, sku: str) -> None:
    stock = _stocked(store, sku, 5)
    first = stock.reserve(sku, 2, location="sh-1", key=f"order-7:{sku}")
    again = stock.reserve(sku, 2, location="sh-1", key=f"order-7:{sku}")
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert stock.level("sh-1", sku)["reserved"] == 2
    assert stock.release(f"order-7:{sku}")["changed"] is True
    assert stock.release(f"order-7:{sku}")["changed"] is False
    assert stock.level("sh-1", sku)["reserved"] == 0


def test_bad_input_names_the_field(store: OpStore, sku: str) -> None:
    stock = _stocked(store, sku, 5)
    with pytest.raises(ValidationError, match="quantity=0"):
        stock.reserve(sku, 0, location="sh-1", key=f"k:{sku}")
    report = stock.apply([Movement(f"m1:{sku}", "nowhere", sku, "receipt", 1)])
    assert report.refused == [
        {"key": f"m1:{sku}", "reason": "location 'nowhere' is not a stock location"}
    ]
    report = stock.apply([Movement(f"m2:{sku}", "sh-1", sku, "teleport", 1)])
    assert "kind='teleport'" in report.refused[0]["reason"]


def test_available_to_promise_of_the_whole_catalogue_agrees_with_each_skus_own(
    platform: Platform,
) -> None:
    from omnichannel.commerce.catalogue import DEFAULT_LISTED

    stock = platform.commerce.inventory
    stock.reserve("LP-A", 3, location="st-nanjing", key="atp-1")
    platform.commerce.catalogue.upsert(
        {"sku": "LP-A", "channel": "tmall", "channel_sku": "TM-A", "listed": True},
        source="test",
    )
    every = {row["sku"]: row for row in stock.available_to_promise()}
    assert set(every) == {"LP-A", "LP-B", "LP-C", "LP-D"}  # LP-E is stocked nowhere
    for sku, row in every.items():
        one = stock.show(sku)["channels"]
        assert {c: row[c] for c in one} == {c: v["available"] for c, v in one.items()}, sku
    assert every["LP-A"]["web"] == 2 + 5 + 9 + 50 and every["LP-A"]["store"] == 2 + 5 + 9
    assert every["LP-A"]["tmall"] == every["LP-A"]["web"] and every["LP-D"]["jd"] == 0
    assert "store" in DEFAULT_LISTED
    places = {p["location_id"]: p for p in stock.by_location()}
    assert places["st-nanjing"]["reserved"] == 3 and places["st-nanjing"]["available"] == 2 + 2
    assert places["tr-truck"]["on_hand"] == 30
