"""The build's ``profile_devices``: every device combination a person's events came from."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pyarrow as pa

from omnichannel.identity.resolve import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.traits.devices import DEVICES_TABLE
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, T0, add_identities


def _app_event(user: str, day: int, **device: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if "version" in device:
        context["app"] = {"version": device["version"]}
    if "token" in device:
        context["device"] = {"token": device["token"]}
    return {
        "user": user,
        "at": T0 + timedelta(days=day),
        "os": device.get("os"),
        "type": device.get("type"),
        "app": device.get("app"),
        "context": json.dumps(context) if context else None,
    }


EVENTS = [
    # ann: two events from her iPhone app with a push token, one after an app update
    # without it, one from a browser that reports nothing.
    _app_event("ann", 1, os="iOS", type="mobile", app="Shop", version="2.4.0", token="t-1"),
    _app_event("ann", 5, os="iOS", type="mobile", app="Shop", version="2.4.0", token="t-1"),
    _app_event("ann", 9, os="iOS", type="mobile", app="Shop", version="2.5.0"),
    _app_event("ann", 12),
    # bob: an Android app whose token is blank (not a token).
    _app_event("bob", 3, os="Android", type="mobile", app="Shop", version="2.3.1", token="  "),
]


def _business(wh: Warehouse) -> None:
    add_identities(wh, ["ann", "bob"])
    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"m{i}" for i in range(len(EVENTS))],
                "type": ["track"] * len(EVENTS),
                "event": ["Screen Viewed"] * len(EVENTS),
                "user_id": [e["user"] for e in EVENTS],
                "timestamp": [e["at"] for e in EVENTS],
                "source": ["app"] * len(EVENTS),
                "channel": ["app"] * len(EVENTS),
                "context_os_name": [e["os"] for e in EVENTS],
                "context_device_type": [e["type"] for e in EVENTS],
                "context_app_name": [e["app"] for e in EVENTS],
                "context": [e["context"] for e in EVENTS],
                "loaded_at": [e["at"] for e in EVENTS],
            }
        ),
    )
    resolve(wh)


def _devices(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    pi = wh.table("profile_identifiers")
    users = {
        r["profile_id"]: r["id_value"]
        for r in pi.filter(pi.id_type == "user_id").to_pyarrow().to_pylist()
    }
    found: dict[str, list[tuple[Any, ...]]] = {}
    for r in wh.con.table(DEVICES_TABLE).to_pyarrow().to_pylist():
        found.setdefault(users[r["profile_id"]], []).append(
            (
                r["os_name"],
                r["app_version"],
                r["push_token"],
                r["events"],
                (r["first_seen"] - T0).days,
                (r["last_seen"] - T0).days,
            )
        )
    return {user: sorted(rows, key=str) for user, rows in found.items()}


def test_each_device_combination_is_counted_with_its_first_and_last_time(tmp_path: Any) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        _business(wh)
        build_profiles(wh, as_of=AS_OF)
        assert _devices(wh) == {
            "ann": [
                ("iOS", "2.4.0", True, 2, 1, 5),
                ("iOS", "2.5.0", False, 1, 9, 9),
                (None, None, False, 1, 12, 12),  # the browser: a combination of nothing
            ],
            "bob": [("Android", "2.3.1", False, 1, 3, 3)],  # a blank token is no token
        }


def test_a_warehouse_built_before_the_summary_existed_is_rebuilt_once(tmp_path: Any) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}") as wh:
        _business(wh)
        build_profiles(wh, as_of=AS_OF)
        wh.con.drop_table(DEVICES_TABLE)
        assert build_profiles(wh, as_of=AS_OF).status == "built"
        assert DEVICES_TABLE in wh.con.list_tables()
        assert build_profiles(wh, as_of=AS_OF).status == "unchanged"
