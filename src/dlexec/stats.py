"""How sure a number is: the mean of a value over its seed runs with a 95% interval, the paired
difference of two values run with the same seeds, and the test-sample (Wilson) interval of an
accuracy measured on n examples. scipy computes the quantiles.

What each interval covers, as the pages say it:
- `mean_interval`: where the mean over seeds lies (Student's t with n - 1 degrees of freedom).
  It narrows as seeds are added; it does not say where one more run will land.
- `paired_interval`: the mean of per-seed differences a - b, each pair run with the same seed
  offset, so that what the seed shares (initial weights, data order) cancels.
- `prediction_interval`: where one more run will land, 95 times in 100, if runs vary as the
  recorded ones do (mean ± t · sd · sqrt(1 + 1/n)): what a reader's re-run can give.
- `wilson_interval`: the test set's sampling error for one run's accuracy: another test set of
  the same size, drawn from the same distribution, would give a value in it 95 times in 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """`center` with a 95% interval [`low`, `high`] from `n` runs (or n test examples)."""

    center: float
    low: float
    high: float
    n: int
    sd: float = 0.0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high

    def within(self, margin: float) -> bool:
        """Does the whole interval lie within ±margin of zero (a declared tie)?"""
        return -margin <= self.low and self.high <= margin


def t_quantile(degrees: int) -> float:
    """Student's t at (1 + LEVEL) / 2, from scipy.special: scipy.stats, about a second to
    import, is then imported only where a page shows a Wilson interval."""
    from scipy.special import stdtrit

    return float(stdtrit(degrees, (1 + LEVEL) / 2))


def mean_interval(values: Sequence[float]) -> Interval:
    """The mean of `values` (two at least) with its 95% t interval."""
    n = len(values)
    if n < 2:
        raise ValueError(f"an interval needs two runs at least, not {n}")
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, sd)


def prediction_interval(values: Sequence[float]) -> Interval:
    """Where one more run lands, from `values` (two at least): the 95% prediction interval."""
    mean = mean_interval(values)
    n = len(values)
    half = t_quantile(n - 1) * mean.sd * math.sqrt(1 + 1 / n)
    return Interval(mean.center, mean.center - half, mean.center + half, n, mean.sd)


def paired_interval(a: Mapping[int, float], b: Mapping[int, float]) -> Interval:
    """The mean difference a - b over the seeds both were run with, with its 95% t interval."""
    seeds = sorted(set(a) & set(b))
    return mean_interval([a[seed] - b[seed] for seed in seeds])


def wilson_interval(proportion: float, n: int) -> Interval:
    """The Wilson score interval of a proportion measured on `n` examples (Wilson 1927; without
    continuity correction, as scipy.stats.binomtest(...).proportion_ci(method="wilson"), which
    tests/test_stats.py holds it equal to). Written out from the normal quantile: importing
    scipy.stats cost every build that shows one about a second."""
    from scipy.special import ndtri

    z = float(ndtri((1 + LEVEL) / 2))
    p = round(proportion * n) / n  # the count of successes it was measured as
    scale = 1 + z * z / n
    center = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(proportion, max(0.0, center - half), min(1.0, center + half), n)
