"""The answer first: which model and server-worker count suits which load, as one
compact table at the top of every output (HTML, Markdown, terminal).

A row is a load (operation, file size, clients); a column a model and its server
workers. Each cell is that case's time per client relative to the best case of its
row, marked with what the statistics module (:mod:`fileproto.results.verdict`) says of
the cell against the best: the best itself, the same within the margin, slower with
confidence, or not decided. The best of a row is the case with the lowest geometric mean
time per client over its rounds, and a cell's number is the statistics module's ratio
(its geometric mean over the best's), so no number is below 1 and the table, the
findings and `fileproto compare` state one ratio for one pair of cases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from fileproto.cases.comparisons import Stated, classic
from fileproto.report.findings.index import model_of
from fileproto.report.findings.words import times
from fileproto.report.order import (
    kind_order,
    kinds_not_run,
    not_run_text,
    operation_rank,
    size_text,
)
from fileproto.results import LoadResult
from fileproto.results.verdict import (
    CONFIDENCE,
    MARGIN,
    Comparison,
    Verdict,
    compare,
    rounds_to_decide,
)

#: A column of the table: a model's name and its server workers.
Column = tuple[str, int]
#: A row: operation, file size (MiB), clients.
Load = tuple[str, float, int]

#: Where the method behind every mark is written down.
STATISTICS_DOC = "docs/statistics.md"


@dataclass(frozen=True)
class Mark:
    """What a cell's verdict against its row's best says, as a symbol and in words."""

    key: str
    symbol: str
    words: str


BEST = Mark("best", "★", "the best for its load (lowest geometric mean time per client)")
SAME = Mark("same", "≈", "the same as the best, within the margin")
SLOWER = Mark("slower", "", "slower than the best")
OPEN = Mark("open", "?", "not decided: too few rounds, or too close to the margin to tell")
#: Each verdict of a cell against the best. Faster cannot come (the best has the lowest
#: geometric mean, so the ratio is at least 1); the map stays total all the same.
MARKS = {Verdict.SAME: SAME, Verdict.SLOWER: SLOWER, Verdict.UNDECIDED: OPEN,
         Verdict.FASTER: OPEN}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    result: LoadResult
    #: Time per client over the best's (1 for the best).
    ratio: float
    mark: Mark
    #: The cell against the best (None for the best itself).
    comparison: Comparison | None = None

    @property
    def text(self) -> str:
        """The mark and the ratio: "★ 1.00", "≈ 1.04", "? 1.31", "2.75"."""
        number = f"{self.ratio:.2f}" if math.isfinite(self.ratio) else "-"
        return f"{self.mark.symbol} {number}".strip()


@dataclass(frozen=True)
class Row:
    load: Load
    best: LoadResult
    cells: dict[Column, Cell]

    @property
    def label(self) -> tuple[str, str, str]:
        op, size, clients = self.load
        return op, size_text(int(size) if size.is_integer() else size), str(clients)


@dataclass(frozen=True)
class Answer:
    columns: list[Column]
    rows: list[Row]
    confidence: float
    margin: float
    #: The fewest and the most rounds a case had.
    rounds: tuple[int, int]
    #: Registered models that did not run (their labels).
    not_run: list[str]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(model for model, _ in self.columns))

    def workers_of(self, model: str) -> list[int]:
        return [w for m, w in self.columns if m == model]

    def column_of(self, result: LoadResult) -> Column | None:
        for row in self.rows:
            for column, cell in row.cells.items():
                if cell.result is result:
                    return column
        return None

    def best_counts(self) -> list[tuple[Column, int]]:
        """How many loads each column is the best for, most first."""
        counts: dict[Column, int] = {}
        for row in self.rows:
            column = self.column_of(row.best)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], self.columns.index(kv[0])))


def _times(result: LoadResult) -> list[float]:
    return result.times_of_rounds() or ([result.avg_time_s] if result.avg_time_s > 0 else [])


def _settings(verdicts: Sequence[Stated]) -> tuple[float, float]:
    """The confidence and margin the run's verdicts were stated at (the module's own
    when there are none)."""
    if verdicts:
        first = verdicts[0].comparison
        return first.confidence, first.margin
    return CONFIDENCE, MARGIN


def _log_mean(times: Sequence[float]) -> float:
    """The mean logarithm of a case's round times: its geometric mean, as compare() ranks."""
    return fmean(math.log(t) for t in times)


def _row(load: Load, found: dict[Column, LoadResult], settings: tuple[float, float]) -> Row | None:
    timed = {column: r for column, r in found.items() if _times(r)}
    if not timed:
        return None
    best_column = min(timed, key=lambda c: _log_mean(_times(timed[c])))
    best = timed[best_column]
    confidence, margin = settings
    cells: dict[Column, Cell] = {}
    for column, result in found.items():
        if column == best_column:
            cells[column] = Cell(result, 1.0, BEST)
            continue
        if column not in timed:
            # Every client failed: no time to compare.
            cells[column] = Cell(result, math.nan, OPEN)
            continue
        comparison = compare(_times(best), _times(result), margin, confidence)
        cells[column] = Cell(result, comparison.ratio, MARKS[comparison.verdict], comparison)
    return Row(load, best, cells)


def answer(results: Sequence[LoadResult], verdicts: Sequence[Stated] = ()) -> Answer:
    """The table of the classic cases among ``results``; ``verdicts`` (the run's) give
    the confidence and margin every cell is judged at."""
    cases = classic(results)
    dispatches: dict[str, set[str]] = {}
    for r in cases:
        dispatches.setdefault(r.server_kind, set()).add(r.dispatch or "")
    kinds = list(kind_order())

    def model_rank(r: LoadResult) -> tuple[int, str, str]:
        kind = r.server_kind
        return (kinds.index(kind) if kind in kinds else len(kinds), kind, r.dispatch or "")

    by_load: dict[Load, dict[Column, LoadResult]] = {}
    columns: set[tuple[tuple[int, str, str], str, int]] = set()
    for r in cases:
        assert isinstance(r.server_workers, int)
        column = (model_of(r, dispatches), r.server_workers)
        columns.add((model_rank(r), *column))
        by_load.setdefault((r.operation, float(r.size_mib), r.client_workers), {})[column] = r
    ordered = [(model, workers) for _, model, workers in sorted(columns)]
    settings = _settings(verdicts)
    rows = [
        row
        for load in sorted(by_load, key=lambda x: (operation_rank(x[0]), x[1], x[2]))
        if (row := _row(load, by_load[load], settings)) is not None
    ]
    not_run = kinds_not_run(cases)
    counts = [len(_times(r)) for r in cases] or [0]
    return Answer(ordered, rows, *settings, (min(counts), max(counts)), not_run)


# -- what every rendering says beside the table -------------------------------------------


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def legend(a: Answer) -> str:
    """What the cells and their marks mean, in one paragraph."""
    rounds = (
        f"{a.rounds[0]} round{'' if a.rounds[0] == 1 else 's'} per case"
        if a.rounds[0] == a.rounds[1]
        else f"{a.rounds[0]} to {a.rounds[1]} rounds per case"
    )
    return (
        "Each cell: the case's time per client over the best time per client for its load "
        f"(its row). {BEST.symbol}\u00a0the best; {SAME.symbol}\u00a0the same as the best "
        f"within {_percent(a.margin)}; {OPEN.symbol}\u00a0not decided; no mark: slower than "
        "the best. "
        f"Each verdict at {_percent(a.confidence)} confidence, from {rounds} "
        f"({STATISTICS_DOC})."
    )


def column_text(column: Column) -> str:
    model, workers = column
    return f"{model} on {workers} worker{'' if workers == 1 else 's'}"


def summary(a: Answer) -> str:
    """Which column is the best for how many loads, in one sentence."""
    counts = a.best_counts()
    if not counts:
        return ""
    n = len(a.rows)
    if n == 1:
        return f"The best: {column_text(counts[0][0])}."
    if len(counts) == 1:
        return f"The best, load by load: {column_text(counts[0][0])} for all {n} loads."
    parts = [f"{column_text(c)} for {k}" for c, k in counts]
    return f"The best, load by load: {'; '.join(parts)} of the {n} loads."


def decided_line(a: Answer) -> str:
    """How firmly: in how many loads every other case is slower than the best."""
    contested = [r for r in a.rows if len(r.cells) > 1]
    if not contested:
        return ""
    m = len(contested)
    clear = sum(1 for r in contested if all(c.mark in (BEST, SLOWER) for c in r.cells.values()))
    confidence = f"at {_percent(a.confidence)} confidence"
    if clear == m:
        where = "every load" if m > 1 else "its load"
        return f"In {where}, every other case is slower than the best ({confidence})."
    if clear:
        return (
            f"In {clear} of the {m} loads every other case is slower than the best "
            f"({confidence}); in the other {m - clear}, some case is the same within "
            f"{_percent(a.margin)} or not decided."
        )
    need = rounds_to_decide(a.confidence)
    text = "In no load is every other case decided slower than the best"
    low, high = a.rounds
    if low < need:
        have = f"every case has {low}" if low == high else f"some cases have {low}"
        return text + f": a verdict needs at least {need} rounds per case, and {have}."
    return text + f": some case is the same within {_percent(a.margin)} or not decided."


def not_run_line(a: Answer) -> str:
    """The models that did not run and the option that adds them; "" if all ran."""
    return not_run_text(a.not_run)


def cell_title(cell: Cell, best: LoadResult) -> str:
    """A cell's case and figures, for a tooltip."""
    r = cell.result
    own = f"{r.id}: {r.avg_time_s:.3f} s per client"
    if cell.comparison is None:
        return own + (" (the best for this load)" if cell.mark is BEST else "")
    c = cell.comparison
    interval = (
        f"{times(c.low)} to {times(c.high)}"
        if math.isfinite(c.high) and c.low > 0
        else "no interval (too few rounds)"
    )
    return (
        f"{own}; {times(cell.ratio)} the best's ({best.id}), interval {interval} at "
        f"{_percent(c.confidence)}: {c.verdict}"
    )
