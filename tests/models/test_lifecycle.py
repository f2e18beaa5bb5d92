"""The model lifecycle's rules on a real home: the first version is put in use, a worse
one is refused, and a version in use that can no longer serve does not block."""

from __future__ import annotations

import pytest

from omnichannel.errors import NotFoundError, ValidationError
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
