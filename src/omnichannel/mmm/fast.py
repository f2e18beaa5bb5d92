"""The fast fit: adstock and saturation hyperparameters by optimisation, effects by NNLS.

For hyperparameters ``theta`` (per channel: decay, half, shape) every channel's saturated
adstock ``h_c(t)`` in [0, 1] is fixed, and the target is linear in what is left:

    y[t] = baseline[t] @ gamma + sum_c top_c * h_c(t) + noise,     top_c >= 0

so for each ``theta`` the best ``gamma`` and ``top`` are one least-squares solve
(variable projection): the baseline is projected out exactly (QR), and the tops are a
non-negative ridge (NNLS on the system stacked with ``sqrt(ridge) * I``), non-negative
because spend does not lose sales here, ridged so an unsaturated channel cannot trade
an ever larger top against an ever larger half. What is left, the residual sum of
squares as a function of ``theta`` alone (3 numbers per channel), is minimised by
L-BFGS-B inside bounds from the best of a few dozen random points and a neutral start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls
from scipy.signal import lfilter

MAX_DECAY = {"day": 0.95, "week": 0.8}
HALF_RANGE = (0.1, 10.0)  # half, relative to the channel's typical steady adstock
SHAPE_RANGE = (0.5, 3.0)
TINY_LEVEL = 1e-12  # of the channel's mean positive spend: below it, the gradient's level is 0


@dataclass(frozen=True)
class Params:
    """One set of fitted parameters, channels in the data's order."""

    decay: np.ndarray  # (C,)
    half: np.ndarray  # (C,) adstock in spend units
    shape: np.ndarray  # (C,)
    top: np.ndarray  # (C,) effect per period at saturation, target units
    gamma: np.ndarray  # (K,) baseline coefficients
    unit: np.ndarray  # (3C,) the same hyperparameters in the optimiser's [0, 1] box
    loss: float


def adstock(spend: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Geometric carry-over per channel row: ``a[t] = x[t] + decay * a[t - 1]``."""
    out = np.empty_like(spend, dtype=float)
    for c in range(spend.shape[0]):
        out[c] = lfilter([1.0], [1.0, -float(decay[c])], spend[c])
    return out


def saturation(level: np.ndarray, half: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Hill in [0, 1] per channel row: ``a^s / (a^s + half^s)``."""
    s = shape[:, None]
    a = np.power(np.maximum(level, 0.0) / half[:, None], s)
    return np.asarray(a / (1.0 + a))


class Problem:
    """One fitting problem: spend, target and baseline on the rows a fit may use."""

    def __init__(
        self,
        spend: np.ndarray,
        target: np.ndarray,
        baseline: np.ndarray,
        *,
        rows: int,
        period: str,
        ridge: float,
    ) -> None:
        self.spend = np.asarray(spend, dtype=float)
        self.baseline = np.asarray(baseline, dtype=float)
        self.rows = rows
        self.channels = self.spend.shape[0]
        self.max_decay = MAX_DECAY[period]
        positive = [row[row > 0] for row in self.spend]
        self.scale = np.array([p.mean() if p.size else 1.0 for p in positive])
        self.ridge = ridge
        self.set_target(target)

    def set_target(self, target: np.ndarray) -> None:
        y = np.asarray(target, dtype=float)[: self.rows]
        self.sd = float(y.std()) or 1.0
        self.y = y / self.sd
        q, _ = np.linalg.qr(self.baseline[: self.rows])
        self.q = q
        self.y_resid = self.y - q @ (q.T @ self.y)
        self.root = np.sqrt(self.ridge * self.rows) * np.eye(self.channels)

    def hyper(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = np.clip(unit.reshape(3, self.channels), 0.0, 1.0)
        decay = u[0] * self.max_decay
        lo, hi = np.log(HALF_RANGE[0]), np.log(HALF_RANGE[1])
        half = np.exp(lo + u[1] * (hi - lo)) * self.scale / (1.0 - decay)
        shape = SHAPE_RANGE[0] + u[2] * (SHAPE_RANGE[1] - SHAPE_RANGE[0])
        return decay, half, shape

    def unit_of(self, decay: np.ndarray, half: np.ndarray, shape: np.ndarray) -> np.ndarray:
        """The box coordinates of given hyperparameters (clipped to the bounds)."""
        u0 = np.clip(decay / self.max_decay, 0.0, 1.0)
        relative = half * (1.0 - np.minimum(decay, self.max_decay)) / self.scale
        lo, hi = np.log(HALF_RANGE[0]), np.log(HALF_RANGE[1])
        u1 = np.clip((np.log(relative) - lo) / (hi - lo), 0.0, 1.0)
        u2 = np.clip((shape - SHAPE_RANGE[0]) / (SHAPE_RANGE[1] - SHAPE_RANGE[0]), 0.0, 1.0)
        return np.concatenate([u0, u1, u2])

    def features(self, unit: np.ndarray) -> np.ndarray:
        """(C, T) saturated adstock over every period (the tail too: carry-over runs on)."""
        decay, half, shape = self.hyper(unit)
        return saturation(adstock(self.spend, decay), half, shape)

    def solve(self, unit: np.ndarray) -> tuple[np.ndarray, float]:
        """Tops (in standardised target units) and the loss for hyperparameters ``unit``."""
        h = self.features(unit)[:, : self.rows].T
        h_resid = h - self.q @ (self.q.T @ h)
        a = np.vstack([h_resid, self.root])
        b = np.concatenate([self.y_resid, np.zeros(self.channels)])
        top, norm = nnls(a, b, maxiter=50 * self.channels)
        return top, float(norm**2) / self.rows

    def loss(self, unit: np.ndarray) -> float:
        return self.solve(unit)[1]

    def loss_and_grad(self, unit: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and its gradient in the box coordinates.

        By the envelope theorem the tops may be held at their optimum: the gradient is
        ``-2/n * top_c * residual @ dh_c/dtheta`` (the residual is already orthogonal
        to the baseline, so the projection of ``dh`` drops out).
        """
        decay, half, shape = self.hyper(unit)
        a = adstock(self.spend, decay)
        # A level left by a decay near 0 can be subnormal: a / half underflows to 0 while
        # a > 0, and 0 * log(0) or 0 * inf made the gradient NaN (and L-BFGS-B's point
        # with it). Levels under a millionth of a millionth of the channel's typical
        # spend are no level at all.
        a = np.where(a > TINY_LEVEL * self.scale[:, None], a, 0.0)
        # d adstock / d decay follows the same recursion, fed by the previous level.
        da = adstock(np.hstack([np.zeros((self.channels, 1)), a[:, :-1]]), decay)
        n = self.rows
        a, da = a[:, :n], da[:, :n]
        s = shape[:, None]
        k = half[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(a > 0, a / k, 0.0)
            z = np.power(ratio, s)
            h = z / (1.0 + z)
            dz = 1.0 / (1.0 + z) ** 2  # dh/dz
            dz_da = np.where(a > 0, s * z / a, 0.0)
            dz_dk = -s * z / k
            dz_ds = np.where(a > 0, z * np.log(np.where(a > 0, ratio, 1.0)), 0.0)
        h_resid = h.T - self.q @ (self.q.T @ h.T)
        top, norm = nnls(
            np.vstack([h_resid, self.root]),
            np.concatenate([self.y_resid, np.zeros(self.channels)]),
            maxiter=50 * self.channels,
        )
        residual = self.y_resid - h_resid @ top
        lo, hi = np.log(HALF_RANGE[0]), np.log(HALF_RANGE[1])
        dk_dd = half / (1.0 - decay)
        d_decay = dz * (dz_da * da + dz_dk * dk_dd[:, None]) * self.max_decay
        d_half = dz * dz_dk * (half * (hi - lo))[:, None]
        d_shape = dz * dz_ds * (SHAPE_RANGE[1] - SHAPE_RANGE[0])
        scale = -2.0 / n * top
        grad = np.concatenate(
            [
                scale * (d_decay @ residual),
                scale * (d_half @ residual),
                scale * (d_shape @ residual),
            ]
        )
        return float(norm**2) / n, grad

    def params(self, unit: np.ndarray, loss: float | None = None) -> Params:
        decay, half, shape = self.hyper(unit)
        top, value = self.solve(unit)
        h = self.features(unit)[:, : self.rows]
        rest = self.y - top @ h
        gamma, *_ = np.linalg.lstsq(self.baseline[: self.rows], rest, rcond=None)
        return Params(
            decay,
            half,
            shape,
            top * self.sd,
            gamma * self.sd,
            np.asarray(unit, dtype=float),
            value if loss is None else loss,
        )


def optimise(
    problem: Problem,
    *,
    start: np.ndarray | None = None,
    seed: int = 0,
    candidates: int = 48,
    starts: int = 2,
    maxiter: int = 200,
) -> Params:
    """The hyperparameters of least loss: from ``start`` alone when given (a warm refit),
    else from the best ``starts`` of ``candidates`` random points and a neutral point."""
    n = 3 * problem.channels
    bounds = [(0.0, 1.0)] * n
    if start is not None:
        points = [np.asarray(start, dtype=float)]
    else:
        rng = np.random.default_rng(seed)
        neutral = problem.unit_of(
            np.full(problem.channels, 0.4),
            problem.scale / 0.6,
            np.ones(problem.channels),
        )
        pool = [neutral, *rng.random((candidates, n))]
        scored = sorted(pool, key=problem.loss)
        points = scored[:starts]
    best: Params | None = None
    for point in points:
        found = minimize(
            problem.loss_and_grad,
            point,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter},
        )
        if best is None or found.fun < best.loss:
            best = problem.params(found.x, float(found.fun))
    assert best is not None
    return best


def predict(problem: Problem, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(C, T) contribution per channel and (T,) baseline over every period of the problem."""
    h = saturation(adstock(problem.spend, params.decay), params.half, params.shape)
    return params.top[:, None] * h, problem.baseline @ params.gamma
