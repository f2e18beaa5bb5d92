"""The estimator: each person's hour-of-week response profile, shrunk toward their channel's.

Per channel, a person's observations are their active hours per local hour of week, of
which those holding a response on the channel (a click, a tap, a read) weigh more in the
shape (``ENGAGEMENT_WEIGHT``: a click says more about when this person reads this channel
than a page view does), while the total stays the number of active hours, ``n``:
``x = (active + (W - 1) * responses) * n / (n + (W - 1) * r)``. Multiplying counts instead
would tell the model that one click was three independent observations, and make a person
with two clicks look as sure as one with six. The model is
Dirichlet-multinomial: each person's hour shares are drawn from a Dirichlet centred on
the channel's population profile ``pi`` with concentration ``alpha``, and their
observations are multinomial draws from those shares. The posterior mean is

    theta = (x + alpha * pi) / (n + alpha)

so a person with ``n`` much below ``alpha`` gets nearly the population's profile and one
with ``n`` far above it gets their own: ``n / (n + alpha)`` is the weight of their own
data. ``alpha`` (the prior strength, in observations) is fitted from the data by
maximising the Dirichlet-multinomial marginal likelihood of everyone's counts
(empirical Bayes; ``scipy.optimize.minimize_scalar`` over ``log alpha``, on a sample of
people with two or more observations, since one observation says nothing about spread),
over counts by hour of day, each person's seven days pooled: over 168 separate bins a
Dirichlet cannot see that Tuesday 19:00 and Wednesday 19:00 belong together, takes a daily
habit for noise and fits an alpha about ten times too strong (docs/sendtime.md).
People who keep to their own hours make the fitted ``alpha`` small, a population whose
members all behave alike makes it large.

Smoothing: hours are neighbours in a circle (Sunday 23:00 is next to Monday 00:00), and
someone who reads at 19:00 on Tuesdays probably reads around 19:00 on Wednesdays too.
Counts and the population profile are smoothed the same way before the posterior: a
Gaussian over neighbouring hours (``SMOOTH_SIGMA_HOURS``, wrap-around,
``scipy.ndimage.convolve1d``) mixed with the same hour's average over the week's days
(``DAY_POOL``). Both keep totals, so ``n`` is unchanged.

Hand-written here: the log-likelihood, because ``scipy.stats.dirichlet_multinomial``
takes dense integer counts, while these are weighted and sparse (a person has a few
dozen non-empty hours of 168), and the sparse sum over non-empty hours is what makes a
fit over 50,000 people take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from omnichannel.sendtime.evidence import HOURS_PER_WEEK

ENGAGEMENT_WEIGHT = 3.0
SMOOTH_SIGMA_HOURS = 1.0
DAY_POOL = 0.5
# The prior strength is searched between these (observations).
PRIOR_BOUNDS = (0.05, 100_000.0)
# Without two people with two observations each there is nothing to fit it on.
DEFAULT_PRIOR_STRENGTH = 10.0
FIT_SAMPLE = 50_000
CHUNK = 50_000

_OFFSETS = np.arange(-3, 4)
KERNEL = np.exp(-0.5 * (_OFFSETS / SMOOTH_SIGMA_HOURS) ** 2)
KERNEL /= KERNEL.sum()


@dataclass
class Counts:
    """Sparse counts: row ``i`` is ``values[i]`` observations of profile ``rows[i]`` at
    hour ``hours[i]``; sorted by row."""

    rows: np.ndarray
    hours: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, hours: np.ndarray, values: np.ndarray) -> Counts:
        order = np.argsort(rows, kind="stable")
        return cls(
            rows[order].astype(np.int64),
            hours[order].astype(np.int64),
            values[order].astype(np.float64),
        )

    def dense(self, start: int, stop: int) -> np.ndarray:
        """Profiles ``start..stop-1`` as a (stop - start, 168) matrix."""
        lo, hi = np.searchsorted(self.rows, [start, stop])
        flat = (self.rows[lo:hi] - start) * HOURS_PER_WEEK + self.hours[lo:hi]
        size = (stop - start) * HOURS_PER_WEEK
        counts = np.bincount(flat, weights=self.values[lo:hi], minlength=size)
        return counts.reshape(stop - start, HOURS_PER_WEEK)

    def per_row(self, profiles: int) -> np.ndarray:
        return np.bincount(self.rows, weights=self.values, minlength=profiles)

    def per_hour(self) -> np.ndarray:
        return np.bincount(self.hours, weights=self.values, minlength=HOURS_PER_WEEK)


def smooth(matrix: np.ndarray) -> np.ndarray:
    """Neighbouring hours (circular) and the same hour on other days share counts."""
    hourly = convolve1d(matrix, KERNEL, axis=-1, mode="wrap")
    days = hourly.reshape(*hourly.shape[:-1], 7, 24)
    daily = np.tile(days.mean(axis=-2), 7)
    return np.asarray((1 - DAY_POOL) * hourly + DAY_POOL * daily)


def population_profile(per_hour: np.ndarray) -> np.ndarray:
    """The channel's shares by hour of week: pooled counts, never exactly zero.

    Not smoothed: pooled over everyone it needs little, and a broadened mean would make
    everyone look more concentrated than the population, so the fitted prior strength
    would come out too weak.
    """
    total = float(per_hour.sum())
    if total <= 0:
        return np.full(HOURS_PER_WEEK, 1.0 / HOURS_PER_WEEK)
    shares = per_hour / total
    # A floor of a thousandth of the uniform share: lgamma(0) is infinite, and an hour
    # nobody used is unlikely, not impossible.
    shares = shares + 1e-3 / HOURS_PER_WEEK
    return np.asarray(shares / shares.sum())


def log_likelihood(
    alpha: float, nonzero: np.ndarray, at: np.ndarray, totals: np.ndarray, population: np.ndarray
) -> float:
    """Dirichlet-multinomial log-likelihood of everyone's counts, up to terms free of alpha.

    ``nonzero[i]`` is the count of a (person, hour) with observations, at hour ``at[i]``;
    ``totals`` is each person's total.
    """
    a = alpha * population[at]
    people = len(totals) * gammaln(alpha) - gammaln(totals + alpha).sum()
    return float(people + (gammaln(nonzero + a) - gammaln(a)).sum())


def fit_prior_strength(
    counts: Counts, profiles: int, population: np.ndarray, bins: int = HOURS_PER_WEEK
) -> float:
    """The alpha that makes everyone's counts most likely (empirical Bayes)."""
    totals = counts.per_row(profiles)
    eligible = np.flatnonzero(totals >= 2)
    if len(eligible) < 2:
        return DEFAULT_PRIOR_STRENGTH
    if len(eligible) > FIT_SAMPLE:
        eligible = np.sort(np.random.default_rng(0).choice(eligible, FIT_SAMPLE, replace=False))
    chosen = np.zeros(profiles, dtype=bool)
    chosen[eligible] = True
    keep = chosen[counts.rows]
    # Several rows of one (person, hour) are one count: activity and responses add up.
    key = counts.rows[keep] * bins + counts.hours[keep]
    keys, inverse = np.unique(key, return_inverse=True)
    nonzero = np.bincount(inverse, weights=counts.values[keep])
    at = keys % bins
    sample_totals = totals[eligible]
    lo, hi = np.log(PRIOR_BOUNDS[0]), np.log(PRIOR_BOUNDS[1])
    result = minimize_scalar(
        lambda t: -log_likelihood(float(np.exp(t)), nonzero, at, sample_totals, population),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(result.x))


def posterior(weighted: np.ndarray, population: np.ndarray, alpha: float) -> np.ndarray:
    """Each row's posterior mean shares over the 168 hours (rows of weighted counts)."""
    n = weighted.sum(axis=-1, keepdims=True)
    return np.asarray((smooth(weighted) + alpha * population) / (n + alpha))


@dataclass
class ChannelFit:
    """One channel's population profile and fitted prior strength."""

    channel: str
    population: np.ndarray
    prior_strength: float
    engagements: int

    @property
    def peak(self) -> int:
        return int(np.argmax(self.population))


@dataclass
class ChannelEstimate:
    """Per profile (by row): best hour of week, evidence, and the weight of their own data."""

    fit: ChannelFit
    best_hour: np.ndarray
    evidence: np.ndarray
    engagements: np.ndarray
    weight_own: np.ndarray


# Every active hour counts once; one holding a response counts ENGAGEMENT_WEIGHT times
# in the shape: ``active + (ENGAGEMENT_WEIGHT - 1) * responses`` (responses are among the
# active hours), rescaled to the number of active hours.
EXTRA = ENGAGEMENT_WEIGHT - 1


def mass_scale(active_n: np.ndarray, responses_n: np.ndarray) -> np.ndarray:
    """Per profile, what brings the weighted counts back to the number of observations."""
    weighted = active_n + EXTRA * responses_n
    return np.divide(
        active_n, weighted, out=np.ones_like(active_n, dtype=np.float64), where=weighted > 0
    )


def combine(active: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """Dense (rows, 168) counts of one channel: responses weighted, mass kept (module doc).

    ``active``: every active hour; ``responses``: those holding a response on the channel.
    """
    scale = mass_scale(active.sum(axis=-1), responses.sum(axis=-1))
    return np.asarray((active + EXTRA * responses) * scale[..., None])


def fit_channel(channel: str, active: Counts, responses: Counts, profiles: int) -> ChannelFit:
    scale = mass_scale(active.per_row(profiles), responses.per_row(profiles))
    # Unsorted: the population profile and the fit group by themselves.
    rows = np.concatenate([active.rows, responses.rows])
    hours = np.concatenate([active.hours, responses.hours])
    values = np.concatenate(
        [active.values * scale[active.rows], EXTRA * responses.values * scale[responses.rows]]
    )
    population = population_profile(np.bincount(hours, weights=values, minlength=HOURS_PER_WEEK))
    by_day_hour = Counts(rows, hours % 24, values)
    daily = population.reshape(7, 24).sum(axis=0)
    alpha = fit_prior_strength(by_day_hour, profiles, daily, bins=24)
    return ChannelFit(channel, population, alpha, int(responses.values.sum()))


def estimate(
    channels: dict[str, Counts], active: Counts, profiles: int
) -> Iterator[ChannelEstimate]:
    """Every profile's best hour on every channel, fitted and computed chunk by chunk.

    ``active``: every active hour; ``channels[c]``: the active hours holding a response on c.
    """
    n = active.per_row(profiles)
    for channel, responses in channels.items():
        fit = fit_channel(channel, active, responses, profiles)
        responses_n = responses.per_row(profiles)
        best = np.empty(profiles, dtype=np.int32)
        for start in range(0, profiles, CHUNK):
            stop = min(start + CHUNK, profiles)
            weighted = combine(active.dense(start, stop), responses.dense(start, stop))
            theta = posterior(weighted, fit.population, fit.prior_strength)
            best[start:stop] = np.argmax(theta, axis=1)
        yield ChannelEstimate(
            fit=fit,
            best_hour=best,
            evidence=np.rint(n).astype(np.int64),
            engagements=np.rint(responses_n).astype(np.int64),
            weight_own=n / (n + fit.prior_strength),
        )
