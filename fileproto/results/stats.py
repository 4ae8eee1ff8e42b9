"""The statistics of a case's timed rounds, computed exactly as pytest-benchmark does.

pytest-benchmark writes these fields under each benchmark's ``stats`` and
``pytest-benchmark compare`` shows them. The files fileproto writes itself (the stress
CLI, the plugin under pytest-xdist) must hold the same numbers pytest-benchmark would
have computed, whether or not it is installed: so its method is kept here, once
(quartiles by Wikipedia's "Method 3" for an odd count and "Method 2" for an even one,
Tukey fences at 1.5 IQR, sample standard deviation). A test checks it against
pytest-benchmark's own ``Stats`` on the same data.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

#: pytest-benchmark's ``Stats.fields``, in its order.
FIELDS = (
    "min",
    "max",
    "mean",
    "stddev",
    "rounds",
    "median",
    "iqr",
    "q1",
    "q3",
    "iqr_outliers",
    "stddev_outliers",
    "outliers",
    "ld15iqr",
    "hd15iqr",
    "ops",
    "total",
)


class Stats:
    """Statistics of one benchmark's durations (seconds per round)."""

    def __init__(self, data: Sequence[float]) -> None:
        if not data:
            raise ValueError("no durations to describe")
        self.data = list(data)
        self.sorted_data = sorted(self.data)
        self.rounds = len(self.data)
        self.total = sum(self.data)
        self.min = min(self.data)
        self.max = max(self.data)
        self.mean = statistics.mean(self.data)
        self.stddev: float = statistics.stdev(self.data) if self.rounds > 1 else 0
        self.median = statistics.median(self.data)
        self.q1 = self._q1()
        self.q3 = self._q3()
        self.iqr = self.q3 - self.q1

    def _q1(self) -> float:
        rounds, data = self.rounds, self.sorted_data
        if rounds == 1:
            return data[0]
        if rounds % 2:  # Method 3
            n, q = rounds // 4, rounds % 4
            if q == 1:
                return 0.25 * data[n - 1] + 0.75 * data[n]
            return 0.75 * data[n] + 0.25 * data[n + 1]
        return statistics.median(data[: rounds // 2])  # Method 2

    def _q3(self) -> float:
        rounds, data = self.rounds, self.sorted_data
        if rounds == 1:
            return data[0]
        if rounds % 2:  # Method 3
            n, q = rounds // 4, rounds % 4
            if q == 1:
                return 0.75 * data[3 * n] + 0.25 * data[3 * n + 1]
            return 0.25 * data[3 * n + 1] + 0.75 * data[3 * n + 2]
        return statistics.median(data[rounds // 2 :])  # Method 2

    @property
    def stddev_outliers(self) -> int:
        """Rounds more than one standard deviation from the mean."""
        low, high = self.mean - self.stddev, self.mean + self.stddev
        return sum(1 for value in self.data if value < low or value > high)

    @property
    def iqr_outliers(self) -> int:
        """Rounds beyond Tukey's fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR)."""
        low, high = self.q1 - 1.5 * self.iqr, self.q3 + 1.5 * self.iqr
        return sum(1 for value in self.data if value < low or value > high)

    @property
    def outliers(self) -> str:
        return f"{self.stddev_outliers};{self.iqr_outliers}"

    @property
    def ld15iqr(self) -> float:
        """The lowest round within 1.5 IQR under Q1."""
        if self.rounds == 1:
            return self.data[0]
        return self.sorted_data[bisect_left(self.sorted_data, self.q1 - 1.5 * self.iqr)]

    @property
    def hd15iqr(self) -> float:
        """The highest round within 1.5 IQR over Q3."""
        if self.rounds == 1:
            return self.data[0]
        return self.sorted_data[bisect_right(self.sorted_data, self.q3 + 1.5 * self.iqr) - 1]

    @property
    def ops(self) -> float:
        return self.rounds / self.total if self.total else 0

    def as_dict(self, iterations: int = 1) -> dict[str, Any]:
        """The ``stats`` object of a benchmark in pytest-benchmark's JSON."""
        stats: dict[str, Any] = {name: getattr(self, name) for name in FIELDS}
        stats["data"] = list(self.data)
        stats["iterations"] = iterations
        return stats
