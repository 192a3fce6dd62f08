"""The intervals' arithmetic against scipy's own implementations (the engine writes the Wilson
bounds out so that a build need not import scipy.stats)."""

from __future__ import annotations

import pytest

from dlexec.stats import LEVEL, wilson_interval


@pytest.mark.parametrize("n", [1, 7, 100, 2000, 10_000])
@pytest.mark.parametrize("proportion", [0.0, 0.013, 0.5, 0.7487, 0.9875, 1.0])
def test_the_wilson_interval_is_scipys(proportion: float, n: int):
    stats = pytest.importorskip("scipy.stats")
    successes = round(proportion * n)
    expected = stats.binomtest(successes, n).proportion_ci(LEVEL, method="wilson")
    interval = wilson_interval(proportion, n)
    assert interval.low == pytest.approx(expected.low, abs=1e-12)
    assert interval.high == pytest.approx(expected.high, abs=1e-12)
    assert interval.center == proportion and interval.n == n
