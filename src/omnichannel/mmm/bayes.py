"""The Bayesian fit: the same model through PyMC-Marketing (``pip install omnichannel[bayes]``).

PyMC-Marketing's ``MMM`` with ``GeometricAdstock(normalize=False)`` and ``HillSaturation``
is our model: it scales each channel by its largest spend and the target by its largest
value, so in our units ``decay = alpha``, ``half = kappa * channel max``, ``shape = slope``
and ``top = beta * target max``. Our baseline columns (trend, seasonality, moments, the
user's controls) are its control columns. It is sampled once (NUTS) on the periods before
the held-out tail; its posterior draws become ``MMMFit.draws`` and their means the point,
so every figure and the ``ResponseModel`` read the same as for the fast fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from omnichannel.errors import OmniError
from omnichannel.mmm.controls import baseline
from omnichannel.mmm.data import MMMData
from omnichannel.mmm.result import ChannelDraws, MMMFit, errors

MAX_KEPT_DRAWS = 200
LAG_PERIODS = {"day": 28, "week": 8}


class BayesUnavailableError(OmniError):
    """PyMC-Marketing is not installed: the Bayesian fit is the optional extra."""


def available() -> bool:
    try:
        import pymc_marketing  # noqa: F401
    except ImportError:
        return False
    return True


def fit_bayes(
    data: MMMData,
    *,
    holdout: int,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    seed: int = 0,
    value_per_unit: float | None = None,
) -> MMMFit:
    """Sample the posterior of ``data``'s model on the periods before the held-out tail."""
    try:
        from pymc_extras.prior import Prior
        from pymc_marketing.mmm import MMM, GeometricAdstock, HillSaturation
    except ImportError as exc:
        raise BayesUnavailableError(
            f"the Bayesian fit needs PyMC-Marketing ({exc}): pip install 'omnichannel[bayes]'"
            " (Python 3.11 gets pymc-marketing 0.19; 1.x needs Python 3.12)"
        ) from exc
    started = time.perf_counter()
    design = baseline(data)
    controls = design.matrix[:, 1:]  # PyMC-Marketing has its own intercept
    control_names = [f"c{k}" for k in range(controls.shape[1])]
    channels = [f"x{c}" for c in range(len(data.channels))]
    rows = data.periods - holdout
    # Hill's gradient in its slope is log(x) * x^slope: NaN at an adstock of exactly 0
    # (days before a channel's first flight), which NUTS carries into alpha and fails on.
    floor = 1e-6 * data.spend.max(axis=1, keepdims=True)
    frame = pd.DataFrame((data.spend + floor).T, columns=channels)
    frame.insert(0, "date", pd.to_datetime(data.dates))
    for k, name in enumerate(control_names):
        frame[name] = controls[:, k]
    model = MMM(
        date_column="date",
        channel_columns=channels,
        control_columns=control_names,
        # Beta(2, 3) rather than the default Beta(1, 3): a draw at alpha = 0.0 (underflow
        # of the default's mass at zero) fails the adstock's 0 < alpha check mid-chain.
        adstock=GeometricAdstock(
            l_max=LAG_PERIODS[data.period],
            normalize=False,
            priors={"alpha": Prior("Beta", alpha=2, beta=3, dims="channel")},
        ),
        saturation=HillSaturation(),
    )
    model.fit(
        frame.iloc[:rows],
        pd.Series(data.target[:rows]),
        draws=draws,
        tune=tune,
        chains=chains,
        cores=min(chains, 2),
        random_seed=seed,
        progressbar=False,
    )
    posterior = model.fit_result
    channel_max = np.asarray(model.channel_transformer["scaler"].scale_, dtype=float)
    target_max = float(model.get_target_transformer()["scaler"].scale_.item())

    def samples(name: str) -> np.ndarray:
        values = posterior[name].to_numpy()
        return values.reshape(-1, *values.shape[2:])

    kept = _thin(samples("adstock_alpha").shape[0], seed)
    drawn = ChannelDraws(
        decay=samples("adstock_alpha")[kept],
        half=samples("saturation_kappa")[kept] * channel_max,
        shape=samples("saturation_slope")[kept],
        top=samples("saturation_beta")[kept] * target_max,
    )
    point = ChannelDraws(*(v.mean(axis=0, keepdims=True) for v in _fields(drawn)))
    intercept = float(samples("intercept").mean())
    gamma = samples("gamma_control").mean(axis=0)
    base = (intercept + controls @ gamma) * target_max
    result = MMMFit(
        method="bayes",
        period=data.period,
        target_name=data.target_name,
        channels=data.channels,
        dates=data.dates,
        target=data.target,
        spend=data.spend,
        point=point,
        draws=drawn,
        baseline=base,
        baseline_names=design.names,
        gamma=np.concatenate([[intercept * target_max], gamma * target_max]),
        holdout=errors(np.array([]), np.array([])),
        data=data.describe(),
        options={
            "holdout_periods": holdout,
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "seed": seed,
            "max_lag": LAG_PERIODS[data.period],
        },
        value_per_unit=value_per_unit,
    )
    if holdout > 0:
        predicted = base + result.contributions().sum(axis=0)
        result.holdout = errors(data.target[rows:], predicted[rows:])
        result.holdout["first"] = str(data.dates[rows])
    sampled: Any = model.idata
    result.options["divergences"] = int(sampled.sample_stats["diverging"].sum())
    result.seconds = time.perf_counter() - started
    return result


def _thin(count: int, seed: int) -> np.ndarray:
    if count <= MAX_KEPT_DRAWS:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, MAX_KEPT_DRAWS, replace=False))


def _fields(d: ChannelDraws) -> tuple[np.ndarray, ...]:
    return (d.decay, d.half, d.shape, d.top)


def describe() -> dict[str, Any]:
    """Which PyMC-Marketing is installed, for reports."""
    if not available():
        return {"installed": False}
    import pymc_marketing

    return {"installed": True, "version": pymc_marketing.__version__}
