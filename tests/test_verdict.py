"""The one statistics module: the ratio of two cases' times, its interval, the verdict."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fileproto.results.verdict import (
    CONFIDENCE,
    MARGIN,
    Verdict,
    compare,
    judge,
    rounds_to_decide,
    t_cdf,
    t_quantile,
)

pytestmark = pytest.mark.smoke

times = st.lists(st.floats(0.001, 100.0), min_size=1, max_size=12)


@pytest.mark.parametrize(
    ("df", "p", "quantile"),
    # Student's t quantiles from the published tables.
    [(1, 0.975, 12.706), (2, 0.975, 4.303), (4, 0.975, 2.776), (10, 0.975, 2.228),
     (30, 0.975, 2.042), (3, 0.995, 5.841), (20, 0.95, 1.725), (1e6, 0.975, 1.960)],
)  # fmt: skip
def test_the_interval_rests_on_students_t(df: float, p: float, quantile: float) -> None:
    assert t_quantile(p, df) == pytest.approx(quantile, abs=1e-3)
    assert t_cdf(quantile, df) == pytest.approx(p, abs=1e-4)
    assert t_cdf(-quantile, df) == pytest.approx(1 - p, abs=1e-4)


def test_one_round_decides_nothing() -> None:
    assert rounds_to_decide() == 2
    result = compare([1.0], [9.0, 9.0, 9.0])
    assert result.verdict is Verdict.UNDECIDED
    assert (result.low, result.high) == (0.0, math.inf)
    assert result.ratio == pytest.approx(9.0)


def test_few_rounds_claim_little() -> None:
    # Two rounds a side 5% apart in each case: t(2 df) = 4.3 keeps the interval wide.
    result = compare([1.0, 1.05], [2.0, 2.1], confidence=0.95)
    assert result.low < 2.0 < result.high
    assert result.high / result.low > 1.3


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


def test_the_interval_holds_the_true_ratio_about_as_often_as_it_says() -> None:
    """Rounds drawn around a known ratio: the interval holds it about as often as its
    confidence says (a fixed seed: the check is of the method, not of luck)."""
    import random

    draw = random.Random(20261206)
    held = 0
    for _ in range(400):
        a = [math.exp(draw.gauss(0, 0.1)) for _ in range(4)]
        b = [1.5 * math.exp(draw.gauss(0, 0.1)) for _ in range(3)]
        result = compare(a, b)
        held += result.low <= 1.5 <= result.high
    assert CONFIDENCE - 0.03 <= held / 400 <= CONFIDENCE + 0.03
