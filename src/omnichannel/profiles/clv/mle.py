"""Maximum likelihood on positive parameters, shared by the BG/NBD and Gamma-Gamma fits.

The optimiser works on log-parameters so every step stays in the valid region without
bounds, and the objective is the *mean* negative log-likelihood so the tolerances mean
the same for 200 customers as for 2 million.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from omnichannel.errors import OmniError

FloatArray = npt.NDArray[np.float64]


__all__ = ["ArrayLike", "FitError", "FloatArray", "Optimum", "maximise"]


class FitError(OmniError):
    """The likelihood could not be maximised (the data do not identify the model)."""


@dataclass(frozen=True, slots=True)
class Optimum:
    params: FloatArray
    log_likelihood: float
    iterations: int


def maximise(
    log_likelihood: Callable[[FloatArray], float],
    start: FloatArray,
    *,
    n: float,
    model: str,
) -> Optimum:
    """Maximise ``log_likelihood(params)`` over positive ``params``, starting at ``start``.

    BFGS does the climbing; a Nelder-Mead polish from its answer removes the small
    residual error of its finite-difference gradient, which matters when the result is
    compared to published figures at the third decimal.
    """

    def objective(log_params: FloatArray) -> float:
        with np.errstate(all="ignore"):
            value = log_likelihood(np.exp(log_params))
        # An overflow far from the optimum must read as "bad", not crash the search.
        return -value / n if np.isfinite(value) else 1e300

    x0 = np.log(np.asarray(start, dtype=float))
    first = minimize(objective, x0, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    polish = minimize(
        objective,
        first.x,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 20000, "maxfev": 40000},
    )
    best = polish if polish.fun <= first.fun else first
    if not np.isfinite(best.fun) or best.fun >= 1e300 or not np.all(np.isfinite(best.x)):
        raise FitError(f"the {model} likelihood could not be maximised on these data")
    params = np.exp(best.x)
    return Optimum(params, float(-best.fun * n), int(first.nit) + int(polish.nit))
