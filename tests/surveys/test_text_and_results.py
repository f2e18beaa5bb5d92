# ruff: noqa: RUF001 - Chinese answers are written with Chinese punctuation
"""Free text (jieba for Chinese, a plain split for English, log-odds keywords, lexicon
sentiment) and the figures' intervals (NPS multinomial, CSAT Wilson, before/after)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from omnichannel.surveys import stats, text


@pytest.mark.slow(seconds=8)
def test_chinese_is_segmented_into_words_and_english_split_without_stop_words() -> None:
    assert text.tokens("店员很热情，结账很快") == ["店员", "热情", "结账", "很快"]
    assert text.tokens("The staff were not helpful!") == ["staff", "not", "helpful"]


def test_sentiment_reads_negation_in_both_languages() -> None:
    assert text.label(text.sentiment("Friendly staff, fast checkout")) == "positive"
    assert text.label(text.sentiment("The staff were not helpful")) == "negative"
    assert text.label(text.sentiment("排队太久，态度差")) == "negative"
    assert text.label(text.sentiment("不满意")) == "negative"
    assert text.label(text.sentiment("店员很热情")) == "positive"
    assert text.label(text.sentiment("I bought socks")) == "neutral"


def test_keywords_are_what_a_group_says_more_than_the_others() -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        *(
            {"store": "sh-01", "text": t, "started_at": at}
            for t in ["long queue", "queue again", "slow queue"]
        ),
        *(
            {"store": "bj-02", "text": t, "started_at": at + timedelta(days=40)}
            for t in ["rude staff", "staff rude", "great price"]
        ),
    ]
    by_store = text.summarise(rows, by="store", period="month", top=2)
    words = {g["group"]: [k["word"] for k in g["keywords"]] for g in by_store["groups"]}
    assert words["sh-01"][0] == "queue" and "staff" in words["bj-02"]
    by_month = text.summarise(rows, by="period", period="month", top=3)
    assert [g["group"] for g in by_month["groups"]] == ["2026-11", "2026-12"]
    assert by_month["groups"][0]["negative"] >= 1


def test_nps_interval_is_the_multinomial_one_and_csat_the_wilson_one() -> None:
    scores = [10] * 50 + [8] * 30 + [3] * 20  # promoters .5, detractors .2: NPS 30
    nps = stats.nps_of(scores)
    half = stats.Z95 * 100 * math.sqrt((0.5 + 0.2 - 0.3**2) / 100)
    assert nps["value"] == 30.0 and abs(nps["high"] - (30 + half)) < 0.01
    low, high = stats.wilson(40, 50)
    assert round(low, 4) == 0.6696 and round(high, 4) == 0.8876  # as statsmodels' wilson
    csat = stats.csat_of([5] * 40 + [2] * 10)
    assert (csat["value"], csat["low"], csat["high"]) == (80.0, 66.96, 88.76)


def test_a_change_is_beyond_noise_only_when_the_difference_outruns_the_intervals() -> None:
    before = stats.nps_of([10] * 30 + [8] * 40 + [3] * 30)  # NPS 0
    after_big = stats.nps_of([10] * 60 + [8] * 30 + [3] * 10)  # NPS 50
    after_small = stats.nps_of([10] * 32 + [8] * 40 + [3] * 28)  # NPS 4
    assert stats.compare(before, after_big)["beyond_noise"] is True
    small = stats.compare(before, after_small)
    assert small["beyond_noise"] is False and small["low"] < 0 < small["high"]
