"""The Mann-Whitney U test, as benchstat uses it to tell two sets of rounds apart.

Two-sided. Exact (the U distribution counted over every way to rank the two samples)
when both samples are small and there are no ties; otherwise the normal approximation
with the tie correction and a continuity correction. No dependency: the samples are a
handful of rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

#: benchstat's default significance level.
ALPHA = 0.05
#: Below this many values per sample the exact distribution is counted.
_EXACT_UP_TO = 25


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
    sample is empty or every value is the same."""
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
