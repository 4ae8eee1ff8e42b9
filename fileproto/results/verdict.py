"""How two sets of timed rounds are told apart: the one statistics module of every verdict
the suite states (the report's comparisons of cases, and the comparison of two runs).

The method (docs/statistics.md says why):

- Rounds are compared as ratios: the logarithms of the two sets of round times are
  compared, so "b takes 1.3x a's time" means the same for a 10 ms case and a 10 s one.
- The estimate of the ratio b/a is the ratio of the geometric means of the rounds.
- Its interval is Welch's: the difference of the mean logarithms, with the Student t
  quantile at the Welch-Satterthwaite degrees of freedom. It uses the spread the rounds
  show, so a tight case is decided in a few rounds and a noisy one needs more; with
  two rounds a side the quantile is 4.3 or more, so little is claimed from few rounds.
  Rounds of the cases compared are interleaved so that drift on a shared machine falls
  on both alike.
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
from statistics import fmean, variance

#: The confidence of every interval, and so of every decided verdict. Ninety, not
#: ninety-five: the largest cases can afford three rounds in a run of minutes, and two
#: runs of one commit agreed on every comparison both decided at either level
#: (docs/statistics.md, "Choosing the numbers").
CONFIDENCE = 0.90
#: Cases of one run: ratios within [1 / (1 + MARGIN), 1 + MARGIN] count as the same time.
#: Wide enough that one client's 10 ms transfers, whose rounds spread by 15-20% here,
#: can be told the same on 1, 5 or 50 workers; a reader choosing a model for a load
#: still sees each case's own ratio beside its mark.
MARGIN = 0.25
#: Two runs compared (fileproto compare): NEW within this of OLD is unchanged. Narrower
#: than MARGIN, for a gate that sees a 15% slowdown; two back-to-back runs of one commit
#: here flagged 1 to 3 of 108 cases at it.
CHANGE_MARGIN = 0.15
#: The method, as a results file states it.
METHOD = (
    "ratio of the times per client of two cases' rounds: the ratio of their geometric "
    "means with Welch's t interval of the difference of their logarithms; faster or slower "
    "when the whole interval lies beyond the margin, same when it lies within it, else "
    "undecided"
)


class Verdict(StrEnum):
    """What b is against a."""

    FASTER = "faster"
    SLOWER = "slower"
    SAME = "same"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Comparison:
    """b against a: the ratio of b's time to a's, its interval and the verdict."""

    #: b's time over a's: the ratio of the geometric means of their rounds.
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
    """b's rounds against a's (times, seconds: positive). With fewer than two rounds on
    a side there is no interval: the verdict is undecided."""
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
    """The difference of the means from x to y and Welch's interval of it at
    ``confidence`` (-inf, inf with fewer than two values on a side)."""
    n, m = len(x), len(y)
    estimate = fmean(y) - fmean(x)
    if n < 2 or m < 2:
        return estimate, -math.inf, math.inf
    vx, vy = variance(x) / n, variance(y) / m
    se = math.sqrt(vx + vy)
    if se == 0:
        return estimate, estimate, estimate
    df = (vx + vy) ** 2 / (vx**2 / (n - 1) + vy**2 / (m - 1))
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    return estimate, estimate - half, estimate + half


def rounds_to_decide(confidence: float = CONFIDENCE) -> int:
    """The fewest rounds per side for which an interval exists (any confidence)."""
    return 2


# -- Student's t, for any degrees of freedom ---------------------------------------------


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (df > 0)."""
    tail = 0.5 * _beta_regularized(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p, for 0.5 <= p < 1: bisection on the CDF (bounded: 200
    halvings of an interval that holds every quantile below p = 1 - 1e-12)."""
    if not 0.5 <= p < 1:
        raise ValueError(f"p must be in [0.5, 1), got {p}")
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p and high < 1e12:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _beta_regularized(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function (continued fraction, modified
    Lentz; the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps it converging fast)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - _beta_regularized(b, a, 1 - x)
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
        + b * math.log1p(-x)
    )  # fmt: skip
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for step in range(1, 500):
        for numerator in (
            step * (b - step) * x / ((a + 2 * step - 1) * (a + 2 * step)),
            -(a + step) * (a + b + step) * x / ((a + 2 * step) * (a + 2 * step + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return math.exp(log_front) * fraction / a
