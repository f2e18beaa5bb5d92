"""Signed tracking links: they read back, cannot be altered or reused as another kind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from omnichannel.channels.tracking import InvalidLinkError, Tracking, load_secret

TRACKING = Tracking(b"secret", "https://shop.example/")


def test_a_click_link_carries_its_target_and_cannot_be_pointed_elsewhere() -> None:
    url = TRACKING.click_url(9, "https://shop.example/sale")
    assert url.startswith("https://shop.example/t/c/")
    token = url.rsplit("/", 1)[1]
    assert TRACKING.read(token, "click").url == "https://shop.example/sale"
    signature = token.split(".")[1]
    evil = Tracking(b"secret", "x").token("click", 9, "https://evil.example")
    with pytest.raises(InvalidLinkError, match="signature does not match"):
        TRACKING.read(f"{evil.split('.')[0]}.{signature}", "click")
    with pytest.raises(InvalidLinkError):
        Tracking(b"other secret", "x").read(token, "click")


def test_an_open_link_is_not_an_unsubscribe_link() -> None:
    token = TRACKING.open_url(5).rsplit("/", 1)[1]
    assert TRACKING.read(token, "open").outbox_id == 5
    with pytest.raises(InvalidLinkError):
        TRACKING.read(token, "unsubscribe")
    with pytest.raises(InvalidLinkError, match="malformed"):
        TRACKING.read("not-a-token", "open")


def test_the_generated_key_is_private_and_kept(tmp_path: Path) -> None:
    first = load_secret(tmp_path / "home")
    assert load_secret(tmp_path / "home") == first and len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "home" / "tracking.key").stat().st_mode)
    assert mode == 0o600
    assert load_secret(tmp_path / "home", "from-channels-yaml") == b"from-channels-yaml"
