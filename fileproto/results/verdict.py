"""How two sets of timed rounds are told apart: the one statistics module of every verdict
the suite states (the report's comparisons of cases, and the comparison of two runs).

The method (docs/statistics.md says why):

- Rounds are compared as ratios: the logarithms of the two sets of round times are
  compared, so "b takes 1.3x a's time" means the same for a 10 ms case and a 10 s one.
- The estimate of the ratio b/a is the Hodges-Lehmann shift of the logarithms: the median
  of every pairwise difference ``log b_j - log a_i``. It is the estimator that goes with
  the Mann-Whitney U test (benchstat's test), and one wild round barely moves it.
- Its interval is the distribution-free one that inverts the Mann-Whitney test (Moses):
  two order statistics of those pairwise differences, chosen from the exact U
  distribution for small samples and its normal approximation for large ones. It assumes
  only that the rounds of a case are alike and independent, and that one case's times
  are the other's scaled by a factor; rounds of the cases compared are interleaved so
  that drift on a shared machine falls on both alike.
- The verdict reads the interval against a margin M: ``slower`` when the whole interval
  is above 1 + M, ``faster`` when it is below 1 / (1 + M), ``same`` when it lies within
  [1 / (1 + M), 1 + M], and ``undecided`` when it straddles a bound. The three decided
  verdicts claim disjoint truths, so two runs whose intervals both hold the true ratio
  cannot disagree: that is what makes the verdict hold from one run to the next.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from statistics import NormalDist, median

#: The confidence of every interval, and so of every decided verdict.
CONFIDENCE = 0.95
#: Ratios within [1 / (1 + MARGIN), 1 + MARGIN] count as the same time.
MARGIN = 0.10
#: The method, as a results file states it.
METHOD = (
    "ratio of the times per client of two cases' rounds: Hodges-Lehmann estimate with the "
    "distribution-free interval of the Mann-Whitney test; faster or slower when the whole "
    "interval lies beyond the margin, same when it lies within it, else undecided"
)
#: Below this many rounds per side the U distribution is counted exactly.
_EXACT_UP_TO = 25


class Verdict(StrEnum):
    """What b is against a."""

    FASTER = "faster"
    SLOWER = "slower"
    SAME = "same"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Comparison:
    """b against a: the ratio of b's time to a's, its interval and the verdict."""

    #: Hodges-Lehmann estimate of b's time over a's.
    ratio: float
    #: The interval of that ratio at ``confidence`` (0 and inf when too few rounds).
    low: float
    high: float
    verdict: Verdict
    #: Rounds of a and of b.
    rounds: tuple[int, int]
    confidence: float = CONFIDENCE
    margin: float = MARGIN

    @property
    def decided(self) -> bool:
        return self.verdict is not Verdict.UNDECIDED

    def as_dict(self) -> dict[str, object]:
        """The JSON form: the ratio, its interval and the verdict, with what they rest on."""
        return {
            "verdict": str(self.verdict),
            "ratio": self.ratio,
            "low": self.low if math.isfinite(self.low) else None,
            "high": self.high if math.isfinite(self.high) else None,
            "rounds": list(self.rounds),
            "confidence": self.confidence,
            "margin": self.margin,
        }


def compare(
    a: Sequence[float],
    b: Sequence[float],
    margin: float = MARGIN,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """b's rounds against a's (times, seconds: positive). With no round on either side
    the ratio is nan and the verdict undecided."""
    rounds = (len(a), len(b))
    if not a or not b or min(a) <= 0 or min(b) <= 0:
        nan = math.nan
        return Comparison(nan, 0.0, math.inf, Verdict.UNDECIDED, rounds, confidence, margin)
    x = [math.log(v) for v in a]
    y = [math.log(v) for v in b]
    shift, low, high = shift_interval(x, y, confidence)
    return Comparison(
        math.exp(shift),
        math.exp(low),
        math.exp(high),
        judge(math.exp(low), math.exp(high), margin),
        rounds,
        confidence,
        margin,
    )


def judge(low: float, high: float, margin: float = MARGIN) -> Verdict:
    """The verdict an interval of a ratio supports against the margin."""
    upper, lower = 1.0 + margin, 1.0 / (1.0 + margin)
    if low > upper:
        return Verdict.SLOWER
    if high < lower:
        return Verdict.FASTER
    if lower <= low and high <= upper:
        return Verdict.SAME
    return Verdict.UNDECIDED


def shift_interval(
    x: Sequence[float], y: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Hodges-Lehmann estimate of the shift from x to y, and its distribution-free interval
    at ``confidence`` (-inf, inf when the samples are too small to reach it)."""
    diffs = sorted(yj - xi for xi in x for yj in y)
    estimate = median(diffs)
    k = _rank_bound(len(x), len(y), 1.0 - confidence)
    if k < 1:
        return estimate, -math.inf, math.inf
    return estimate, diffs[k - 1], diffs[len(diffs) - k]


def _rank_bound(n: int, m: int, alpha: float) -> int:
    """The largest k with P(U <= k - 1) <= alpha / 2 under the null: the interval runs
    from the k-th smallest pairwise difference to the k-th largest. 0: none reaches it."""
    if n <= _EXACT_UP_TO and m <= _EXACT_UP_TO:
        total = math.comb(n + m, n)
        cumulative, k = 0, 0
        while k < n * m:
            cumulative += _count(k, n, m)
            if cumulative / total > alpha / 2 + 1e-12:
                break
            k += 1
        return k
    z = NormalDist().inv_cdf(1 - alpha / 2)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    return max(0, k)


def rounds_to_decide(confidence: float = CONFIDENCE) -> int:
    """The fewest rounds per side (equal sides) for which any interval exists."""
    n = 1
    while _rank_bound(n, n, 1.0 - confidence) < 1:
        n += 1
    return n


# -- the Mann-Whitney U test itself ------------------------------------------------------

#: benchstat's significance level, for the p-values the report may show beside a verdict.
ALPHA = 0.05


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@cache
def _count(u: int, n: int, m: int) -> int:
    """How many arrangements of n and m values give a U of exactly u."""
    if u < 0 or u > n * m:
        return 0
    if n == 0 or m == 0:
        return 1 if u == 0 else 0
    # The largest value belongs to the first sample (it beats all m) or to the second.
    return _count(u - m, n - 1, m) + _count(u, n, m - 1)


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value that a and b come from the same distribution; 1.0 when either
    sample is empty or every value is the same. Exact without ties for small samples,
    else the normal approximation with the tie and continuity corrections."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 1.0
    ranks = _ranks([*a, *b])
    u = sum(ranks[:n]) - n * (n + 1) / 2
    tied = len(set([*a, *b])) < n + m
    if not tied and n <= _EXACT_UP_TO and m <= _EXACT_UP_TO:
        low = min(u, n * m - u)
        total = math.comb(n + m, n)
        tail = sum(_count(k, n, m) for k in range(int(low) + 1))
        return min(1.0, 2 * tail / total)
    counts: dict[float, int] = {}
    for value in (*a, *b):
        counts[value] = counts.get(value, 0) + 1
    size = n + m
    tie_term = sum(t**3 - t for t in counts.values()) / (size * (size - 1))
    variance = n * m / 12 * ((size + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (abs(u - n * m / 2) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def smallest_p(n: int, m: int) -> float:
    """The smallest p-value samples of these sizes can reach (no overlap at all)."""
    if n == 0 or m == 0:
        return 1.0
    return min(1.0, 2 / math.comb(n + m, n))
