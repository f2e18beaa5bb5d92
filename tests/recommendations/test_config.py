"""recommendations.yaml: defaults without a file, and errors that name the bad path."""

from __future__ import annotations

import pytest

from omnichannel.errors import ConfigError, ValidationError
from omnichannel.recommendations.config import RecommendationsConfig, parse_config


def test_a_missing_file_gives_the_four_slots_with_their_defaults() -> None:
    config = RecommendationsConfig()
    assert set(config.slots) == {"email", "home", "push", "in_app"}
    assert config.slot(None).name == "email" and config.slot("push").k == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slots:\n  email: {k: 0}\n", "slots.email.k=0 is not accepted: expected a whole number"),
        ("slots:\n  sms: {k: 2}\n", "slots.sms="),
        ("weights: {view: -1}\n", "weights.view=-1 is not accepted"),
        ("algorithm: svd\n", "algorithm='svd' is not accepted: expected one of als, bpr"),
        ("slots:\n  home: {max_per_category: two}\n", "slots.home.max_per_category='two'"),
        ("colour: blue\n", "colour='blue' is not accepted: expected no such key"),
    ],
)
def test_a_bad_value_is_refused_naming_its_path(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"recommendations\.yaml: ") as caught:
        parse_config(text)
    assert message in str(caught.value)


def test_a_slot_is_overridden_key_by_key_and_an_unknown_slot_is_named() -> None:
    config = parse_config("slots:\n  home: {k: 20, exclude_viewed: true}\n")
    home = config.slot("home")
    assert (home.k, home.exclude_viewed, home.max_per_category) == (20, True, 3)
    with pytest.raises(ValidationError, match=r"slot=.banner. .* one of email, home, push"):
        config.slot("banner")
