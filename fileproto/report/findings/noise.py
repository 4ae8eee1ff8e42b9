"""How the run tells a real difference from noise, and two sets of cases compared by it.

- With several rounds per case, the two cases' rounds (their durations) must differ by
  the Mann-Whitney U test at p < 0.05, as benchstat decides;
- with one round there is nothing to test and no measure of noise in the data itself
  (cases that look alike, such as one client on different worker counts, can differ by
  a real effect), so a difference must reach a fixed ratio, :data:`NOISE_FLOOR`: single
  figures of this matrix move by about +/-30% between runs on the same machine (README,
  "Performance").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fileproto.report.cases import Case
from fileproto.results.verdict import ALPHA, mann_whitney_p, smallest_p

#: The ratio a difference must reach with one round (README "Performance": single
#: figures of this matrix move by about +/-30% between runs on the same machine).
NOISE_FLOOR = 1.5


@dataclass(frozen=True)
class Noise:
    """How this run tells a real difference from noise."""

    #: The fewest rounds any classic case has.
    rounds: int
    #: One round: the ratio a difference must reach.
    threshold: float
    #: Why that threshold (one round), or what the rank test can reach (several).
    basis: str

    @property
    def tested(self) -> bool:
        return self.rounds >= 2

    def verdict(self, a: Case, b: Case) -> int:
        """-1 if b is faster than a beyond noise, 1 if slower, 0 if not told apart."""
        ta, tb = a.result.avg_time_s, b.result.avg_time_s
        if ta <= 0 or tb <= 0:
            return 0
        if self.tested and len(a.durations) >= 2 and len(b.durations) >= 2:
            if mann_whitney_p(a.durations, b.durations) >= ALPHA:
                return 0
            return 1 if tb > ta else -1
        ratio = tb / ta
        if ratio >= self.threshold:
            return 1
        if ratio <= 1 / self.threshold:
            return -1
        return 0


def noise_of(cases: Sequence[Case]) -> Noise:
    rounds = min((max(len(c.durations), c.result.rounds or 1) for c in cases), default=1)
    if rounds >= 2:
        reach = smallest_p(rounds, rounds)
        basis = (
            f"{rounds} rounds per case: two cases differ only if their rounds' durations "
            f"differ by the Mann-Whitney U test at p < {ALPHA:g} (as benchstat decides)"
        )
        if reach >= ALPHA:
            basis += (
                f"; with {rounds} rounds the smallest p reachable is {reach:.2f}, so no "
                "difference can be told from noise: run at least 4 rounds "
                "(--fileproto-rounds 4)"
            )
        # The floor still applies to any pair of cases without rounds to rank.
        return Noise(rounds, NOISE_FLOOR, basis)
    basis = (
        f"One round per case, so no rank test: differences under {NOISE_FLOOR:g}x are held "
        "back, a fixed threshold (single-round figures of this matrix move by about +/-30% "
        'between runs on the same machine, README "Performance"). With one round the run '
        "has no measure of its own noise: cases that look alike (one client on different "
        "server-worker counts) can differ by a real effect. Run --fileproto-rounds 5 for a "
        "rank test."
    )
    return Noise(1, NOISE_FLOOR, basis)


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


@dataclass(frozen=True)
class Compared:
    """Pairs of cases (a, b): b's time over a's, and how many of b were faster, slower
    or not told apart beyond noise."""

    ratios: list[float]
    faster: int
    slower: int
    same: int

    @property
    def n(self) -> int:
        return len(self.ratios)

    def summary(self) -> str:
        parts = [f"slower in {self.slower}" if self.slower else "",
                 f"faster in {self.faster}" if self.faster else "",
                 f"within noise in {self.same}" if self.same else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) + f" of {self.n}"


def compare(noise: Noise, pairs: Iterable[tuple[Case, Case]]) -> Compared:
    ratios, verdicts = [], []
    for a, b in pairs:
        if a.result.avg_time_s > 0 and b.result.avg_time_s > 0:
            ratios.append(b.result.avg_time_s / a.result.avg_time_s)
            verdicts.append(noise.verdict(a, b))
    return Compared(ratios, verdicts.count(-1), verdicts.count(1), verdicts.count(0))
