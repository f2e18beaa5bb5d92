"""The Bayesian fit (the ``omnichannel[bayes]`` extra) answers in the fast fit's shape."""

from __future__ import annotations

import numpy as np
import pytest

from omnichannel.mmm.fit import fit
from omnichannel.mmm.simulate import simulate

pytest.importorskip("pymc_marketing", reason="the Bayesian fit is the omnichannel[bayes] extra")
pytestmark = pytest.mark.slow(seconds=300)


def test_posterior_draws_become_the_intervals_and_the_response_models_draws() -> None:
    sim = simulate(days=120, channels=2, seed=3)
    result = fit(sim.data, method="bayes", draws=40, tune=40, chains=1, holdout_days=14)
    report = result.report()
    assert report["method"] == "bayes" and "posterior draws, 40 draws" in report["interval"]
    assert [r["channel"] for r in report["channels"]] == sim.truth["channels"]
    for row in report["channels"]:
        low, high = row["roi"]["interval"]
        assert 0 <= low <= high and np.isfinite(row["roi"]["value"])
        assert 0 <= row["decay"]["value"] <= 1
    assert report["fit"]["holdout"]["periods"] == 14
    model = result.response_model()
    assert len(model.draws) == 40 and model.channels == tuple(sim.truth["channels"])
