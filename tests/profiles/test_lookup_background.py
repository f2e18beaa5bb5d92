"""After a resolve, the identifier index is rebuilt aside while the previous one answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from omnichannel.config import Settings
from omnichannel.configuration import InstallationConfig
from omnichannel.identity import resolve
from omnichannel.profiles.lookup import ProfileLookup, ProfileNotFoundError
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess
from tests.profiles.support import add_identities


def test_requests_keep_the_previous_index_until_the_new_one_is_ready(tmp_path: Path) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    allowed = threading.Event()

    @contextmanager
    def slow_reader() -> Iterator[Warehouse]:
        allowed.wait(30)  # the rebuild may start only when the test says so
        with access.reader() as wh:
            yield wh

    config = InstallationConfig.load(Settings(home=tmp_path))
    lookup = ProfileLookup(config, check_seconds=0, rebuild_with=slow_reader)
    try:
        with access.writer() as wh:
            add_identities(wh, ["u1"])
            resolve(wh, full=True)
        with access.reader() as wh:
            first = lookup.find(wh, "user_id:u1")  # the first index is built in the request
            add_identities(wh, ["u2"])
            resolve(wh)
            # The identity tables changed: the rebuild starts aside, the old index answers.
            assert lookup.find(wh, "user_id:u1").profile_id == first.profile_id
            assert lookup.rebuilding.is_set()
            with pytest.raises(ProfileNotFoundError):
                lookup.find(wh, "user_id:u2")
        allowed.set()
        for _ in range(300):
            if not lookup.rebuilding.is_set():
                break
            threading.Event().wait(0.1)
        with access.reader() as wh:
            assert lookup.find(wh, "user_id:u2").id_value == "u2"
    finally:
        allowed.set()
        access.close()


def test_the_check_for_a_new_resolve_runs_aside_and_never_inside_a_request(
    tmp_path: Path,
) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    lent, allowed = threading.Event(), threading.Event()

    @contextmanager
    def slow_reader() -> Iterator[Warehouse]:
        lent.set()
        allowed.wait(30)  # the check cannot end before the test says so
        with access.reader() as wh:
            yield wh

    config = InstallationConfig.load(Settings(home=tmp_path))
    lookup = ProfileLookup(config, check_seconds=0, rebuild_with=slow_reader)
    try:
        with access.writer() as wh:
            add_identities(wh, ["u1"])
            resolve(wh, full=True)
        with access.reader() as wh:
            first = lookup.find(wh, "user_id:u1")  # the first index is built in the request
            # Nothing changed, but the check is due: the request answers from the index
            # while the check waits for the reader lent to it, on another thread.
            assert lookup.find(wh, "user_id:u1") == first
            assert lent.wait(30), "the identity tables were not checked on the lent reader"
            assert lookup.rebuilding.is_set()
            assert lookup.find(wh, "user_id:u1") == first
        allowed.set()
        for _ in range(300):
            if not lookup.rebuilding.is_set():
                break
            threading.Event().wait(0.1)
        assert not lookup.rebuilding.is_set()
    finally:
        allowed.set()
        lookup.close()
        access.close()


def test_the_lookup_index_name_is_the_one_the_build_creates() -> None:
    from omnichannel.profiles.lookup import INDEX_NAME
    from omnichannel.warehouse.replace import index_name

    assert index_name("profiles", ("profile_id",)) == INDEX_NAME
