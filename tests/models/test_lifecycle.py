"""The model lifecycle's rules on a real home: the first version is put in use, a worse
one is refused, and a version in use that can no longer serve does not block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.models.registry import _FACTORIES, ModelKind, TrainedModel, register
from omnichannel.models.service import ModelWorseError
from omnichannel.platform import Platform
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow(seconds=30)


def test_promotion_refuses_a_worse_version_unless_the_one_in_use_cannot_serve(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("lifecycle") / "home"
    small_demo_home(tmp_path_factory, home)
    with Platform.open(home) as platform:
        with pytest.raises(NotFoundError, match="omni models train recommendations"):
            platform.recommendations.for_profile("p_anyone")
        first = platform.models.train("recommendations", "content", by="test")
        second = platform.models.train("recommendations", "popularity", by="test")
        assert first["status"] == "active" and second["status"] == "trained"
        assert second["score"] < first["score"]  # popularity finds less on the demo
        with pytest.raises(ModelWorseError):
            platform.models.promote("recommendations", second["version"])
        (home / first["artefact"]).unlink()  # the version in use can no longer serve
        promoted = platform.models.promote("recommendations", second["version"])
        statuses = {v["version"]: v["status"] for v in platform.models.list("recommendations")}
        with pytest.raises(ValidationError, match="model='churn'"):
            platform.models.list("churn")
        with pytest.raises(NotFoundError, match="no version 9"):
            platform.models.show("recommendations", 9)
    assert promoted["status"] == "active"
    assert statuses == {first["version"]: "retired", second["version"]: "active"}


def test_a_version_without_a_score_neither_replaces_nor_holds_a_scored_one(
    tmp_path: Path,
) -> None:
    """An MMM fitted without a held-out tail has no score: it is refused in words (not a
    500), and a version in use without a score gives way to one that has it."""
    scores = iter([0.25, None, 0.5])

    def train(_platform: Platform, _algorithm: str | None, _options: Any) -> TrainedModel:
        return TrainedModel(algorithm="mean", artefact={}, params={}, metrics={"mae": next(scores)})

    register(
        "test-unscored",
        lambda: ModelKind("test-unscored", "a test kind", ("mean",), train, "mae", False),
    )
    try:
        with Platform.open(tmp_path / "home") as platform:
            first = platform.models.train("test-unscored")
            second = platform.models.train("test-unscored")
            assert first["status"] == "active"
            with pytest.raises(ModelWorseError, match="v2 is not promoted: it has no mae"):
                platform.models.promote("test-unscored", second["version"])
            platform.models.promote("test-unscored", first["version"])
            third = platform.models.train("test-unscored")  # mae 0.5: worse than 0.25
            with pytest.raises(ModelWorseError, match=r"0\.5000, worse than 0\.2500"):
                platform.models.promote("test-unscored", third["version"])
    finally:
        _FACTORIES.pop("test-unscored", None)
