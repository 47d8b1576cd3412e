"""Attribute-sampling plans, the Clopper-Pearson upper limit and the md5-rank selection key.

Contract section 6: the sample size for confidence C, tolerable rate P and expected rate E is the
smallest n with ``BinomCDF(k; n, P) <= 1 - C`` where ``k = ceil(n * E)``; the population only caps
n (``verify``). ``sample-size --population N`` uses the hypergeometric plan ``HypergeomCDF(k; N,
D, n)`` with ``D = ceil(P * N)`` deviations in the population instead.

This is how the AICPA Audit Sampling guide builds its tables A-1 (5 % risk of overreliance) and
A-2 (10 %); the plans here reproduce them (see tests/test_sampling.py) with one exception, where
the table is off by one and the contract's definition wins: A-2, tolerable 7 %, expected 3.25 %
and 3.5 % prints 112 (4), but BinomCDF(4; 112, 0.07) = 0.1012 > 0.10, so the exact plan is 113.

Rates are taken as the decimals the user wrote (``Fraction(repr(x))``), so that ``ceil(n * E)``
and ``ceil(P * N)`` are exact: in binary floating point 400 * 0.035 = 14.000000000000002 and
0.07 * 100 = 7.000000000000001, which would add a phantom deviation (A-2, 5 %/3.5 %: 400 (14)).
"""

from __future__ import annotations

import hashlib
import math
import operator
import secrets
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "SamplePlan",
    "plan_sample",
    "upper_deviation_rate",
    "selection_key",
    "draw_seed",
    "describe_plan",
]

_MAX_N = 10**9  # a plan larger than this is no sampling plan; P - E is too small


@dataclass(frozen=True)
class SamplePlan:
    size: int
    allowed_deviations: int
    confidence: float
    tolerable_rate: float
    expected_rate: float
    population: int | None
    method: str  # "binomial" | "hypergeometric"


def _decimal(x: float) -> Fraction:
    """The decimal the user wrote: Fraction(0.035) is 0.03500000000000000333..., this is 7/200."""
    return Fraction(repr(float(x)))


def _ceil(n: int, rate: Fraction) -> int:
    return -((-n * rate.numerator) // rate.denominator)


def _validate(confidence, tolerable_rate, expected_rate, population) -> None:
    for name, value in (("confidence", confidence), ("tolerable rate", tolerable_rate),
                        ("expected rate", expected_rate)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number, got {value!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if not 0 < tolerable_rate < 1:
        raise ValueError(f"tolerable rate must be between 0 and 1 (exclusive), got {tolerable_rate}")
    if not 0 <= expected_rate < tolerable_rate:
        raise ValueError("expected rate must be at least 0 and below the tolerable rate "
                         f"({tolerable_rate}), got {expected_rate}")
    if population is not None and (isinstance(population, bool) or not isinstance(population, int)
                                   or population < 1):
        raise ValueError(f"population must be an integer of at least 1, got {population!r}")


def _smallest_n(cdf, alpha: float, rate: Fraction, n_max: int) -> int | None:
    """Smallest n in 1..n_max with cdf(ceil(n * rate), n) <= alpha, or None.

    For a fixed k the CDF falls as n grows, and k = ceil(n * rate) is constant on the run
    n in (k-1)/rate .. k/rate. So test each run at its last n (vectorised, a batch of runs at a
    time) and bisect inside the first run that passes.
    """
    def bisect(lo: int, hi: int, k: int) -> int:  # cdf(k, hi) <= alpha; find the first such n
        while lo < hi:
            mid = (lo + hi) // 2
            if cdf(k, mid) <= alpha:
                hi = mid
            else:
                lo = mid + 1
        return lo

    if rate == 0:  # k = 0 throughout: one run, open-ended; grow the bracket geometrically
        hi = 1
        while cdf(0, hi) > alpha:
            if hi >= n_max:
                return None
            hi = min(2 * hi, n_max)
        return bisect(max(1, hi // 2), hi, 0)

    k0, batch = 1, 256  # k = 0 only at n = 0
    while True:
        ks = np.arange(k0, k0 + batch)
        first = [(int(k) - 1) * rate.denominator // rate.numerator + 1 for k in ks]
        last = [min(int(k) * rate.denominator // rate.numerator, n_max) for k in ks]
        ok = [lo <= hi for lo, hi in zip(first, last)]
        values = cdf(ks, np.array(last))
        for i in np.flatnonzero((values <= alpha) & np.array(ok)):
            return bisect(first[i], last[i], int(ks[i]))
        if last[-1] >= n_max:
            return None
        k0 += batch
        batch *= 2


def _stats():
    # scipy.stats takes 1.6 s to import: imported on first use, and only by the hypergeometric
    # plan (`sample-size --population`); verify's binomial plan and limit need _special alone.
    from scipy import stats

    return stats


def _special():
    # scipy.special (a third of scipy.stats' import time) holds the very ufuncs scipy.stats'
    # binom.cdf and beta.ppf evaluate (tests/test_sampling.py checks they agree bit for bit);
    # verify warms it up in the background while DuckDB stages the records.
    from scipy.special import _ufuncs

    return _ufuncs


def _binom_cdf(k, n, p):
    """scipy.stats.binom.cdf(k, n, p) for integers 0 <= k and 1 <= n: 1 where k >= n."""
    k, n = np.asarray(k), np.asarray(n)
    return np.where(k >= n, 1.0, _special()._binom_cdf(np.minimum(k, n), n, p))


def plan_sample(confidence: float, tolerable_rate: float, expected_rate: float = 0.0,
                population: int | None = None, hypergeometric: bool = False) -> SamplePlan:
    """The attribute-sampling plan of contract section 6 (binomial unless asked otherwise)."""
    _validate(confidence, tolerable_rate, expected_rate, population)
    if hypergeometric and population is None:
        raise ValueError("the hypergeometric plan needs the population size")
    alpha = 1.0 - confidence
    rate = _decimal(expected_rate)
    if hypergeometric:
        defects = _ceil(population, _decimal(tolerable_rate))
        stats = _stats()
        n = _smallest_n(lambda k, n: stats.hypergeom.cdf(k, population, defects, n),
                        alpha, rate, population)
        n = population if n is None else n  # no smaller plan: examine every record
    else:
        n = _smallest_n(lambda k, n: _binom_cdf(k, n, tolerable_rate), alpha, rate, _MAX_N)
        if n is None:
            raise ValueError(f"no sample of at most {_MAX_N} records reaches this plan: "
                             "the expected rate is too close to the tolerable rate")
        if population is not None:
            n = min(n, population)
    return SamplePlan(size=n, allowed_deviations=_ceil(n, rate), confidence=confidence,
                      tolerable_rate=tolerable_rate, expected_rate=expected_rate,
                      population=population,
                      method="hypergeometric" if hypergeometric else "binomial")


def upper_deviation_rate(deviations: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper limit of the deviation rate at `confidence`."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if n < 0 or not 0 <= deviations <= max(n, 0):
        raise ValueError(f"need 0 <= deviations <= n, got {deviations} of {n}")
    if n == 0 or deviations == n:
        return 1.0
    return float(_special()._beta_ppf(confidence, deviations + 1, n - deviations))  # scipy.stats.beta.ppf


def selection_key(seed: int, key) -> str:
    """md5 of "<seed>:<key>" as lower-case hex; integer keys in decimal, string keys as given."""
    if isinstance(seed, bool) or isinstance(key, bool):
        raise TypeError("seed and record key must not be booleans")
    text_key = key if isinstance(key, str) else str(operator.index(key))
    text = f"{operator.index(seed)}:{text_key}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def draw_seed() -> int:
    """A fresh seed in [0, 2**31 - 1]."""
    return secrets.randbelow(2**31)


def describe_plan(plan: SamplePlan) -> list[str]:
    """Lines for the CLI; the last one is the sample size alone."""
    lines = [
        f"method: {plan.method}",
        f"confidence: {plan.confidence:g}",
        f"tolerable deviation rate: {plan.tolerable_rate:g}",
        f"expected deviation rate: {plan.expected_rate:g}",
    ]
    if plan.population is not None:
        lines.append(f"population: {plan.population}")
    lines.append(f"allowed deviations: {plan.allowed_deviations}")
    lines.append(f"sample size: {plan.size}")
    lines.append(str(plan.size))
    return lines
