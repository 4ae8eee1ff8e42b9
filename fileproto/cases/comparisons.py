"""Which comparisons of the classic matrix the suite states, and their verdicts.

Every comparison holds the load fixed (operation, file size, client workers) and
changes one thing of the server:

- its workers: for each model, 1 vs 5, 5 vs 50 and 1 vs 50 (``a`` has fewer);
- its model: for each worker count, each pair of kinds in the registry's order
  (thread vs process, and any other kind that ran).

Over the 108 classic cases that is 162 comparisons. The plugin adds rounds where one is
still open (docs/statistics.md), and the report states them; both read this list, and
the verdicts come from the one statistics module (:mod:`fileproto.results.verdict`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from fileproto.results import LoadResult
from fileproto.results.verdict import Comparison, compare
from fileproto.server.registry import KINDS

Axis = Literal["workers", "kind"]
#: A load: operation, file size (MiB) and client workers.
Load = tuple[str, float, int]


@dataclass(frozen=True)
class Pair:
    """Two cases of one load that differ in one thing (``axis``); ids as the matrix
    names them (``thread-UPLOAD-10MiB-c50-w1``)."""

    a: str
    b: str
    axis: Axis
    load: Load


@dataclass(frozen=True)
class Stated:
    """A pair and its verdict: what b is against a."""

    pair: Pair
    comparison: Comparison

    def as_dict(self) -> dict[str, object]:
        """One entry of the benchmark JSON's ``fileproto_verdicts``."""
        return {"a": self.pair.a, "b": self.pair.b, "axis": self.pair.axis,
                **self.comparison.as_dict()}  # fmt: skip


def load_of(result: LoadResult) -> Load:
    return (result.operation, float(result.size_mib), result.client_workers)


def _kind_rank(kind: str) -> tuple[int, str]:
    names = list(KINDS)
    return (names.index(kind), "") if kind in names else (len(names), kind)


def classic(results: Iterable[LoadResult]) -> list[LoadResult]:
    """The cases comparisons are made of: classic ones (no scenario) on our servers."""
    return [r for r in results if r.scenario is None and isinstance(r.server_workers, int)]


def pairs(results: Iterable[LoadResult]) -> list[Pair]:
    """The comparisons among these cases, load by load, in a fixed order."""
    by_load: dict[Load, dict[tuple[str, int], str]] = {}
    for result in classic(results):
        assert isinstance(result.server_workers, int)
        cell = (result.server_kind, result.server_workers)
        by_load.setdefault(load_of(result), {})[cell] = result.id
    out: list[Pair] = []
    for load in sorted(by_load):
        cells = by_load[load]
        kinds = sorted({kind for kind, _ in cells}, key=_kind_rank)
        workers = sorted({count for _, count in cells})
        for kind in kinds:
            for few, many in itertools.combinations(workers, 2):
                if (kind, few) in cells and (kind, many) in cells:
                    out.append(Pair(cells[kind, few], cells[kind, many], "workers", load))
        for count in workers:
            for first, second in itertools.combinations(kinds, 2):
                if (first, count) in cells and (second, count) in cells:
                    out.append(Pair(cells[first, count], cells[second, count], "kind", load))
    return out


def stated(results: Sequence[LoadResult], rounds: Mapping[str, Sequence[float]]) -> list[Stated]:
    """Every comparison among ``results`` with its verdict, from each case's round
    times (``rounds`` by case id; a case without any is undecided)."""
    return [
        Stated(pair, compare(rounds.get(pair.a, ()), rounds.get(pair.b, ())))
        for pair in pairs(results)
    ]
