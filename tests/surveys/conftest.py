"""Fixtures of the surveys' tests: the channels' small installation of people (ann, bob,
cy, eve; identity resolved), copied per test, with a survey defined.

ann and bob have user ids, emails and events; a survey's answers name them by user id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.channels.conftest import people_home, people_template

__all__ = ["people_home", "people_template"]

NPS = """
name: store-nps
kind: nps
title: {en: "How did we do?", zh: 我们做得怎么样}
resurvey_after: 30d
questions:
  - id: score
    type: scale
    min: 0
    max: 10
    required: true
    text: {en: "How likely are you to recommend us to a friend?", zh: 您有多大可能向朋友推荐我们}
  - id: why
    type: text
    show_if: {question: score, lte: 6}
    text: {en: "What went wrong?", zh: 哪里做得不好}
  - id: topics
    type: multiple
    text: {en: "What was it about?", zh: 关于什么}
    options:
      - {value: staff, label: {en: Staff, zh: 店员}}
      - {value: price, label: {en: Price, zh: 价格}}
"""

INVITE = {
    "subject": "How did we do?",
    "text": "Tell us: {{ survey_link }}",
}


@pytest.fixture
def platform(people_home: tuple[Path, dict[str, str]]) -> Iterator[Platform]:
    """The people's installation with email at its defaults and a marketing cap of 3 a week."""
    with Platform(Settings(home=people_home[0])) as opened:
        opened.messages.use_config(
            parse_channels_config(
                "public_base_url: https://shop.example\n"
                "caps: {marketing: [{count: 3, per: 7d}]}\n"
                "quiet_hours: {start: '00:00', end: '00:00'}\n"
            )
        )
        opened.surveys.create(NPS, actor="ana@shop.example")
        yield opened


@pytest.fixture
def ids(people_home: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return people_home[1]
