"""The one statistics module: the ratio of two cases' times, its interval, the verdict."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fileproto.results.verdict import (
    MARGIN,
    Verdict,
    _rank_bound,
    compare,
    judge,
    mann_whitney_p,
    rounds_to_decide,
    smallest_p,
)

pytestmark = pytest.mark.smoke

times = st.lists(st.floats(0.001, 100.0), min_size=1, max_size=12)


@pytest.mark.parametrize(
    ("n", "critical_u"),
    # Two-sided 0.05 critical values of U for equal samples, from the published tables.
    [(4, 0), (5, 2), (6, 5), (7, 8), (8, 13), (9, 17), (10, 23), (20, 127)],
)
def test_the_interval_rests_on_the_published_critical_values(n: int, critical_u: int) -> None:
    # The interval runs from the (U + 1)-th smallest pairwise difference.
    assert _rank_bound(n, n, 0.05) == critical_u + 1


def test_too_few_rounds_decide_nothing() -> None:
    assert rounds_to_decide() == 4
    result = compare([1.0, 1.0, 1.0], [9.0, 9.0, 9.0])
    assert result.verdict is Verdict.UNDECIDED
    assert (result.low, result.high) == (0.0, math.inf)
    assert result.ratio == pytest.approx(9.0)


def test_a_clear_slowdown_is_slower_with_the_true_ratio_inside() -> None:
    a = [1.00, 1.05, 0.97, 1.02, 0.99]
    b = [2.0 * t for t in (1.01, 0.98, 1.03, 1.00, 0.96)]
    result = compare(a, b)
    assert result.verdict is Verdict.SLOWER
    assert result.low <= 2.0 <= result.high
    assert result.rounds == (5, 5)
    back = compare(b, a)
    assert back.verdict is Verdict.FASTER
    assert back.ratio == pytest.approx(1 / result.ratio)


def test_alike_cases_are_the_same_within_the_margin() -> None:
    a = [1.00, 1.01, 0.99, 1.02, 0.98, 1.00]
    b = [1.01, 0.99, 1.00, 1.02, 0.99, 1.01]
    assert compare(a, b).verdict is Verdict.SAME


def test_an_interval_across_a_bound_is_undecided() -> None:
    # About 1.1x apart, with rounds spread wider than the margin.
    a = [1.0, 1.2, 0.9, 1.1]
    b = [1.1, 1.3, 1.0, 1.25]
    assert compare(a, b).verdict is Verdict.UNDECIDED


def test_the_verdict_reads_the_interval_against_the_margin() -> None:
    upper = 1 + MARGIN
    assert judge(upper * 1.01, 5.0) is Verdict.SLOWER
    assert judge(0.2, 1 / upper * 0.99) is Verdict.FASTER
    assert judge(1 / upper, upper) is Verdict.SAME
    assert judge(0.95, upper * 1.01) is Verdict.UNDECIDED
    assert judge(0.5, 2.0) is Verdict.UNDECIDED


def test_no_rounds_or_no_time_is_undecided() -> None:
    assert compare([], [1.0]).verdict is Verdict.UNDECIDED
    assert compare([0.0, 1.0, 1.0, 1.0], [1.0] * 4).verdict is Verdict.UNDECIDED


@given(times, times, st.floats(0.01, 1000.0))
def test_units_do_not_matter_and_the_interval_holds_the_estimate(
    a: list[float], b: list[float], scale: float
) -> None:
    result = compare(a, b)
    scaled = compare([t * scale for t in a], [t * scale for t in b])
    assert scaled.verdict is result.verdict
    assert scaled.ratio == pytest.approx(result.ratio, rel=1e-6)
    assert result.low <= result.ratio * (1 + 1e-9)
    assert result.ratio <= result.high * (1 + 1e-9)


@given(times, times)
def test_swapping_the_sides_mirrors_the_verdict(a: list[float], b: list[float]) -> None:
    mirror = {
        Verdict.FASTER: Verdict.SLOWER,
        Verdict.SLOWER: Verdict.FASTER,
        Verdict.SAME: Verdict.SAME,
        Verdict.UNDECIDED: Verdict.UNDECIDED,
    }
    assert compare(b, a).verdict is mirror[compare(a, b).verdict]


def test_the_rank_test_is_exact_for_small_samples() -> None:
    assert mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert mann_whitney_p([1, 3, 5, 7], [2, 4, 6, 8]) > 0.5
    assert smallest_p(3, 3) == pytest.approx(0.1)
