"""The shipped ready-made segments: all there, editable, and right on the five-person business."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnichannel.errors import ValidationError
from omnichannel.profiles.traits.rfm import SEGMENTS
from omnichannel.segments.compile import members
from omnichannel.segments.definition import parse_definition
from omnichannel.segments.ready_made import ready_made, ready_made_text
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import NOW, build_business, profile_of


def test_every_rfm_label_and_decile_is_shipped() -> None:
    shipped = ready_made()
    labels = {d.condition.trait.equals for n, d in shipped.items() if n.startswith("rfm-")}  # type: ignore[union-attr]
    assert labels == {name for _, _, name in SEGMENTS}
    assert [n for n in shipped if n.startswith("clv-decile-")] == [
        f"clv-decile-{d:02d}" for d in range(1, 11)
    ]
    for name in (
        "lapsing-customers",
        "new-customers",
        "returning-customers",
        "store-only-shoppers",
        "online-only-shoppers",
        "omnichannel-shoppers",
        "app-users-without-push-consent",
    ):
        assert name in shipped


def test_the_text_is_editable_and_parses_back() -> None:
    text = ready_made_text("lapsing-customers")
    assert text.startswith("#")  # the comments ship with it
    edited = parse_definition(text.replace("last_days: 90", "last_days: 60"))
    assert edited.name == "lapsing-customers"
    with pytest.raises(ValidationError):
        ready_made_text("no-such-segment")


@pytest.fixture(scope="module")
def five(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The five-person business of the compile tests, where the answers are obvious."""
    with Warehouse.open(f"duckdb:///{tmp_path_factory.mktemp('five') / 'w.duckdb'}") as wh:
        build_business(wh)
        yield wh


def test_every_ready_made_segment_runs_with_the_obvious_answers(five: Warehouse) -> None:
    names = {p: u for u, p in profile_of(five).items()}

    def who(segment: str) -> set[str]:
        found = members(ready_made()[segment], five, now=NOW).to_pyarrow()
        return {names[p] for p in found.column("profile_id").to_pylist()}

    everyone = {n: who(n) for n in ready_made()}  # every shipped definition compiles and runs
    assert everyone["omnichannel-shoppers"] == {"ann"}  # store and web orders
    assert everyone["online-only-shoppers"] == {"bob", "cat"}
    assert everyone["store-only-shoppers"] == set()
    assert everyone["new-customers"] == {"ann", "bob"}  # first orders 20 and 10 days ago
    assert everyone["returning-customers"] == {"ann"}  # the only one with 2+ orders
    assert everyone["lapsing-customers"] == set()
    # app users: ann (push granted) is left out, bob (no decision) and dan (denied) are in
    assert everyone["app-users-without-push-consent"] == {"bob", "dan"}
    rfm = [everyone[n] for n in ready_made() if n.startswith("rfm-")]
    assert set().union(*rfm) == {"ann", "bob", "cat"} and sum(map(len, rfm)) == 3
    deciles = [everyone[f"clv-decile-{d:02d}"] for d in range(1, 11)]
    assert sum(map(len, deciles)) == len(set().union(*deciles))
