"""Fixtures of the channel core's tests: a small installation of people, copied per test,
a real webhook receiver, and channel settings with short timeouts and backoff.

The people (built once per session, identity resolved; no profile build, which the send
path does not need): ann (ann@mail.cn, +8613800000001, events in Asia/Shanghai),
bob (bob@mail.cn, events in America/New_York), cy (cy@mail.cn, no events),
eve (no email, no phone). Each test gets its own copy of the home, so consent,
suppressions and the outbox of one test are never seen by another.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omnichannel.channels.settings import ChannelsConfig, parse_channels_config
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform
from tests.channels.servers.webhook_receiver import SECRET, WebhookReceiver
from tests.profiles.support import T0, add_events

PEOPLE: dict[str, list[tuple[str, str]]] = {
    "ann": [("email", "ann@mail.cn"), ("phone", "+8613800000001")],
    "bob": [("email", "bob@mail.cn")],
    "cy": [("email", "cy@mail.cn")],
    "eve": [],
}
ZONES = {"ann": "Asia/Shanghai", "bob": "America/New_York"}


@pytest.fixture(scope="session")
def people_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(home, user -> profile_id), built once; tests use copies (``people_home``)."""
    home = tmp_path_factory.mktemp("channels-template") / "home"
    settings = Settings(home=home)
    initialise(settings)
    with Platform(settings) as platform:
        with platform.warehouse.writer() as wh:
            rows: dict[str, list[Any]] = {"record_id": [], "id_type": [], "id_value": []}
            for user, ids in PEOPLE.items():
                for id_type, value in [("user_id", user), *ids]:
                    rows["record_id"].append(f"c-{user}")
                    rows["id_type"].append(id_type)
                    rows["id_value"].append(value)
            n = len(rows["record_id"])
            wh.append(
                "identifiers", pa.table({"source": ["crm"] * n, **rows, "observed_at": [T0] * n})
            )
            add_events(
                wh,
                [
                    {"user": user, "at": T0 + timedelta(hours=i), "tz": zone}
                    for i, (user, zone) in enumerate(ZONES.items())
                ],
            )
        platform.identity.resolve()
        with platform.warehouse.reader() as wh:
            pi = wh.table("profile_identifiers")
            users = pi.filter(pi.id_type == "user_id").select("profile_id", "id_value")
            ids_by_user = {r["id_value"]: r["profile_id"] for r in users.to_pyarrow().to_pylist()}
    return home, ids_by_user


@pytest.fixture
def people_home(
    people_template: tuple[Path, dict[str, str]], tmp_path: Path
) -> tuple[Path, dict[str, str]]:
    """A copy of the people's home for this test alone."""
    source, ids = people_template
    home = tmp_path / "home"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("server.json", "*.wal"))
    return home, ids


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver().running() as running:
        yield running


def channels_yaml(receiver: WebhookReceiver | None = None, extra: str = "") -> str:
    """A channels.yaml with fast retries and the receiver's endpoints (ok, fail, ...)."""
    # Without a receiver the endpoints point at a closed port: nothing is sent there.
    base = receiver.base_url if receiver is not None else "http://127.0.0.1:9"
    endpoints = "".join(
        f"    {name}: {{url: '{base}/{name}/hook', secret: '{SECRET}'}}\n"
        for name in ("ok", "fail", "throttle", "hang", "gone", "flaky")
    )
    return (
        "webhook:\n"
        "  timeout: 0.5\n"
        "  rate_per_second: 2000\n"
        "  concurrency: 16\n"
        "  retry: {max_attempts: 3, base: 0.05, max: 0.2}\n"
        "  breaker: {failures: 3, open_for: 0.5}\n"
        "  default_endpoint: ok\n"
        "  endpoints:\n" + endpoints + extra
    )


@pytest.fixture
def open_platform(
    people_home: tuple[Path, dict[str, str]],
) -> Iterator[Callable[[str], Platform]]:
    """``open(channels_yaml_text)``: the people's installation with that configuration."""
    opened: list[Platform] = []

    def open_with(text: str) -> Platform:
        platform = Platform(Settings(home=people_home[0]))
        platform.messages.use_config(parse_channels_config(text))
        opened.append(platform)
        return platform

    yield open_with
    for platform in opened:
        platform.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy (its value is returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def settled_history(platform: Platform, outbox_id: int) -> list[dict[str, Any]]:
    """The message's delivery log once its last row is the message's state (the log is
    written just after the state, within half a second)."""

    def ready() -> list[dict[str, Any]] | None:
        message = platform.messages.get(outbox_id)
        history = message["history"]
        return history if history and history[-1]["status"] == message["status"] else None

    return list(wait_for(ready, what=f"message {outbox_id}'s log"))


def config_of(text: str) -> ChannelsConfig:
    return parse_channels_config(text)
