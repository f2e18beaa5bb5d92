"""``fit``: a marketing-mix model of ``MMMData``, fast (the default) or Bayesian.

The fast fit (``fast.py``) is scored on a held-out tail first: fitted on the periods
before it, it predicts the tail (carry-over from the spend before the tail runs on)
and the MAPE and RMSE of that prediction are the out-of-sample error. Then it is fitted
again on every period, warm-started, and that fit is the point estimate. Its intervals
come from a moving-block bootstrap of the residuals: the fitted series plus blocks of
residuals drawn with replacement (blocks keep the residuals' autocorrelation), each
refitted by the same multi-start search as the point (not from the point: refits held
in its basin give intervals too narrow to contain it).

Example::

    from omnichannel.mmm.data import from_frame
    from omnichannel.mmm.fit import fit

    data = from_frame("sales.csv", date_col="date", target_col="sales",
                      spend_cols=["search", "social", "tv"])
    result = fit(data, holdout_days=56)
    result.report()["channels"][0]["roi"]      # {"value": ..., "interval": [lo, hi]}
    result.response_model()                    # for budget allocation
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from omnichannel.errors import ValidationError
from omnichannel.mmm import DEFAULT_BOOTSTRAP
from omnichannel.mmm.controls import baseline
from omnichannel.mmm.data import MMMData
from omnichannel.mmm.fast import Params, Problem, optimise, predict
from omnichannel.mmm.result import ChannelDraws, MMMFit, errors

METHODS = ("fast", "bayes")
DEFAULT_RIDGE = 1e-3


def holdout_periods(data: MMMData, holdout_days: int | None) -> int:
    """The held-out tail in periods: ``holdout_days`` (rounded to weeks), else 10%."""
    if holdout_days is None:
        return max(1, data.periods // 10)
    if holdout_days < 0:
        raise ValidationError("holdout_days", holdout_days, "0 or more days")
    periods = holdout_days if data.period == "day" else round(holdout_days / 7)
    if periods > data.periods // 2:
        raise ValidationError(
            "holdout_days",
            holdout_days,
            f"at most half the data ({data.periods // 2} {data.period}s)",
        )
    return int(periods)


def fit(
    data: MMMData,
    *,
    method: str = "fast",
    holdout_days: int | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    holidays: bool = True,
    ridge: float = DEFAULT_RIDGE,
    jobs: int = 1,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    value_per_unit: float | None = None,
) -> MMMFit:
    """Fit ``data`` (module docstring); ``bootstrap`` refits give the fast intervals,
    ``draws``/``tune``/``chains`` are the Bayesian sampler's."""
    if method not in METHODS:
        raise ValidationError("method", method, " or ".join(METHODS))
    if bootstrap < 0:
        raise ValidationError("bootstrap", bootstrap, "0 or more refits")
    if ridge < 0:
        raise ValidationError("ridge", ridge, "a penalty >= 0")
    tail = holdout_periods(data, holdout_days)
    if value_per_unit is None:
        value_per_unit = data.value_per_unit
    from threadpoolctl import threadpool_limits

    if method == "bayes":
        from omnichannel.mmm.bayes import fit_bayes

        return fit_bayes(
            data,
            holdout=tail,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            value_per_unit=value_per_unit,
        )
    # The solves are small: BLAS threads only contend (10x slower on a busy machine).
    with threadpool_limits(1):
        return _fit_fast(data, tail, bootstrap, seed, holidays, ridge, jobs, value_per_unit)


def _fit_fast(
    data: MMMData,
    tail: int,
    bootstrap: int,
    seed: int,
    holidays: bool,
    ridge: float,
    jobs: int,
    value_per_unit: float | None,
) -> MMMFit:
    started = time.perf_counter()
    design = baseline(data, holidays=holidays)
    rows = data.periods - tail

    def problem(n: int, target: np.ndarray) -> Problem:
        return Problem(data.spend, target, design.matrix, rows=n, period=data.period, ridge=ridge)

    holdout: dict[str, Any] = errors(np.array([]), np.array([]))
    start = None
    if tail > 0:
        training = problem(rows, data.target)
        trained = optimise(training, seed=seed)
        contribution, base = predict(training, trained)
        predicted = base + contribution.sum(axis=0)
        holdout = errors(data.target[rows:], predicted[rows:])
        holdout["first"] = str(data.dates[rows])
        start = trained.unit
    full = problem(data.periods, data.target)
    point = optimise(full, seed=seed) if start is None else _best_of(full, start, seed)
    contribution, base = predict(full, point)
    fitted = base + contribution.sum(axis=0)
    refits = _bootstrap(full, data.target - fitted, fitted, bootstrap, seed, jobs)
    return MMMFit(
        method="fast",
        period=data.period,
        target_name=data.target_name,
        channels=data.channels,
        dates=data.dates,
        target=data.target,
        spend=data.spend,
        point=_stack([point]),
        draws=_stack(refits),
        baseline=base,
        baseline_names=design.names,
        gamma=point.gamma,
        holdout=holdout,
        data=data.describe(),
        options={
            "holdout_periods": tail,
            "bootstrap": bootstrap,
            "seed": seed,
            "holidays": holidays,
            "ridge": ridge,
        },
        seconds=time.perf_counter() - started,
        value_per_unit=value_per_unit,
    )


def _best_of(problem: Problem, start: np.ndarray, seed: int) -> Params:
    """The full-data fit: warm from the training fit, kept against a fresh search."""
    warm = optimise(problem, start=start)
    fresh = optimise(problem, seed=seed + 1, starts=1)
    return warm if warm.loss <= fresh.loss else fresh


def _block_indices(periods: int, block: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, periods - block + 1, size=periods // block + 1)
    return np.concatenate([np.arange(s, s + block) for s in starts])[:periods]


def _bootstrap(
    problem: Problem,
    residuals: np.ndarray,
    fitted: np.ndarray,
    count: int,
    seed: int,
    jobs: int,
) -> list[Params]:
    if count == 0:
        return []
    block = 14 if problem.max_decay > 0.9 else 4  # two weeks of days, or four weeks
    block = min(block, max(1, problem.rows // 4))
    rng = np.random.default_rng([seed, 7919])
    targets = [fitted + residuals[_block_indices(problem.rows, block, rng)] for _ in range(count)]
    if jobs > 1:
        from joblib import Parallel, delayed

        found: list[Params] = Parallel(n_jobs=jobs)(
            delayed(_refit)(problem, y, [seed, 104729, k]) for k, y in enumerate(targets)
        )
        return found
    return [_refit(problem, y, [seed, 104729, k]) for k, y in enumerate(targets)]


def _refit(problem: Problem, target: np.ndarray, seed: list[int]) -> Params:
    """One resample's fit by the same multi-start search as the point's own.

    Warm-starting it at the point estimate (as this did once) keeps every refit in the
    point's basin: the spread then says nothing about the other optima the data allows,
    and on the demo a point estimate was seen outside its own interval.
    """
    problem.set_target(target)
    return optimise(problem, seed=int(np.random.default_rng(seed).integers(2**31)))


def _stack(found: list[Params]) -> ChannelDraws:
    if not found:
        return ChannelDraws(*(np.zeros((0, 0)) for _ in range(4)))
    return ChannelDraws(
        np.vstack([p.decay for p in found]),
        np.vstack([p.half for p in found]),
        np.vstack([p.shape for p in found]),
        np.vstack([p.top for p in found]),
    )
